"""RULES: verdicts from constructed cases; the numbers are checked against hand-written torch."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import MultivariateNormal, Normal

from gaussdiag.attribute.quantities import normwise
from gaussdiag.attribute.rules import RULES
from gaussdiag.vocab import DType, SideName, Verdict
from tests.conftest import run

MVN_VS_NORMAL = """
version: 1
seed: {seed}
params:
  mean: {{shape: [{n}], init: zeros}}
  std:  {{shape: [{n}], init: {{uniform: [{lo}, {hi}]}}}}
inputs:
  x: {{sample: b, sample_shape: [16]}}
a:
  dist: MultivariateNormal
  args: {{loc: mean, covariance_matrix: "{cov}"}}
b:
  dist: Normal
  args: {{loc: mean, scale: std}}
  event_dims: 1
"""


def mvn_vs_normal(cov: str, n: int = 6, seed: int = 0, lo: float = 0.5, hi: float = 2.0) -> str:
    return MVN_VS_NORMAL.format(cov=cov, n=n, seed=seed, lo=lo, hi=hi)


def test_std_as_variance_is_parameterization_with_cause_and_fix() -> None:
    report = run(mvn_vs_normal("diag_embed(std)"))
    assert report.verdict is Verdict.PARAMETERIZATION
    assert report.cause is not None
    assert (report.cause.side, report.cause.param, report.cause.transform) in {
        (SideName.A, "std", "square"), (SideName.B, "std", "sqrt")}
    assert "diag_embed(std ** 2)" in report.fix
    assert "scale_tril=diag_embed(std)" in report.fix


def test_std_as_variance_diffs_match_hand_written_torch() -> None:
    """Rebuild the same point by hand and compare the reported float64 diffs."""
    report = run(mvn_vs_normal("diag_embed(std)"))
    gen = torch.Generator().manual_seed(0)
    mean = torch.zeros(6, dtype=torch.float64)
    std = torch.rand(6, dtype=torch.float64, generator=gen) * 1.5 + 0.5
    torch.manual_seed(0)
    x = Normal(mean, std).sample((16,))
    m1, s1 = mean.clone().requires_grad_(), std.clone().requires_grad_()
    a = MultivariateNormal(m1, covariance_matrix=torch.diag_embed(s1)).log_prob(x)
    ga = torch.autograd.grad(a.sum(), [m1, s1])
    m2, s2 = mean.clone().requires_grad_(), std.clone().requires_grad_()
    b = Normal(m2, s2).log_prob(x).sum(-1)
    gb = torch.autograd.grad(b.sum(), [m2, s2])
    expected = {"log_prob": normwise(a, b), "grad[mean]": normwise(ga[0], gb[0]),
                "grad[std]": normwise(ga[1], gb[1])}
    got = {q.name: q.diff[DType.FLOAT64] for q in report.quantities}
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-9), name


def test_fixed_twin_agrees_with_float64_diff_near_1e_15() -> None:
    report = run(mvn_vs_normal("diag_embed(std**2)"))
    assert report.verdict in (Verdict.AGREE, Verdict.ROUND_OFF)
    for q in report.quantities:
        assert q.diff[DType.FLOAT64] < 1e-13, q
        assert not q.persists


def test_std_all_ones_is_flagged_as_coincidence() -> None:
    """The seed thread's trap: with std == 1, std and std**2 give the same log_prob."""
    spec = mvn_vs_normal("diag_embed(std)").replace(
        "std:  {shape: [6], init: {uniform: [0.5, 2.0]}}", "std:  {shape: [6], init: ones}")
    report = run(spec)
    lp = next(q for q in report.quantities if q.name == "log_prob")
    assert lp.diff[DType.FLOAT64] < 1e-14  # the values really do agree at this point
    assert report.verdict is Verdict.PARAMETERIZATION
    assert any("coincidence" in n and "`std`" in n for n in report.notes), report.notes


def test_scale_zero_is_invalid_parameters_naming_index() -> None:
    report = run("""
        params:
          mean: {shape: [3], init: zeros}
          scale: {values: [1.0, 0.0, 2.0]}
        inputs:
          x: {values: [0.5, 0.0, -1.0]}
        a: {dist: Normal, args: {loc: mean, scale: scale}}
        b: {dist: Normal, args: {loc: mean, scale: scale}}
    """)
    assert report.verdict is Verdict.INVALID_PARAMETERS
    assert "scale" in report.explanation and "[1]" in report.explanation
    assert "softplus" in report.fix


def test_covariance_not_pd_reports_smallest_eigenvalue() -> None:
    report = run("""
        params:
          loc: {shape: [2], init: zeros}
          cov: {values: [[1.0, 2.0], [2.0, 1.0]]}
        inputs:
          y: {values: [0.0, 0.0]}
        a: {dist: MultivariateNormal, args: {loc: loc, covariance_matrix: cov}}
        b: {dist: MultivariateNormal, args: {loc: loc, scale_tril: "cholesky(cov)"}}
    """)
    assert report.verdict is Verdict.INVALID_PARAMETERS
    eig = float(torch.linalg.eigvalsh(torch.tensor([[1.0, 2.0], [2.0, 1.0]])).min())
    assert f"{eig:.4g}" in report.explanation  # -1
    assert "scale_tril" in report.fix


