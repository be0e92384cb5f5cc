"""What relates the two sides of a mismatch (attribute/relations.py): each example of a factor,
an offset, a term of the point, an affine map, a gradient-only or params-only difference, a
swap and a few elements, with its number checked against a hand computation in float64; the
near-relations that must fail; no structure where the verdict is not mismatch."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest
import torch
from torch.distributions import (
    Beta,
    Categorical,
    Cauchy,
    HalfCauchy,
    LogNormal,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
    TransformedDistribution,
    constraints,
)
from torch.distributions.transforms import Transform

import gaussdiag
from gaussdiag.attribute import relations
from gaussdiag.attribute.quantities import normwise
from gaussdiag.attribute.relation_words import _BY_KIND
from gaussdiag.frontends.yaml.bind import BoundSpec
from gaussdiag.frontends.yaml.run import diagnose
from gaussdiag.frontends.yaml.spec import load_spec
from gaussdiag.numbers import sentence
from gaussdiag.pipeline import Options
from gaussdiag.results import ElementRef, SpecReport
from gaussdiag.vocab import DType, RelationKind, SideName, Verdict
from tests.conftest import loaded, run

ROOT = Path(__file__).parents[2]
F64 = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _config(name: str) -> tuple[SpecReport, dict[str, torch.Tensor]]:
    """A shipped config's report, and its point (params and inputs) in float64."""
    spec = load_spec(ROOT / "configs" / name)
    problem = BoundSpec(spec)
    point = dict(problem.base)
    for n in spec.spec.inputs:
        point.setdefault(n, problem.env(DType.FLOAT64, SideName.A, with_grad=False).values[n])
    return diagnose(spec, Options()), point


def _inline(text: str) -> tuple[SpecReport, dict[str, torch.Tensor]]:
    spec = loaded(text)
    problem = BoundSpec(spec)
    point = dict(problem.base)
    values = problem.env(DType.FLOAT64, SideName.A, with_grad=False).values
    point.update({n: values[n] for n in spec.spec.inputs})
    return diagnose(spec, Options()), point


def _grads(value: torch.Tensor, leaves: list[torch.Tensor]) -> list[torch.Tensor]:
    return list(torch.autograd.grad(value.sum(), leaves, retain_graph=True))


def _leaves(*ts: torch.Tensor) -> list[torch.Tensor]:
    return [t.detach().clone().requires_grad_(True) for t in ts]


def _mismatch(report: SpecReport, kind: RelationKind) -> None:
    assert report.verdict is Verdict.MISMATCH, report.explanation
    assert report.structure is not None, report.explanation
    assert report.structure.kind is kind, (report.structure, report.explanation)
    assert gaussdiag.Report.of(report).to_dict()["structure"]["kind"] == kind.value


# ---- the examples, each against a hand computation -----------------------------------

def _offset(report: SpecReport, d: torch.Tensor, k: float, closed_form: str) -> None:
    """An offset whose hand-computed difference `d` is `k` everywhere, reported as its mean and
    named `closed_form`."""
    _mismatch(report, RelationKind.OFFSET)
    assert torch.allclose(d, torch.full_like(d, k), rtol=0, atol=1e-12)
    s = report.structure
    assert s is not None and s.value == pytest.approx(float(d.mean()), rel=1e-12)
    assert s.closed_form == closed_form


def test_half_cauchy_against_cauchy_is_an_offset_of_log_2() -> None:
    report, pt = _config("half_cauchy_vs_cauchy.yaml")
    d = HalfCauchy(pt["s"]).log_prob(pt["x"]) - Cauchy(0.0, pt["s"]).log_prob(pt["x"])
    _offset(report, d, math.log(2.0), "log 2")
    assert "0.6931 = log 2 at every point" in report.explanation


