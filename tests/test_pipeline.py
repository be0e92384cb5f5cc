"""pipeline.py: one spec through build, evaluate and attribute, into a frozen SpecReport."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gaussdiag.frontends.yaml.run import demo_spec, diagnose, diagnose_file
from gaussdiag.pipeline import Options
from gaussdiag.vocab import DType, SideName, Verdict
from tests.conftest import loaded

SPEC = """
version: 1
seed: 0
params:
  loc: {shape: [3], init: zeros}
  scale: {shape: [3], init: {uniform: [0.5, 2.0]}}
inputs:
  x: {sample: b, sample_shape: [4]}
a: {dist: Normal, args: {loc: loc, scale: "scale"}}
b: {dist: Normal, args: {loc: loc, scale: "%s"}}
"""


def test_agreeing_spec_reports_agree_with_every_dtype_and_no_error() -> None:
    report = diagnose(loaded(SPEC % "scale"), Options())
    assert report.verdict is Verdict.AGREE and report.ok and report.error is None
    assert report.dtypes == (DType.FLOAT32, DType.FLOAT64)
    assert {q.name for q in report.quantities} == {"log_prob", "grad[loc]", "grad[scale]"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.verdict = None  # type: ignore[misc]


def test_report_diff_is_the_normwise_gap_of_hand_written_torch() -> None:
    report = diagnose(loaded(SPEC % "scale ** 2"), Options())
    assert report.verdict is Verdict.PARAMETERIZATION
    # the same point by hand: the spec's seeded params and draws, in float64
    from gaussdiag.frontends.yaml.bind import BoundSpec

    problem = BoundSpec(loaded(SPEC % "scale ** 2"))
    env = problem.env(DType.FLOAT64, SideName.A, with_grad=False)
    loc, scale, x = env.values["loc"], env.values["scale"], env.values["x"]
    lp_a = torch.distributions.Normal(loc, scale).log_prob(x)
    lp_b = torch.distributions.Normal(loc, scale ** 2).log_prob(x)
    ref = float((lp_a - lp_b).abs().max() / torch.maximum(lp_a.abs().max(), lp_b.abs().max()))
    got = next(q for q in report.quantities if q.name == "log_prob").diff[DType.FLOAT64]
    assert got == pytest.approx(ref, rel=1e-12)


def test_unreadable_file_becomes_an_error_report() -> None:
    report = diagnose_file("/nonexistent/spec.yaml", Options())
    assert report.verdict is None and not report.ok and report.error


def test_demo_spec_is_the_std_as_variance_thread() -> None:
    report = diagnose(demo_spec(), Options())
    assert report.verdict is Verdict.PARAMETERIZATION
    assert report.cause is not None and report.cause.transform == "square"