def test_non_finite_in_float32_only() -> None:
    """sigma = 1e-30 is valid in float32, but (x / sigma)**2 overflows there."""
    report = run("""
        params:
          loc: {values: [0.0]}
          scale: {values: [1.0e-30]}
        inputs:
          x: {values: [1.0]}
        a: {dist: Normal, args: {loc: loc, scale: scale}}
        b: {log_prob: "-0.5 * ((x - loc) / scale)**2 - log(scale) - 0.9189385332046727"}
    """)
    assert report.verdict is Verdict.NON_FINITE
    assert "float32" in report.explanation and "float64" not in report.explanation.split(":")[0]


def test_detached_param_is_no_gradient() -> None:
    report = run(mvn_vs_normal("diag_embed(detach(std)**2)"))
    assert report.verdict is Verdict.NO_GRADIENT
    assert "`std`" in report.explanation and "side a" in report.explanation


def test_unused_param_is_reported_as_unused() -> None:
    report = run("""
        params:
          mean: {shape: [3], init: zeros}
          std: {shape: [3], init: ones}
        inputs:
          x: {values: [0.1, 0.2, 0.3]}
        a: {dist: Normal, args: {loc: mean, scale: std}}
        b: {dist: Normal, args: {loc: 0.0, scale: std}}
    """)
    assert report.verdict is Verdict.NO_GRADIENT
    assert "does not use `mean` at all" in report.explanation


def test_shifted_mean_is_mismatch_not_a_coincidental_exp() -> None:
    """At mean = 0, exp(mean) == mean + 1: only the jittered point rules that out."""
    report = run("""
        params:
          mean: {shape: [4], init: zeros}
          std: {shape: [4], init: {uniform: [0.5, 2.0]}}
        inputs:
          x: {shape: [8, 4], init: normal}
        a: {dist: Normal, args: {loc: mean, scale: std}}
        b: {dist: Normal, args: {loc: mean + 1, scale: std}}
    """)
    assert report.verdict is Verdict.MISMATCH
    assert report.cause is None


def test_gradient_differing_only_at_structural_zeros_is_explained() -> None:
    """A raw leaf L: scale_tril=L reads its lower triangle, L @ L^T all of it, so the
    gradients differ exactly on the (zero) upper triangle."""
    report = run("""
        params:
          loc: {shape: [3], init: zeros}
          L: {values: [[1.5, 0.0, 0.0], [0.3, 1.0, 0.0], [-0.2, 0.4, 0.8]]}
        inputs:
          y: {shape: [6, 3], init: normal}
        a: {dist: MultivariateNormal, args: {loc: loc, scale_tril: L}}
        b: {dist: MultivariateNormal, args: {loc: loc, covariance_matrix: "L @ transpose(L)"}}
    """)
    assert report.verdict is Verdict.MISMATCH
    assert "exactly zero" in report.explanation and "`L`" in report.explanation
    assert "tril(raw)" in report.fix
    lp = next(q for q in report.quantities if q.name == "log_prob")
    assert not lp.persists


def test_forgotten_exp_found_on_either_side() -> None:
    report = run("""
        params:
          mean: {shape: [5], init: normal}
          log_std: {shape: [5], init: {uniform: [0.2, 1.5]}}
        inputs:
          x: {shape: [7, 5], init: normal}
        a: {dist: Normal, args: {loc: mean, scale: exp(log_std)}}
        b: {dist: Normal, args: {loc: mean, scale: log_std}}
    """)
    assert report.verdict is Verdict.PARAMETERIZATION
    assert report.cause is not None
    assert (report.cause.side, report.cause.transform) in {(SideName.B, "exp"), (SideName.A, "log")}


def test_precision_vs_covariance_found_as_inverse_or_reciprocal() -> None:
    report = run("""
        params:
          loc: {shape: [3], init: zeros}
          C: {values: [[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 1.5]]}
        inputs:
          y: {shape: [10, 3], init: normal}
        a: {dist: MultivariateNormal, args: {loc: loc, covariance_matrix: C}}
        b: {dist: MultivariateNormal, args: {loc: loc, precision_matrix: C}}
    """)
    assert report.verdict is Verdict.PARAMETERIZATION
    assert report.cause is not None and report.cause.transform == "inverse"


def test_composition_of_two_is_found() -> None:
    """Side a reads `s` as a log-std, side b as a variance: exp then square (on b), or
    sqrt then log (on a); no single candidate explains it."""
    report = run("""
        params:
          mean: {shape: [4], init: zeros}
          s: {shape: [4], init: {uniform: [0.5, 2.0]}}
        inputs:
          x: {shape: [6, 4], init: normal}
        a: {dist: Normal, args: {loc: mean, scale: exp(s)}, event_dims: 1}
        b: {dist: MultivariateNormal, args: {loc: mean, covariance_matrix: diag_embed(s)}}
    """)
    assert report.verdict is Verdict.PARAMETERIZATION
    assert report.cause is not None
    assert "∘" in report.cause.transform
    assert (report.cause.side, report.cause.transform) in {
        (SideName.B, "square∘exp"), (SideName.A, "log∘sqrt")}, report.cause


def test_swapping_sides_keeps_the_verdict() -> None:
    text = mvn_vs_normal("diag_embed(std)")
    swapped = text.replace("\na:\n", "\nTMP:\n").replace("\nb:\n", "\na:\n").replace(
        "\nTMP:\n", "\nb:\n").replace("sample: b", "sample: a")
    assert run(text).verdict is run(swapped).verdict is Verdict.PARAMETERIZATION


def test_rules_follow_spec_precedence() -> None:
    assert [v for v, _ in RULES] == list(Verdict)
