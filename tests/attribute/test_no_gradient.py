"""no-gradient names every param the side cuts for the same reason (sample() cuts them all),
and only those; the gradient-flow note calls draws that carry no gradient what they are."""

from __future__ import annotations

import torch
from torch.distributions import Normal

import gaussdiag
from gaussdiag.results import SpecReport
from tests.conftest import run

SPEC = """
    version: 1
    mode: rsample
    sample_shape: [16]
    params:
      mean: {shape: [4], init: normal}
      var: {shape: [4], init: {uniform: [0.5, 2.0]}}
    a: {dist: Normal, args: {loc: mean, scale: %s}}
    b: {dist: Normal, args: {loc: mean, scale: sqrt(var)}, method: %s}
"""

_gen = torch.Generator().manual_seed(0)
PARAMS = {"x_mean": torch.randn(2, 4, generator=_gen),
          "x_var": torch.rand(2, 4, generator=_gen) * 3.9 + 0.1}


def by_hand(x_mean: torch.Tensor, x_var: torch.Tensor) -> torch.Tensor:
    return x_var.sqrt() * torch.randn_like(x_mean) + x_mean


def _live(b: object) -> SpecReport:
    return gaussdiag.compare(by_hand, b, params=PARAMS, mode="rsample")


def _note(report: SpecReport) -> str:
    return next(n for n in report.notes if n.startswith("the gradient reaches"))


def test_spec_side_drawing_with_sample_names_every_param() -> None:
    report = run(SPEC % ("sqrt(var)", "sample"))
    assert report.verdict == "no-gradient"
    assert report.explanation.startswith("`mean` and `var` get a gradient on side a and none "
                                         "on side b: side b draws with sample()"), \
        report.explanation


def test_spec_side_cutting_one_param_names_only_it() -> None:
    spec = SPEC % ("sqrt(var)", "rsample")
    report = run(spec.replace("scale: sqrt(var)}, method", "scale: sqrt(detach(var))}, method"))
    assert report.verdict == "no-gradient"
    assert report.explanation.startswith("`var` gets a gradient on side a and none on side b:"), \
        report.explanation
    assert "`mean`" not in report.explanation


def test_python_side_returning_sampled_draws_names_every_param_and_says_why() -> None:
    report = _live(lambda x_mean, x_var: Normal(x_mean, x_var.sqrt()).sample())
    assert report.verdict == "no-gradient"
    assert report.explanation.startswith("`x_mean` and `x_var` get a gradient on side a and "
                                         "none on side b: side b's draws carry no gradient"), \
        report.explanation
    assert "sample()" in report.explanation and "rsample()" in report.fix
    note = _note(report)
    assert "side a (reparameterized draws)" in note
    assert "no param on side b (draws without gradient: sample(), or a detach)" in note, note


def test_python_side_detaching_one_param_names_only_it() -> None:
    report = _live(lambda x_mean, x_var: Normal(x_mean, x_var.detach().sqrt()).rsample())
    assert report.verdict == "no-gradient"
    assert report.explanation.startswith("`x_var` gets a gradient on side a and none on side "
                                         "b: side b uses it, but the graph is cut"), \
        report.explanation
    assert "x_mean on side b (reparameterized draws)" in _note(report)
