"""Properties of the whole diagnosis: mathematically equivalent pairs are never called a bug,
and a planted std/variance swap is always found. Strategies live in tests/strategies.py."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from gaussdiag.vocab import SideName, Verdict
from tests.conftest import run
from tests.strategies import DIAGNOSIS_SETTINGS, lower_factors, scales

NOT_A_BUG = {Verdict.AGREE, Verdict.ROUND_OFF}


def _vec(xs: list[float]) -> str:
    return json.dumps(xs)


def _mvn_vs_normal(covariance: str, std: list[float], seed: int) -> str:
    """MultivariateNormal with `covariance` against Normal(mean, std) summed."""
    return f"""
        seed: {seed}
        params:
          mean: {{shape: [{len(std)}], init: normal}}
          std: {{values: {_vec(std)}}}
        inputs:
          x: {{sample: b, sample_shape: [8]}}
        a: {{dist: MultivariateNormal, args: {{loc: mean, covariance_matrix: "{covariance}"}}}}
        b: {{dist: Normal, args: {{loc: mean, scale: std}}, event_dims: 1}}
    """


@DIAGNOSIS_SETTINGS
@given(n=st.integers(1, 6), data=st.data(), seed=st.integers(0, 1000))
def test_normal_vs_diagonal_mvn_with_variance_is_never_a_bug(
        n: int, data: st.DataObject, seed: int) -> None:
    std = data.draw(scales(n=n))
    report = run(_mvn_vs_normal("diag_embed(std**2)", std, seed))
    assert report.verdict in NOT_A_BUG, (std, report.verdict, report.explanation)


@DIAGNOSIS_SETTINGS
@given(n=st.integers(1, 4), data=st.data())
def test_scale_tril_vs_covariance_from_the_same_factor_is_never_a_bug(
        n: int, data: st.DataObject) -> None:
    """L goes through tril(), as a network's factor does: a raw leaf L would let the
    covariance side's gradient reach the upper triangle, which scale_tril never reads (a real
    difference, see tests/attribute/test_rules.py's structural-zero test)."""
    tril = data.draw(lower_factors(n=n))
    report = run(f"""
        params:
          loc: {{shape: [{n}], init: normal}}
          raw: {{values: {json.dumps(tril)}}}
          L: {{expr: "tril(raw)"}}
        inputs:
          y: {{shape: [8, {n}], init: normal}}
        a: {{dist: MultivariateNormal, args: {{loc: loc, scale_tril: L}}}}
        b: {{dist: MultivariateNormal, args: {{loc: loc, covariance_matrix: "L @ transpose(L)"}}}}
    """)
    assert report.verdict in NOT_A_BUG, (tril, report.verdict, report.explanation)


@DIAGNOSIS_SETTINGS
@given(n=st.integers(1, 6), data=st.data())
def test_independent_vs_summed_hand_written_density_is_never_a_bug(
        n: int, data: st.DataObject) -> None:
    std = data.draw(scales(n=n))
    report = run(f"""
        params:
          mean: {{shape: [{n}], init: normal}}
          std: {{values: {_vec(std)}}}
        inputs:
          x: {{shape: [5, {n}], init: normal}}
        a: {{dist: Normal, args: {{loc: mean, scale: std}}, event_dims: 1}}
        b: {{log_prob: "sum(-0.5 * ((x - mean) / std)**2 - log(std) - 0.9189385332046727, -1)"}}
    """)
    assert report.verdict in NOT_A_BUG, (std, report.verdict, report.explanation)


@DIAGNOSIS_SETTINGS
@given(n=st.integers(1, 6), data=st.data(), seed=st.integers(0, 1000))
def test_std_passed_as_variance_is_always_caught(n: int, data: st.DataObject, seed: int) -> None:
    std = data.draw(scales(n=n, away_from_one=True))
    report = run(_mvn_vs_normal("diag_embed(std)", std, seed))
    assert report.verdict is Verdict.PARAMETERIZATION, (std, report.explanation)
    assert report.cause is not None
    assert (report.cause.side, report.cause.param, report.cause.transform) in {
        (SideName.A, "std", "square"), (SideName.B, "std", "sqrt")}, report.cause
