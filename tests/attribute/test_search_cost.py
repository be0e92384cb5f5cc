"""The search's cheap paths: unvalidated re-runs, NaN-safe matching, values-only confirmation
above CONFIRM_GRADS_MAX. References are hand-written torch."""

from __future__ import annotations

import torch
from torch.distributions import Normal

from gaussdiag.attribute.checker import _same_nans
from gaussdiag.attribute.quantities import normwise
from gaussdiag.engine.evaluate import SideRun, run_side
from gaussdiag.frontends.yaml.bind import BoundSpec
from gaussdiag.tolerance import CONFIRM_GRADS_MAX
from gaussdiag.vocab import DType, SideName, Verdict
from tests.conftest import loaded, run

# Normal with a variance where the other side has a std: elementwise, so a slice is faithful
# and large n costs little.
VAR_VS_STD = """
version: 1
seed: 0
params:
  mean: {{shape: [{n}], init: zeros}}
  std:  {{shape: [{n}], init: {{uniform: [0.5, 2.0]}}}}
inputs:
  x: {{sample: b, sample_shape: [8]}}
a:
  dist: Normal
  args: {{loc: mean, scale: std}}
  event_dims: 1
b:
  dist: Normal
  args: {{loc: mean, scale: "std ** 2"}}
  event_dims: 1
"""


def test_unvalidated_run_skips_torch_checks_and_matches_validated_values() -> None:
    problem = BoundSpec(loaded(VAR_VS_STD.format(n=6)))
    env = problem.env(DType.FLOAT64, SideName.A, with_grad=False)
    assert problem.build(SideName.A, env, DType.FLOAT64).dist._validate_args
    assert not problem.build(SideName.A, env, DType.FLOAT64, validate=False).dist._validate_args
    checked = run_side(problem, SideName.A, DType.FLOAT64)
    unchecked = run_side(problem, SideName.A, DType.FLOAT64, validate=False)
    assert torch.equal(checked.value, unchecked.value)


def test_same_nans_rejects_a_nan_the_reference_lacks() -> None:
    def side_run(v: list[float]) -> SideRun:
        return SideRun(SideName.A, DType.FLOAT64, torch.tensor(v, dtype=torch.float64),
                       {}, 0.0, None, "")

    assert _same_nans(side_run([1.0, float("nan")]), side_run([2.0, float("nan")]))
    assert not _same_nans(side_run([1.0, float("nan")]), side_run([1.0, 1.0]))


def test_values_only_confirmation_above_the_limit_keeps_the_verdict() -> None:
    """Above CONFIRM_GRADS_MAX the search confirms values at full size and says so; the
    verdict and cause are those found at a size where gradients are confirmed too, and the
    reported float64 diff is the hand-written one."""
    small = run(VAR_VS_STD.format(n=256))
    n = 2 * CONFIRM_GRADS_MAX
    big = run(VAR_VS_STD.format(n=n))
    for report in (small, big):
        assert report.verdict is Verdict.PARAMETERIZATION
        assert report.cause is not None
        assert (report.cause.side, report.cause.param, report.cause.transform) in {
            (SideName.A, "std", "square"), (SideName.B, "std", "sqrt")}
    assert any("then confirmed at full size" in note for note in small.notes)
    assert any(f"confirmed the values at full size (n = {n}" in note for note in big.notes)
    gen = torch.Generator().manual_seed(0)
    mean = torch.zeros(n, dtype=torch.float64)
    std = torch.rand(n, dtype=torch.float64, generator=gen) * 1.5 + 0.5
    torch.manual_seed(0)
    x = Normal(mean, std ** 2).sample((8,))
    a = Normal(mean, std).log_prob(x).sum(-1)
    b = Normal(mean, std ** 2).log_prob(x).sum(-1)
    got = next(q for q in big.quantities if q.name == "log_prob").diff[DType.FLOAT64]
    # the same float64 computation: equal up to summation order
    assert abs(got - normwise(a, b)) <= 1e-12 * max(1.0, normwise(a, b))
