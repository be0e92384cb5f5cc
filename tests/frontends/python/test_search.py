"""The reparameterization search on Python sides: screened on a slice as a spec's is, with
torch's default argument checks off for the candidates' runs only, and never crashed by a
side that cannot take a slice or an override."""

from __future__ import annotations

import threading
import warnings

import pytest
import torch
from torch import nn
from torch.distributions import Distribution, Independent, MultivariateNormal, Normal

import gaussdiag
from tests.conftest import run

N = 256  # above 4 x the slice's 16 entries: the search screens on a slice
SLICE_NOTE = "screened candidates on a slice"

YAML = f"""
version: 1
seed: 0
params:
  mean: {{shape: [{N}], init: zeros}}
  std:  {{shape: [{N}], init: {{uniform: [0.5, 2.0]}}}}
inputs:
  x: {{sample: b, sample_shape: [64]}}
a: {{dist: MultivariateNormal, args: {{loc: mean, covariance_matrix: diag_embed(std)}}}}
b: {{dist: Normal, args: {{loc: mean, scale: std}}, event_dims: 1}}
at: x
"""


def _std() -> torch.Tensor:  # the YAML spec's point
    return torch.rand(N, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) \
        * 1.5 + 0.5


def normal(mean: torch.Tensor, std: torch.Tensor) -> Independent:
    return Independent(Normal(mean, std), 1)


def _compare(a: object, b: object = normal) -> gaussdiag.results.SpecReport:
    return gaussdiag.compare(a, b, params={"mean": torch.zeros(N), "std": _std()},
                             inputs={"x": gaussdiag.sample("b", (64,))})


def _cause(report: gaussdiag.results.SpecReport) -> tuple[str, str, str]:
    assert report.cause is not None, report.explanation
    return report.cause.side.value, report.cause.param, report.cause.transform


def test_screened_on_a_slice_with_the_spec_s_answer() -> None:
    def mvn(mean: torch.Tensor, std: torch.Tensor) -> MultivariateNormal:
        return MultivariateNormal(mean, torch.diag_embed(std))

    py, spec = _compare(mvn), run(YAML)
    assert py.verdict == spec.verdict == "parameterization"
    assert _cause(py) == _cause(spec) == ("a", "std", "square")
    assert any(SLICE_NOTE in n for n in py.notes) and any(SLICE_NOTE in n for n in spec.notes)


def test_a_side_that_needs_the_full_shape_is_searched_at_full_size() -> None:
    def mvn_fixed_width(mean: torch.Tensor, std: torch.Tensor) -> MultivariateNormal:
        cov = torch.diag_embed(std).view(N, N)  # fails on the 16-entry slice
        return MultivariateNormal(mean, cov)

    py = _compare(mvn_fixed_width)
    assert _cause(py) == ("a", "std", "square")
    assert not any(SLICE_NOTE in n for n in py.notes)


def test_a_module_param_keeps_the_search_at_full_size() -> None:
    torch.manual_seed(3)
    net = nn.Linear(N, N)
    std = _std()

    def a(net: nn.Module, std: torch.Tensor, y: torch.Tensor) -> MultivariateNormal:
        return MultivariateNormal(net(y[0]), torch.diag_embed(std))

    def b(net: nn.Module, std: torch.Tensor, y: torch.Tensor) -> Independent:
        return Independent(Normal(net(y[0]), std), 1)

    y = torch.randn(2, N, dtype=torch.float64)
    report = gaussdiag.compare(a, b, params={"net": net, "std": std},
                               inputs={"y": y, "x": gaussdiag.sample("b", (8,))}, at="x")
    assert _cause(report) == ("a", "std", "square")
    assert not any(SLICE_NOTE in n for n in report.notes)


def test_candidate_runs_skip_torch_s_default_checks_and_restore_them() -> None:
    seen: list[bool] = []

    def mvn(mean: torch.Tensor, std: torch.Tensor) -> MultivariateNormal:
        seen.append(Distribution._validate_args)
        return MultivariateNormal(mean, torch.diag_embed(std))

    before = Distribution._validate_args
    report = _compare(mvn)
    assert _cause(report) == ("a", "std", "square")
    assert Distribution._validate_args is before
    assert seen[0] is before  # the side's own runs check their arguments
    assert False in seen and True in seen


@pytest.mark.parametrize("error", [AssertionError, RuntimeError, KeyError])
def test_a_side_raising_under_an_override_rules_the_candidate_out(
        error: type[Exception]) -> None:
    """Side a refuses a std below 0.4, which squaring the point's smallest entries gives:
    the search must move on (here to the square root on side b), not crash."""
    def picky(mean: torch.Tensor, std: torch.Tensor) -> MultivariateNormal:
        if bool((std < 0.4).any()):
            raise error("std below 0.4")
        return MultivariateNormal(mean, torch.diag_embed(std))

    report = _compare(picky)
    assert report.error is None and report.verdict == "parameterization"
    assert _cause(report) == ("b", "std", "sqrt")


def test_what_torch_says_about_the_slice_is_not_a_note() -> None:
    def mvn_warns_when_small(mean: torch.Tensor, std: torch.Tensor) -> MultivariateNormal:
        if mean.shape[-1] < 100:
            warnings.warn("only on the slice", UserWarning, stacklevel=1)
        return MultivariateNormal(mean, torch.diag_embed(std))

    report = _compare(mvn_warns_when_small)
    assert any(SLICE_NOTE in n for n in report.notes)  # the slice did run
    assert not any("only on the slice" in n for n in report.notes)


def test_a_side_failing_on_the_jittered_slice_falls_back_to_full_size() -> None:
    point = _std()[:16].to(torch.float32)

    def mvn_point_only_when_small(mean: torch.Tensor, std: torch.Tensor) -> MultivariateNormal:
        if std.shape[-1] < 100 and not torch.allclose(std.detach().float(), point):
            raise RuntimeError("a small std must be the point's")
        return MultivariateNormal(mean, torch.diag_embed(std))

    report = _compare(mvn_point_only_when_small)
    assert report.error is None and _cause(report) == ("a", "std", "square")
    assert not any(SLICE_NOTE in n for n in report.notes)


def test_the_default_is_restored_when_the_last_thread_leaves() -> None:
    """Two threads' blocks overlapping (A opens, B opens, A closes, B closes): checks stay
    off until B closes, then come back as they were before A."""
    from gaussdiag.frontends.python.sides import _default_validation_off

    before = Distribution._validate_args
    a_open, b_open, a_closed = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def a() -> None:
        with _default_validation_off():
            a_open.set()
            b_open.wait(10)
        a_closed.set()

    def b() -> None:
        a_open.wait(10)
        with _default_validation_off():
            b_open.set()
            a_closed.wait(10)
            seen["after a closed"] = Distribution._validate_args

    threads = [threading.Thread(target=f) for f in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen == {"after a closed": False}
    assert Distribution._validate_args is before