def test_mean_over_pixels_is_a_factor_of_one_over_the_event_size() -> None:
    report, pt = _config("vae_mean_over_pixels.yaml")
    _mismatch(report, RelationKind.FACTOR)
    mu, log_s = _leaves(pt["mu"], pt["log_s"])
    per_pixel = Normal(mu, log_s.exp()).log_prob(pt["x"])
    a, b = per_pixel.mean(-1), per_pixel.sum(-1)
    ga, gb = _grads(a, [mu, log_s]), _grads(b, [mu, log_s])
    ratios = torch.cat([(a / b).detach(),
                        *[(x / y).flatten() for x, y in zip(ga, gb, strict=True)]])
    assert float(ratios.min()) == pytest.approx(float(ratios.max()), rel=1e-12)
    s = report.structure
    assert s is not None and s.value == pytest.approx(float(ratios[0]), rel=1e-12)
    assert s.closed_form == "1/784" and float(ratios[0]) == pytest.approx(1 / 784, rel=1e-12)
    assert "side b's × 1/784 (1/784 = 1 / the event size)" in report.explanation
    assert "side a takes a mean over the event where a log-density is a sum" in report.explanation


def test_gpytorch_style_division_by_n_is_a_factor_of_one_twentieth() -> None:
    n = 20
    w = torch.randn(n, n, generator=_gen(1), dtype=F64)
    L = torch.linalg.cholesky(w @ w.T / n + torch.eye(n, dtype=F64))
    y = torch.randn(n, generator=_gen(2), dtype=F64)
    report = gaussdiag.compare(
        lambda mean, L, y: MultivariateNormal(mean, scale_tril=L).log_prob(y) / y.shape[-1],
        lambda mean, L: MultivariateNormal(mean, scale_tril=L),
        params={"mean": torch.zeros(n, dtype=F64), "L": L}, inputs={"y": y})
    _mismatch(report, RelationKind.FACTOR)
    mean = torch.zeros(n, dtype=F64)
    hand = float(MultivariateNormal(mean, scale_tril=L).log_prob(y))
    s = report.structure
    assert s is not None and s.value == pytest.approx((hand / n) / hand, rel=1e-12)
    assert s.closed_form == "1/20"


def _by_hand_vs_normal(log_prob: str, n: int, *, event_dims: int = 0, head: str = ""
                       ) -> tuple[SpecReport, dict[str, torch.Tensor]]:
    """Side a a hand-written log-density `log_prob` over mu, s and x (8 rows of n), side b
    Normal(mu, s) with `event_dims`; `head` adds top-level keys."""
    return _inline(textwrap.dedent(f"""
        params:
          mu: {{shape: [{n}], init: normal}}
          s: {{shape: [{n}], init: {{uniform: [0.5, 2.0]}}}}
        inputs:
          x: {{shape: [8, {n}], init: normal}}
        a: {{log_prob: "{log_prob}"}}
        b: {{dist: Normal, args: {{loc: mu, scale: s}}, event_dims: {event_dims}}}
    """) + head)


GAUSSIAN = "-0.5 * (({x} - mu) / s)**2 - log(s) - 0.9189385332046727"


def test_mean_over_pixels_in_training_is_a_change_of_step_size() -> None:
    report, _ = _by_hand_vs_normal(
        f"mean({GAUSSIAN.format(x='x')}, dim=-1)", 16, event_dims=1,
        head="mode: train\ntrain: {steps: 20, optimizer: sgd, lr: 0.1}\n")
    _mismatch(report, RelationKind.FACTOR)
    assert report.structure is not None and report.structure.closed_form == "1/16"
    assert "At the starting point, side a's log_prob and gradients" in report.explanation
    assert "learning rate × 1/16" in report.explanation
    assert f"(0.1 -> {sentence(0.1 / 16)})" in report.explanation  # 0.00625


def _squared_error(reduce: str) -> tuple[SpecReport, dict[str, torch.Tensor]]:
    """-reduce((x - mu)²) over 10 coordinates against a Gaussian of variance ½ summed."""
    return _inline(f"""
        params:
          mu: {{shape: [10], init: normal}}
        inputs:
          x: {{shape: [6, 10], init: normal}}
        a: {{log_prob: "-{reduce}((x - mu)**2, dim=-1)"}}
        b: {{dist: Normal, args: {{loc: mu, scale: "0.7071067811865476 * ones_like(mu)"}},
            event_dims: 1}}
    """)


