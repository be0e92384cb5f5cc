"""Python pairs read in Python terms: every message the engine words for a front end
(`Problem.phrases`) names Python calls for live sides, never a YAML spec's keys."""

from __future__ import annotations

import dataclasses

import torch
from torch.distributions import Independent, MultivariateNormal, Normal

import gaussdiag
from gaussdiag.frontends.python.problem import LIVE_PHRASES
from gaussdiag.frontends.yaml.bind.wording import SPEC_PHRASES
from gaussdiag.results import SpecReport

# A YAML spec's own vocabulary: none of it may reach a Python pair's words.
YAML_WORDS = ("grad: false", "method:", "spec", "expr:", "log_prob:", "event_dims")


def _words(report: SpecReport) -> str:
    """Everything the report says in prose: explanation, fix, notes, evidence labels and the
    other problems listed."""
    return "\n".join([report.explanation, report.fix, *report.notes,
                      *(e.label for e in report.evidence),
                      *(p.message for p in report.problems)])


def _no_yaml(report: SpecReport) -> None:
    text = _words(report)
    assert not [w for w in YAML_WORDS if w in text], text


def _normal(mean: torch.Tensor, std: torch.Tensor) -> Independent:
    return Independent(Normal(mean, std), 1)


def test_every_live_phrase_is_free_of_yaml_keys() -> None:
    # some phrases (use_rsample) no live pair reaches: a live side that calls sample()
    # returns its draws itself, so the engine cannot tell sample() from a detach()
    for f in dataclasses.fields(LIVE_PHRASES):
        text = getattr(LIVE_PHRASES, f.name)
        assert not [w for w in YAML_WORDS if w in text], (f.name, text)
        assert text != getattr(SPEC_PHRASES, f.name), f.name


def test_unused_param_fix_says_leave_it_out_of_params() -> None:
    def b(mean: torch.Tensor) -> Independent:
        return _normal(mean, torch.ones_like(mean))

    report = gaussdiag.compare(_normal, b, params={"mean": torch.zeros(3), "std": torch.ones(3)},
                               inputs={"x": torch.randn(4, 3, generator=_gen())})
    assert report.verdict == "no-gradient"
    assert "does not use `std` at all" in report.explanation
    assert "leave it out of params (or pass it as an input)" in report.fix
    _no_yaml(report)


def test_cut_graph_fix_says_rsample() -> None:
    loc, d = torch.randn(6, generator=_gen()), torch.rand(6, generator=_gen()) + 0.5
    report = gaussdiag.compare(lambda loc, d: Normal(loc, d).sample((8,)),
                               lambda loc, d: Normal(loc, d).rsample((8,)),
                               params={"loc": loc, "d": d}, mode="rsample")
    assert report.verdict == "no-gradient"
    assert "rsample()" in report.fix
    _no_yaml(report)


def test_mismatch_fix_says_return_a_hand_written_log_density() -> None:
    mean, std = torch.randn(4, generator=_gen()), torch.rand(4, generator=_gen()) + 0.5
    report = gaussdiag.compare(_normal, lambda mean, std: _normal(mean + 0.5, std),
                               params={"mean": mean, "std": std},
                               inputs={"x": torch.randn(8, 4, generator=_gen())})
    assert report.verdict == "mismatch" and report.cause is None
    assert "return a hand-written log-density from one side" in report.fix
    _no_yaml(report)


def test_structural_zeros_fix_says_torch_tril() -> None:
    # scale_tril=L reads L's lower triangle, L @ L^T all of it: the gradients differ exactly
    # on the (zero) upper triangle, the values agree
    L = torch.tensor([[1.5, 0.0, 0.0], [0.3, 1.0, 0.0], [-0.2, 0.4, 0.8]])
    report = gaussdiag.compare(
        lambda loc, L: MultivariateNormal(loc, scale_tril=L),
        lambda loc, L: MultivariateNormal(loc, covariance_matrix=L @ L.mT),
        params={"loc": torch.zeros(3), "L": L},
        inputs={"y": torch.randn(6, 3, generator=_gen())})
    assert report.verdict == "mismatch"
    assert "exactly zero" in report.explanation and "`L`" in report.explanation
    assert "torch.tril(raw)" in report.fix
    _no_yaml(report)


def test_parameterization_and_coincidence_say_the_given_point() -> None:
    def mvn(mean: torch.Tensor, std: torch.Tensor) -> MultivariateNormal:
        return MultivariateNormal(mean, torch.diag_embed(std))

    std = torch.rand(5, generator=_gen()) + 0.5
    inputs = {"x": gaussdiag.sample("b", (16,))}
    report = gaussdiag.compare(mvn, _normal, params={"mean": torch.zeros(5), "std": std},
                               inputs=inputs)
    assert report.verdict == "parameterization"
    assert "at the given point" in report.explanation
    _no_yaml(report)
    # std == 1 makes std == std**2: log_prob agrees at the point only by coincidence
    ones = gaussdiag.compare(mvn, _normal, params={"mean": torch.zeros(5), "std": torch.ones(5)},
                             inputs=inputs)
    assert any("agrees at the given point only by coincidence" in n for n in ones.notes)
    assert "log_prob at the given point" in [e.label for e in ones.evidence]
    _no_yaml(ones)


def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(3)
