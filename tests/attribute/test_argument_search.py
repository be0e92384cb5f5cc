"""The search reaches the arguments a side computes: the bug pairs of argument_pairs.py are
found on the right side, distribution, argument and transform (with the other side's fix
where one exists), through `gaussdiag compare pairs.py`; their hand-fixed twins stay agree or
round-off. Every expected fix is checked by hand in float64, torch alone."""

from __future__ import annotations

import copy
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.distributions import (
    Bernoulli,
    Beta,
    Categorical,
    Gamma,
    Independent,
    LogNormal,
    LowRankMultivariateNormal,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
    Poisson,
)
from torch.nn import functional as F

import gaussdiag
from gaussdiag.cli import main
from gaussdiag.testing import assert_equivalent, assert_verdict
from tests.attribute import argument_pairs as ap
from tests.conftest import run

PAIRS = Path(ap.__file__)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every pair of the file, through the CLI in one run."""
    out = tmp_path_factory.mktemp("pairs") / "r.json"
    code = main(["compare", str(PAIRS), "--json", str(out), "--no-timings", "-q"])
    assert code in (0, 1)
    return {s["name"].split("::")[1]: s for s in json.loads(out.read_text())["specs"]}


def _key(cause: dict[str, Any]) -> tuple[Any, ...]:
    what = cause["argument"] if cause["on"] == "argument" else cause["param"]
    return (cause["side"], cause["dist"], what, cause["transform"])


@pytest.mark.parametrize("name", list(ap.BUGS))
def test_the_cause_is_found_where_it_is_computed(reports: dict[str, dict[str, Any]],
                                                 name: str) -> None:
    want, other = ap.BUGS[name]
    r = reports[name]
    assert r["verdict"] == "parameterization", (name, r["explanation"])
    assert _key(r["cause"]) == want, (name, r["cause"])
    assert r["cause"]["on"] == ("param" if want[1] is None else "argument")
    assert [_key(c) for c in r["also"]] == ([] if other is None else [other]), name
    assert r["structure"] is None
    for c in [r["cause"], *r["also"]]:
        if c["on"] == "argument":  # the report names the distribution and the argument
            assert c["dist"] in r["explanation"] + r["fix"] and c["argument"] in r["fix"]


@pytest.mark.parametrize("name", ap.EQUIVALENT)
def test_the_hand_fixed_twins_stay_equivalent(reports: dict[str, dict[str, Any]],
                                              name: str) -> None:
    r = reports[name]
    assert r["verdict"] in ("agree", "round-off"), (name, r["explanation"])
    assert r["cause"] is None and r["also"] == [] and r["structure"] is None


# ---- each expected fix, by hand in float64 ----------------------------------------------
# Each returns the cause's side as written, the same with the named transform applied to the
# named argument (written out by hand), and the other side: log_probs in float64.

Three = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _net64() -> Any:
    return copy.deepcopy(ap.NET).double()


def _obs() -> torch.Tensor:
    return ap.OBS.double()


def _normal_head() -> Three:  # b: Normal(mu, sqrt(s)); square its scale
    mu, s = _net64()(_obs())
    x = mu.detach() + 0.3
    return (Normal(mu, s.sqrt()).log_prob(x), Normal(mu, s.sqrt() ** 2).log_prob(x),
            Normal(mu, s).log_prob(x))


def _mvn_head() -> Three:  # a: covariance diag(std); square the diagonal
    mu, std = _net64()(_obs())
    x = mu.detach() - 0.2
    return (MultivariateNormal(mu, covariance_matrix=torch.diag_embed(std)).log_prob(x),
            MultivariateNormal(mu, covariance_matrix=torch.diag_embed(std ** 2)).log_prob(x),
            Independent(Normal(mu, std), 1).log_prob(x))


def _precision() -> Three:  # a: covariance S; invert it
    mean, raw, x = ap._SQ["mean"].double(), ap._SQ["raw"].double(), ap._SQ_IN["x"].double()
    s = ap._spd(raw)
    return (MultivariateNormal(mean, covariance_matrix=s).log_prob(x),
            MultivariateNormal(mean, covariance_matrix=torch.linalg.inv(s)).log_prob(x),
            MultivariateNormal(mean, precision_matrix=s).log_prob(x))


def _categorical() -> Three:  # a: probs p; exp them (Categorical normalizes)
    w, k = ap._CAT["w"].double(), ap._CAT_IN["k"]
    p = torch.softmax(w, -1)
    return (Categorical(probs=p).log_prob(k), Categorical(probs=p.exp()).log_prob(k),
            Categorical(logits=p).log_prob(k))


def _gamma() -> Three:  # a: rate r; its reciprocal
    h, c, x = ap._GAM["h"].double(), ap._GAM["c"].double(), ap._GAM_IN["x"].double()
    r = F.softplus(h)
    return (Gamma(c, rate=r).log_prob(x), Gamma(c, rate=1 / r).log_prob(x),
            Gamma(c, rate=1 / r).log_prob(x))


def _lognormal() -> Three:  # b: sigma s; square it
    m, h, x = ap._LN["m"].double(), ap._LN["h"].double(), ap._LN_IN["x"].double()
    s = F.softplus(h)
    return (LogNormal(m, s).log_prob(x), LogNormal(m, s ** 2).log_prob(x),
            LogNormal(m, F.softplus(h) ** 2).log_prob(x))


def _mixture() -> Three:  # b: the component's scale; square it
    logits, locs, h = (ap._MIX[k].double() for k in ("logits", "locs", "h"))
    x = ap._MIX_IN["x"].double()
    scale = F.softplus(h) + 0.3

    def mix(s: torch.Tensor) -> torch.Tensor:
        return MixtureSameFamily(Categorical(logits=logits), Normal(locs, s)).log_prob(x)

    return mix(scale), mix(scale ** 2), mix(scale ** 2)


def _beta() -> Three:  # a: concentration1 c1; square it
    h, x = ap._BETA["h"].double(), ap._BETA_IN["x"].double()
    c1, c0 = F.softplus(h[0]) + 0.5, F.softplus(h[1]) + 0.5
    return Beta(c1, c0).log_prob(x), Beta(c1 ** 2, c0).log_prob(x), \
        Beta((F.softplus(h[0]) + 0.5) ** 2, c0).log_prob(x)


def _scale_tril_variance() -> Three:  # b: Normal scale sqrt(var); square it
    mu, var = _net64()(_obs())
    x = mu.detach() + 0.1
    return (Independent(Normal(mu, var.sqrt()), 1).log_prob(x),
            Independent(Normal(mu, var.sqrt() ** 2), 1).log_prob(x),
            MultivariateNormal(mu, scale_tril=torch.diag_embed(var)).log_prob(x))


def _lowrank() -> Three:  # a: cov_diag std; square it
    m, w, h = (ap._LR[k].double() for k in ("m", "w", "h"))
    x = ap._LR_IN["x"].double()
    std = F.softplus(h) + 0.2
    return (LowRankMultivariateNormal(m, w, std).log_prob(x),
            LowRankMultivariateNormal(m, w, std ** 2).log_prob(x),
            MultivariateNormal(m, w @ w.T + torch.diag_embed(std ** 2)).log_prob(x))


def _poisson() -> Three:  # b: rate z; exp it
    z = torch.tanh(ap._POI["w"].double()) + 2.0
    k = ap._POI_IN["k"].double()
    return Poisson(z).log_prob(k), Poisson(z.exp()).log_prob(k), Poisson(z.exp()).log_prob(k)


def _bernoulli() -> Three:  # a: probs p; sigmoid them
    lin = copy.deepcopy(ap._LIN).double()
    y = ap._BER_IN["y"].double()
    p = torch.sigmoid(lin(_obs()))
    return (Bernoulli(probs=p).log_prob(y), Bernoulli(probs=torch.sigmoid(p)).log_prob(y),
            Bernoulli(logits=p).log_prob(y))


def _log_variance() -> Three:  # a: the param h; halve it
    mu, h, x = ap._VAE["mu"].double(), ap._VAE["h"].double(), ap._VAE_IN["x"].double()
    return (Normal(mu, torch.exp(h)).log_prob(x), Normal(mu, torch.exp(h / 2)).log_prob(x),
            Normal(mu, torch.exp(h / 2)).log_prob(x))


HAND: dict[str, Callable[[], Three]] = {
    "normal_scale_head": _normal_head, "mvn_covariance_head": _mvn_head,
    "covariance_as_precision": _precision, "categorical_probs_as_logits": _categorical,
    "gamma_scale_as_rate": _gamma, "lognormal_variance": _lognormal,
    "mixture_component_scale": _mixture, "beta_concentration": _beta,
    "mvn_scale_tril_variance": _scale_tril_variance, "lowrank_cov_diag": _lowrank,
    "poisson_log_rate": _poisson, "bernoulli_probs_as_logits": _bernoulli,
    "log_variance_as_log_std": _log_variance,
}


@pytest.mark.parametrize("name", list(ap.BUGS))
def test_the_expected_fix_makes_the_sides_agree_by_hand(name: str) -> None:
    """The pair is a real bug (its sides differ in float64), and the transform the search
    must name, applied by hand, removes the difference."""
    broken, fixed, other = HAND[name]()
    assert broken.dtype == fixed.dtype == other.dtype == torch.float64
    gap = float((broken - other).detach().abs().max() / other.detach().abs().max())
    assert gap > 1e-3, (name, gap)
    torch.testing.assert_close(fixed, other, rtol=1e-12, atol=1e-12)


# ---- the same through gaussdiag.compare and gaussdiag.testing ----------------------------

def test_thread_000_behind_a_head_through_the_api_and_the_assertions() -> None:
    pair = ap.mvn_covariance_head
    report = gaussdiag.compare(pair.a, pair.b, **pair.keywords)
    assert report.cause is not None and report.cause.on == "argument"
    assert (report.cause.dist, report.cause.argument) == ("MultivariateNormal",
                                                          "covariance_matrix")
    assert "scale_tril=" in report.fix  # the argument swap that needs no square
    # assert_verdict(actual, expected): the second side is the reference, so the fix on the
    # first side (the MultivariateNormal, a) comes first
    got = assert_verdict(pair.a, pair.b, "parameterization", **pair.keywords)
    assert got.cause is not None and got.cause.side.value == "a"
    # with the MultivariateNormal as the reference, the Normal's sqrt comes first: the fix
    # the thread's poster made
    swapped = assert_verdict(pair.b, pair.a, "parameterization", **pair.keywords)
    assert swapped.cause is not None and (swapped.cause.side.value, swapped.cause.transform,
                                          swapped.cause.argument) == ("a", "sqrt", "scale")
    assert [(a.cause.side.value, a.cause.transform) for a in swapped.also] == [("b", "square")]
    fixed = ap.mvn_covariance_head_fixed
    assert_equivalent(fixed.a, fixed.b, **fixed.keywords)
    with pytest.raises(AssertionError, match="not equivalent: parameterization"):
        assert_equivalent(pair.a, pair.b, **pair.keywords)


def test_reference_puts_the_other_sides_fix_first() -> None:
    pair = ap.mvn_covariance_head
    first = gaussdiag.compare(pair.a, pair.b, **pair.keywords, reference="a")
    assert first.cause is not None and (first.cause.side.value, first.cause.transform) == (
        "b", "sqrt")
    assert [(a.cause.side.value, a.cause.transform) for a in first.also] == [("a", "square")]
    with pytest.raises(gaussdiag.GaussdiagError, match="reference must be one of a, b"):
        gaussdiag.compare(pair.a, pair.b, **pair.keywords, reference="c")


YAML_EXPRESSION = textwrap.dedent("""
    params:
      mean: {shape: [5], init: zeros}
      raw: {shape: [5], init: normal}
    inputs:
      x: {sample: b, sample_shape: [16]}
    a: {dist: MultivariateNormal, args: {loc: mean, covariance_matrix: "diag_embed(softplus(raw))"}}
    b: {dist: Normal, args: {loc: mean, scale: "softplus(raw)"}, event_dims: 1}
    at: x
