"""precision-check as a CI gate: --fail-under and invalid sides exit 1, and are documented."""

from __future__ import annotations

import pytest

from gaussdiag.cli import main

FIXED = "configs/mvn_diag_fixed.yaml"
NOT_PD = "configs/covariance_not_pd.yaml"


def test_fail_under_gates_on_the_fewest_digits(capsys: pytest.CaptureFixture[str]) -> None:
    # float32 holds log10(2**24) ~ 7.2 digits, so no float32 quantity of a generic point can
    # keep 16; and every quantity keeps at least 0 digits when its relative error is below 1,
    # as it is for this well-conditioned spec (its worst is a few digits, far from 0).
    assert main(["precision-check", FIXED]) == 0
    assert main(["precision-check", FIXED, "--fail-under", "0"]) == 0
    capsys.readouterr()
    assert main(["precision-check", FIXED, "--fail-under", "16"]) == 1
    assert "--fail-under 16" in capsys.readouterr().err
    assert main(["precision-check", FIXED, "--fail-under", "16", "--json", "-"]) == 1


def test_an_invalid_side_exits_1() -> None:
    assert main(["precision-check", NOT_PD]) == 1


def test_fail_under_without_spec_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["precision-check", "--quick", "--fail-under", "3"]) == 2
    assert capsys.readouterr().err.startswith("error: --fail-under gates the sides")


def test_help_documents_the_gate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["precision-check", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--fail-under" in out and "1 with SPEC files, a side is invalid" in out