def test_squared_error_against_a_gaussian_is_an_offset_of_d_over_2_log_pi() -> None:
    report, pt = _squared_error("sum")
    mu, x = pt["mu"], pt["x"]
    d = -((x - mu) ** 2).sum(-1) - Normal(mu, math.sqrt(0.5)).log_prob(x).sum(-1)
    _offset(report, d, 5 * math.log(math.pi), "10/2·log π")
    assert "(10 = the event size)" in report.explanation


def test_lognormal_without_its_jacobian_is_a_term_of_the_point() -> None:
    report, pt = _config("lognormal_without_jacobian.yaml")
    _mismatch(report, RelationKind.POINT_TERM)
    mu, s, x = pt["mu"], pt["s"], pt["x"]
    by_hand = (-0.5 * ((x.log() - mu) / s) ** 2 - s.log() - 0.5 * math.log(2 * math.pi))
    d = by_hand - LogNormal(mu, s).log_prob(x)
    assert torch.allclose(d, x.log(), rtol=0, atol=1e-12)  # the missing Jacobian, log x
    assert report.structure is not None and report.structure.closed_form == "log x"
    assert report.structure.value is None
    x0, d0 = float(x.flatten()[0]), float(d.flatten()[0])
    assert f"at x = {sentence(x0)}: {sentence(d0)}; matches log x" in report.explanation


class _WrongSignExp(Transform):
    """exp, with log_abs_det_jacobian's sign flipped."""

    domain = constraints.real
    codomain = constraints.positive
    bijective = True

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return x.exp()

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y.log()

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -x


def test_a_jacobian_with_the_wrong_sign_is_twice_log_y() -> None:
    mu, s = torch.randn(3, generator=_gen(3)), torch.rand(3, generator=_gen(4)) + 0.5
    y = torch.rand(8, 3, generator=_gen(5)) + 0.2
    report = gaussdiag.compare(
        lambda mu, s: TransformedDistribution(Normal(mu, s), [_WrongSignExp()]),
        lambda mu, s: LogNormal(mu, s), params={"mu": mu, "s": s}, inputs={"y": y})
    _mismatch(report, RelationKind.POINT_TERM)
    m, sd, y64 = mu.double(), s.double(), y.double()
    wrong = TransformedDistribution(Normal(m, sd), [_WrongSignExp()]).log_prob(y64)
    d = wrong - LogNormal(m, sd).log_prob(y64)
    assert torch.allclose(d, 2 * y64.log(), rtol=0, atol=1e-12)
    assert report.structure is not None and report.structure.closed_form == "2·log y"
    assert "wrong sign" in report.explanation


