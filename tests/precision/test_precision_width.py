"""precision-check follows COLUMNS: at 60 and at 100 columns no line of the report is wider,
and what a narrow console leaves out is said (every k-th column), never cut mid-word."""

from __future__ import annotations

import pytest

from gaussdiag.precision import CellClass

from .refs import ILL, ROOT, run_cli

NOT_PD = ROOT / "configs" / "covariance_not_pd.yaml"

FORMS = {
    "normal-map": ["--sigma-n", "25", "--z-n", "25"],
    "normal-softplus": ["--quick", "--param", "softplus"],
    "mvn": ["--dist", "mvn"],
    "point": ["--point", "loc=0,scale=0.01,x=10"],
    "specs": [str(ILL), str(NOT_PD)],
}


@pytest.mark.parametrize("columns", [60, 100])
@pytest.mark.parametrize("form", list(FORMS))
def test_no_line_is_wider_than_columns(capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch, columns: int,
                                       form: str) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    code, out, err = run_cli(capsys, *FORMS[form])
    assert code in (0, 1), err
    wide = [line for line in out.splitlines() if len(line) > columns]
    assert not wide, "\n".join(wide)
    assert "…" not in out  # nothing cut short to fit


def test_a_narrow_map_says_which_columns_it_shows(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """26 z columns of 3 characters after a 9-character label need 87 columns: at 100 all
    are drawn, at 60 every 2nd, and the heading says so."""
    monkeypatch.setenv("COLUMNS", "100")
    _, wide, _ = run_cli(capsys, *FORMS["normal-map"])
    assert "every 2nd z" not in wide
    header = next(line for line in wide.splitlines() if line.lstrip().startswith("=0"))
    assert len(header.split()) == 26
    monkeypatch.setenv("COLUMNS", "60")
    _, narrow, _ = run_cli(capsys, *FORMS["normal-map"])
    assert "every 2nd z" in narrow
    header = next(line for line in narrow.splitlines() if line.lstrip().startswith("=0"))
    assert len(header.split()) == 13


def test_a_narrow_findings_table_becomes_a_list(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the findings table would squeeze its sentences, each finding is a line of
    quantity, class and cells, then its words: the same findings either way."""
    def findings(out: str) -> list[str]:
        return [c.value for c in CellClass if c.value in out]

    monkeypatch.setenv("COLUMNS", "120")
    _, wide, _ = run_cli(capsys, "--dist", "mvn", "--quick")
    monkeypatch.setenv("COLUMNS", "60")
    _, narrow, _ = run_cli(capsys, "--dist", "mvn", "--quick")
    assert "| quantity" in wide and "| quantity" not in narrow
    assert "scale_tril: inaccurate," in narrow
    assert findings(wide) == findings(narrow)
