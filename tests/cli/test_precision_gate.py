"""precision-check as a CI gate: --fail-under and invalid sides exit 1, and are documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gaussdiag.cli import main

FIXED = "configs/mvn_diag_fixed.yaml"
NOT_PD = "configs/covariance_not_pd.yaml"
ROOT = Path(__file__).parents[2]


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


def _gd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gaussdiag", "precision-check", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.mark.parametrize("args", [
    ["--quick", "--sigma-n", "0"],
    ["--quick", "--z-n", "0"],
    ["--quick", "--dist", "mvn", "--cond-n", "0"],
], ids=["sigma-n", "z-n", "cond-n"])
def test_a_grid_of_zero_points_is_refused_as_a_negative_one_is(args: list[str]) -> None:
    r = _gd(*args)
    assert r.returncode == 2, r.stdout[-500:]
    assert r.stdout == "" and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(f"error: {args[-2]} must be between 2 and") and "found 0" in r.stderr


@pytest.mark.parametrize("digits", ["nan", "inf", "-inf"])
def test_fail_under_a_non_finite_number_is_refused(digits: str) -> None:
    r = _gd(FIXED, "--fail-under", digits)
    assert r.returncode == 2, r.stdout[-500:]
    assert r.stdout == "" and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("error: --fail-under takes a finite number of digits")