def test_unnormalized_mixture_logits_differ_through_logits_alone() -> None:
    logits, loc = torch.randn(3, generator=_gen(6)), torch.randn(3, generator=_gen(7))
    scale, x = torch.rand(3, generator=_gen(8)) + 0.5, torch.randn(16, generator=_gen(9))

    def by_hand(logits: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor,
                x: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(logits + Normal(loc, scale).log_prob(x[..., None]), -1)

    def mixture(logits: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor
                ) -> MixtureSameFamily:
        return MixtureSameFamily(Categorical(logits=logits), Normal(loc, scale))

    report = gaussdiag.compare(by_hand, mixture,
                               params={"logits": logits, "loc": loc, "scale": scale},
                               inputs={"x": x})
    _mismatch(report, RelationKind.PARAMS)
    assert report.structure is not None and report.structure.params == ("logits",)
    # by hand: loc's and scale's gradients agree, logits' differ; the difference is
    # -logsumexp(logits) at every x, a function of logits alone
    la, lb = _leaves(logits.double(), loc.double(), scale.double()), \
        _leaves(logits.double(), loc.double(), scale.double())
    a, b = by_hand(*la, x.double()), mixture(*lb).log_prob(x.double())
    ga, gb = _grads(a, la), _grads(b, lb)
    assert torch.allclose(ga[1], gb[1], rtol=1e-12) and torch.allclose(ga[2], gb[2], rtol=1e-12)
    assert not torch.allclose(ga[0], gb[0], rtol=1e-3)
    d = (a - b).detach()
    assert torch.allclose(d, torch.logsumexp(logits.double(), -1).expand_as(d), atol=1e-12)
    assert "a function of `logits` alone" in report.explanation


def test_beta_with_its_concentrations_swapped_is_a_swap() -> None:
    report, pt = _inline("""
        params:
          c1: {shape: [3], init: {uniform: [0.5, 3.0]}}
          c0: {shape: [3], init: {uniform: [0.5, 3.0]}}
        inputs:
          x: {shape: [8, 3], init: {uniform: [0.05, 0.95]}}
        a: {dist: Beta, args: {concentration1: c0, concentration0: c1}}
        b: {dist: Beta, args: {concentration1: c1, concentration0: c0}}
    """)
    _mismatch(report, RelationKind.SWAP)
    assert report.structure is not None and report.structure.params == ("c1", "c0")
    c1, c0, x = pt["c1"], pt["c0"], pt["x"]
    # by hand: as written the sides differ by the reported float64 diff
    d = normwise(Beta(c0, c1).log_prob(x), Beta(c1, c0).log_prob(x))
    lp = next(q for q in report.quantities if q.name == "log_prob")
    assert lp.diff[DType.FLOAT64] == pytest.approx(d, rel=1e-12) and d > 0.1
    assert "With `c1` and `c0` exchanged on side a, every value and gradient matches side b" \
        in report.explanation


def test_a_straight_through_clamp_is_gradients_only_at_the_clamped_entries() -> None:
    """Values agree; the gradient of log_std differs where clamp(-20, 2) bites. That is also
    a difference in some elements only: the earlier relation, gradients-only, is reported."""
    report, pt = _inline("""
        params:
          mu: {shape: [4], init: zeros}
          log_std: {values: [0.5, 2.5, -1.0, 3.0]}
        inputs:
          x: {shape: [8, 4], init: normal}
        a: {dist: Normal, args: {loc: mu, scale: "exp(clamp(log_std, -20, 2))"}}
        b: {dist: Normal, args: {loc: mu, scale:
            "exp(detach(clamp(log_std, -20, 2)) + log_std - detach(log_std))"}}
    """)
    _mismatch(report, RelationKind.GRADIENTS_ONLY)
    clamped = torch.nonzero(pt["log_std"] > 2).flatten().tolist()
    assert clamped == [1, 3]
    assert report.structure is not None and report.structure.params == ("log_std",)
    assert report.structure.elements == tuple(ElementRef("grad[log_std]", (i,)) for i in clamped)
    assert "detach, clamp or stop-gradient on the path to `log_std`" in report.explanation


def test_a_clamp_on_the_data_sits_in_the_clamped_elements() -> None:
    report, pt = _by_hand_vs_normal(GAUSSIAN.format(x="clamp(x, max=1.0)"), 4)
    _mismatch(report, RelationKind.ELEMENTS)
    hand = [tuple(i) for i in torch.nonzero(pt["x"] > 1.0).tolist()]
    assert 0 < len(hand) < 32
    assert report.structure is not None
    assert report.structure.elements == tuple(ElementRef("log_prob", i) for i in hand)
    assert f"({len(hand)} of the 32 log_prob elements)" in report.explanation


def test_a_mean_reduced_squared_error_is_affine() -> None:
    report, pt = _squared_error("mean")
    _mismatch(report, RelationKind.AFFINE)
    mu, x = pt["mu"], pt["x"]
    a = -((x - mu) ** 2).mean(-1)
    b = Normal(mu, math.sqrt(0.5)).log_prob(x).sum(-1)
    k = a - b / 10  # by hand: a = b / 10 + ½·log π
    assert torch.allclose(k, torch.full_like(k, 0.5 * math.log(math.pi)), rtol=0, atol=1e-13)
    s = report.structure
    assert s is not None and s.value == pytest.approx(0.1, rel=1e-12)
    assert s.closed_form == "1/10"
    assert s.constant == pytest.approx(float(k.mean()), rel=1e-12)
    assert "½·log π" in report.explanation


def test_a_factor_that_matches_no_closed_form_is_a_plain_number() -> None:
    mean, std = torch.randn(4, generator=_gen(10)), torch.rand(4, generator=_gen(11)) + 0.5
    x = torch.randn(8, 4, generator=_gen(12))
    report = gaussdiag.compare(lambda mean, std, x: 0.37 * Normal(mean, std).log_prob(x),
                               lambda mean, std: Normal(mean, std),
                               params={"mean": mean, "std": std}, inputs={"x": x})
    _mismatch(report, RelationKind.FACTOR)
    s = report.structure
    assert s is not None and s.closed_form is None
    assert s.value == pytest.approx(0.37, rel=1e-12)
    assert "side b's × 0.37:" in report.explanation


# ---- near-relations fail ---------------------------------------------------------------------

def test_a_factor_varying_by_1e_6_across_the_quantities_is_no_factor() -> None:
    """Values are 3 × side b's; grad[mean] 3 × (1 + 1e-6) × side b's (a term whose value is
    exactly 0 adds 1e-6 of the gradient)."""
    mean, std = torch.randn(4, generator=_gen(13)), torch.rand(4, generator=_gen(14)) + 0.5
    x = torch.randn(8, 4, generator=_gen(15))

    def a(mean: torch.Tensor, std: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        lp = Normal(mean, std.detach()).log_prob(x)
        return 3 * Normal(mean, std).log_prob(x) + 3e-6 * (lp - lp.detach())

    report = gaussdiag.compare(a, lambda mean, std: Normal(mean, std),
                               params={"mean": mean, "std": std}, inputs={"x": x})
    assert report.verdict is Verdict.MISMATCH
    # by hand, in float64: the value's ratio is 3, grad[mean]'s 3 (1 + 1e-6)
    m, sd = _leaves(mean.double(), std.double())
    ga = _grads(a(m, sd, x.double()), [m, sd])
    m2, sd2 = _leaves(mean.double(), std.double())
    gb = _grads(Normal(m2, sd2).log_prob(x.double()), [m2, sd2])
    assert torch.allclose(ga[0] / gb[0], torch.full((4,), 3 * (1 + 1e-6), dtype=F64), rtol=1e-9)
    assert torch.allclose(ga[1] / gb[1], torch.full((4,), 3.0, dtype=F64), rtol=1e-12)
    assert report.structure is None, report.structure
    assert "no simple relation between the sides" in report.explanation
    assert "compare them term by term" in report.fix


def test_an_offset_that_drifts_with_a_param_is_no_offset() -> None:
    """log 2 plus 1e-6 × mean(std): the values differ by almost log 2, but the difference
    moves with std, so std's gradient differs and the relation is `params`: std alone."""
    mean, std = torch.randn(4, generator=_gen(16)), torch.rand(4, generator=_gen(17)) + 0.5
    x = torch.randn(8, 4, generator=_gen(18))
    report = gaussdiag.compare(
        lambda mean, std, x: Normal(mean, std).log_prob(x) + math.log(2) + 1e-6 * std.mean(),
        lambda mean, std: Normal(mean, std), params={"mean": mean, "std": std},
        inputs={"x": x})
    _mismatch(report, RelationKind.PARAMS)
    assert report.structure is not None and report.structure.params == ("std",)
    assert "a function of `std` alone" in report.explanation


# ---- no story where the verdict is not mismatch ----------------------------------------------

@pytest.mark.parametrize(("text", "verdict"), [
    ("""
     params: {m: {shape: [4], init: normal}, s: {shape: [4], init: {uniform: [0.5, 2.0]}}}
     inputs: {x: {shape: [8, 4], init: normal}}
     a: {dist: Normal, args: {loc: m, scale: s}}
     b: {log_prob: "-0.5 * ((x - m) / s)**2 - log(s) - 0.5 * math.log(2 * math.pi)"}
     """, {Verdict.AGREE, Verdict.ROUND_OFF}),
    ("""
     params: {m: {shape: [4], init: normal}, s: {shape: [4], init: {uniform: [0.5, 2.0]}}}
     inputs: {x: {shape: [8, 4], init: normal}}
     a: {dist: Normal, args: {loc: m, scale: s}}
     b: {dist: Normal, args: {loc: m, scale: "s * s"}}
     """, {Verdict.PARAMETERIZATION}),
], ids=["agree-or-round-off", "parameterization"])
def test_no_structure_unless_mismatch(text: str, verdict: set[Verdict]) -> None:
    report = run(text)
    assert report.verdict in verdict
    assert report.structure is None and gaussdiag.Report.of(report).to_dict()["structure"] is None


def test_softplus_past_its_threshold_shows_in_float64_only() -> None:
    """softplus(r) is r exactly past 20; log1p(exp(r)) is r + exp(-r). float32 cannot
    resolve the gap (it is within tol(float32)); float64 can. The verdict stays round-off,
    the words do not claim a float32 gap that shrank, and no relation is reported."""
    report, pt = _inline("""
        params:
          mu: {shape: [4], init: zeros}
          r: {shape: [4], init: {uniform: [21.0, 25.0]}}
        inputs:
          x: {shape: [8, 4], init: normal}
        a: {dist: Normal, args: {loc: mu, scale: softplus(r)}}
        b: {dist: Normal, args: {loc: mu, scale: "log1p(exp(r))"}}
    """)
    assert report.verdict is Verdict.ROUND_OFF and report.structure is None
    assert report.explanation.startswith("float32 shows no gap")
    assert "shrink in float64" not in report.explanation and "0x" not in report.explanation
    assert report.round_off is not None and report.round_off.dtype is DType.FLOAT64
    # by hand, float64: the largest normwise diff over log_prob and the two gradients
    mu, r = pt["mu"], pt["r"]
    la, lb = _leaves(mu, r), _leaves(mu, r)
    a = Normal(la[0], torch.nn.functional.softplus(la[1])).log_prob(pt["x"])
    b = Normal(lb[0], lb[1].exp().log1p()).log_prob(pt["x"])
    diffs = [normwise(a, b)] + [
        normwise(u, v) for u, v in zip(_grads(a, la), _grads(b, lb), strict=True)]
    assert report.round_off.gap == pytest.approx(max(diffs), rel=1e-6)
    assert report.round_off.gap > 64 * 2.0**-52


# ---- the table itself -----------------------------------------------------------------------

def test_relations_are_tried_in_the_documented_order_and_each_has_words() -> None:
    assert [k for k, _ in relations.RELATIONS] == list(RelationKind)
    for kind in RelationKind:
        assert kind in _BY_KIND, kind


def test_relations_cost_at_most_one_evaluation_per_side_besides_a_swap(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted while the relations run: the jittered run with gradients per side (when the
    search made none), and for swap one run per side."""
    from gaussdiag.attribute import checker, rules

    calls: list[tuple[str, str]] = []
    inside = [False]
    real_relate, real_search_run, real_swap_run = rules.relate, checker.run_side, \
        relations.run_side

    def counting(where: str, real: object) -> object:
        def run_side(problem: object, side: object, *args: object, **kw: object) -> object:
            if inside[0]:
                calls.append((where, getattr(side, "value", "?")))
            return real(problem, side, *args, **kw)  # type: ignore[operator]
        return run_side

    def relate(ev: object) -> object:
        inside[0] = True
        try:
            return real_relate(ev)  # type: ignore[arg-type]
        finally:
            inside[0] = False

    monkeypatch.setattr(rules, "relate", relate)
    monkeypatch.setattr(checker, "run_side", counting("reference", real_search_run))
    monkeypatch.setattr(relations, "run_side", counting("swap", real_swap_run))
    for text, swap in [("""
        params: {c1: {shape: [3], init: {uniform: [0.5, 3.0]}},
                 c0: {shape: [3], init: {uniform: [0.5, 3.0]}}}
        inputs: {x: {shape: [8, 3], init: {uniform: [0.05, 0.95]}}}
        a: {dist: Beta, args: {concentration1: c0, concentration0: c1}}
        b: {dist: Beta, args: {concentration1: c1, concentration0: c0}}
        """, True), ("""
        params: {s: {shape: [4], init: {uniform: [0.5, 2.0]}}}
        inputs: {x: {shape: [8, 4], init: {uniform: [0.1, 3.0]}}}
        a: {dist: HalfCauchy, args: {scale: s}}
        b: {dist: Cauchy, args: {loc: 0.0, scale: s}}
        """, False)]:
        calls.clear()
        report = run(text)
        assert report.verdict is Verdict.MISMATCH and report.structure is not None
        for side in ("a", "b"):
            assert calls.count(("reference", side)) <= 1, calls
            assert calls.count(("swap", side)) == (1 if swap else 0), calls
