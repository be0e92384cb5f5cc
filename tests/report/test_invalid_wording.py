"""An invalid-parameters report names its side once and says torch's words once, in every text
format, for Python sides and YAML sides alike."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch.distributions import Independent, MultivariateNormal, Normal

import gaussdiag
from gaussdiag.cli import main
from gaussdiag.report import render_github, render_markdown, render_run
from gaussdiag.results import RunReport, SpecReport
from tests.conftest import run

# torch's own words for each failure: the report must say each exactly once
CONSTRAINT = "to satisfy the constraint PositiveDefinite()"
CHOLESKY = "The factorization could not be completed"

NOT_PD = torch.tensor([[1.0, 5.0], [5.0, 1.0]])


def _normal(mean: torch.Tensor) -> Independent:
    return Independent(Normal(mean, torch.ones_like(mean)), 1)


def _covariance(mean: torch.Tensor) -> MultivariateNormal:
    return MultivariateNormal(mean, NOT_PD)


def _cholesky(mean: torch.Tensor) -> MultivariateNormal:
    return MultivariateNormal(mean, scale_tril=torch.linalg.cholesky(NOT_PD))


def _live(side: Callable[[torch.Tensor], object]) -> SpecReport:
    return gaussdiag.compare(side, _normal, params={"mean": torch.zeros(2)},
                             inputs={"x": torch.zeros(2)})


YAML_CHOLESKY = """
    version: 1
    params:
      loc: {shape: [2], init: zeros}
      m: {values: [[1.0, 5.0], [5.0, 1.0]]}
    inputs:
      x: {values: [0.0, 0.0]}
    a: {dist: MultivariateNormal, args: {loc: loc, scale_tril: cholesky(m)}}
    b: {dist: MultivariateNormal, args: {loc: loc, covariance_matrix: m}}
    at: x
"""

CASES = {
    "python-constraint": (lambda: _live(_covariance), CONSTRAINT),
    "python-cholesky": (lambda: _live(_cholesky), CHOLESKY),
    "yaml-cholesky": (lambda: run(YAML_CHOLESKY), CHOLESKY),
}


def _texts(report: SpecReport) -> dict[str, str]:
    from rich.console import Console

    one = RunReport((report,))
    console = Console(width=400, no_color=True, color_system=None, record=True)
    console.print(render_run(one))
    return {"table": console.export_text(), "markdown": render_markdown(one),
            "github": render_github(one)}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_side_and_torch_s_words_come_once(case: str) -> None:
    make, words = CASES[case]
    report = make()
    assert report.verdict == "invalid-parameters", report.explanation
    assert report.explanation.startswith("side a: "), report.explanation
    for fmt, text in _texts(report).items():
        assert not re.search(r"side a:\s+side a:", text), (fmt, text)
        assert text.count(words) == 1, (fmt, text)


def test_precision_check_says_torch_s_words_once(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "cholesky.yaml"
    spec.write_text(YAML_CHOLESKY.replace("\n    ", "\n"))
    main(["precision-check", str(spec)])
    out = " ".join(capsys.readouterr().out.split())  # the text wraps at the width
    assert out.count(CHOLESKY) == 1, out