""")


@pytest.mark.parametrize("reference", [None, "b", "a"])
def test_a_yaml_expression_argument(reference: str | None) -> None:
    """No transform of `raw` explains (softplus is in the way); the covariance expression
    does, and the fix rewrites it in the spec's words."""
    text = YAML_EXPRESSION + (f"reference: {reference}\n" if reference else "")
    report = run(text)
    assert report.verdict is not None and report.verdict.value == "parameterization"
    cause = report.cause
    assert cause is not None and cause.on == "argument"
    sides = [(cause.side.value, cause.argument, cause.transform)] + [
        (a.cause.side.value, a.cause.argument, a.cause.transform) for a in report.also]
    both = [("a", "covariance_matrix", "square"), ("b", "scale", "sqrt")]
    assert sides == (both[::-1] if reference == "a" else both)
    assert "computed as `diag_embed(softplus(raw))`" in report.explanation or \
        reference == "a"
    assert "covariance_matrix=diag_embed(softplus(raw)**2)" in report.fix
    assert "scale_tril=diag_embed(softplus(raw))" in report.fix
    assert "scale=sqrt(softplus(raw))" in report.fix
    # by hand: the fixed expression matches side b in float64
    raw = torch.randn(5, dtype=torch.float64)
    x = torch.randn(16, 5, dtype=torch.float64)
    fixed = MultivariateNormal(torch.zeros(5, dtype=torch.float64),
                               covariance_matrix=torch.diag_embed(F.softplus(raw) ** 2))
    torch.testing.assert_close(fixed.log_prob(x), Independent(
        Normal(torch.zeros(5, dtype=torch.float64), F.softplus(raw)), 1).log_prob(x))


# ---- what the search does not do ----------------------------------------------------------

def test_an_nn_module_s_weights_are_not_transformed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A transform of a weight is never how a side was written: with a module in params the
    search goes to what the module outputs (the arguments), so a fruitless search behind a
    head stays cheap."""
    from gaussdiag.attribute import checker

    real = checker.run_side
    transformed: list[str] = []

    def spy(*args: Any, **kw: Any) -> Any:
        transformed.extend(kw.get("overrides") or {})
        return real(*args, **kw)

    monkeypatch.setattr(checker, "run_side", spy)
    report = gaussdiag.compare(
        ap.independent_normal,
        lambda net, obs: Independent(Normal(net(obs)[0] + 0.1, net(obs)[1]), 1),
        params={"net": ap.NET}, inputs=ap._x("b", 6), at="x")
    assert report.verdict is not None and report.verdict.value == "mismatch"
    assert transformed == []


def test_the_scale_counts_only_for_a_simple_number() -> None:
    mu, h = ap._VAE["mu"], ap._VAE["h"]
    x = {"x": ap._VAE_IN["x"]}
    odd = gaussdiag.compare(lambda mu, h, x: Normal(mu, torch.exp(h)),
                            lambda mu, h, x: Normal(mu, torch.exp(0.37 * h)),
                            params={"mu": mu, "h": h}, inputs=x)
    assert odd.verdict is not None and odd.verdict.value == "mismatch", odd.explanation
    # a size of the problem: h has 6 entries (a mean over them where a sum is meant)
    size = gaussdiag.compare(lambda mu, h, x: Normal(mu, torch.exp(h)),
                             lambda mu, h, x: Normal(mu, torch.exp(h / 6)),
                             params={"mu": mu, "h": h}, inputs=x)
    assert size.cause is not None and (size.cause.transform, size.cause.factor) == (
        "scale", 1 / 6)
    assert "h / 6" in size.fix and "6 is a size of the problem" in size.explanation
