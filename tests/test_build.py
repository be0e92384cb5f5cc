"""The build stage: the point is generated once from the seed in float64 and cast; sides are
built with validation; devices that are absent are clear errors."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal

from gaussdiag.build import ConstraintFailure, Problem, resolve_device
from gaussdiag.errors import DeviceError, SpecError
from gaussdiag.evaluate import run_side
from gaussdiag.vocab import DType, SideName
from tests.conftest import cuda_only, loaded

SPEC = """
version: 1
seed: 5
params:
  mean: {shape: [3], init: normal}
  raw:  {shape: [3], init: {uniform: [-1.0, 1.0]}}
  std:  {expr: "softplus(raw) + 0.1"}
  fixed: {values: [1.0, 2.0, 3.0], grad: false}
inputs:
  x: {sample: b, sample_shape: [4]}
a: {dist: Normal, args: {loc: mean, scale: std}, event_dims: 1}
b: {dist: Normal, args: {loc: mean, scale: std * fixed / fixed}, event_dims: 1}
"""


def test_point_is_generated_from_the_seed_in_declaration_order() -> None:
    p = Problem(loaded(SPEC))
    gen = torch.Generator().manual_seed(5)
    mean = torch.randn(3, dtype=torch.float64, generator=gen)
    raw = torch.rand(3, dtype=torch.float64, generator=gen) * 2.0 - 1.0
    assert torch.equal(p.base["mean"], mean)
    assert torch.equal(p.base["raw"], raw)
    assert torch.equal(p.base["fixed"], torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert p.grad_names == ["mean", "raw"]  # derived and grad:false params are not leaves


def test_sample_input_is_drawn_in_float64_from_its_side_under_the_seed() -> None:
    p = Problem(loaded(SPEC))
    fixed = p.base["fixed"]
    std = (torch.nn.functional.softplus(p.base["raw"]) + 0.1) * fixed / fixed  # side b's scale
    torch.manual_seed(5)
    expected = Normal(p.base["mean"], std).sample((4,))
    assert torch.equal(p.sample_input("x"), expected)
    env32 = p.env(DType.FLOAT32, SideName.A)
    assert env32.values["x"].dtype == torch.float32
    assert torch.equal(env32.values["x"], expected.float())


def test_every_dtype_sees_the_same_point() -> None:
    p = Problem(loaded(SPEC))
    e32 = p.env(DType.FLOAT32, SideName.A)
    e64 = p.env(DType.FLOAT64, SideName.A)
    assert torch.equal(e32.values["mean"], e64.values["mean"].float())
    assert e32.leaves["raw"].requires_grad and "std" not in e32.leaves


def test_gradients_reach_leaves_through_derived_params() -> None:
    p = Problem(loaded(SPEC))
    r = run_side(p, SideName.A, DType.FLOAT64)
    raw = p.base["raw"].clone().requires_grad_()
    mean = p.base["mean"].clone().requires_grad_()
    std = torch.nn.functional.softplus(raw) + 0.1
    lp = Normal(mean, std).log_prob(p.sample_input("x")).sum(-1)
    g_mean, g_raw = torch.autograd.grad(lp.sum(), [mean, raw])
    assert torch.allclose(r.value, lp.detach())
    assert r.grads["mean"] is not None and torch.allclose(r.grads["mean"], g_mean)
    assert r.grads["raw"] is not None and torch.allclose(r.grads["raw"], g_raw)


def test_override_applies_to_one_side_only() -> None:
    p = Problem(loaded(SPEC))
    env = p.env(DType.FLOAT64, SideName.A, overrides={"std": lambda t: t * 2})
    plain = p.env(DType.FLOAT64, SideName.B)
    assert torch.allclose(env.values["std"], plain.values["std"] * 2)


def test_jitter_keeps_signs_and_moves_every_leaf_with_gradients() -> None:
    p = Problem(loaded(SPEC))
    j = p.jitter()
    for name in p.leaf_names:
        if name in p.grad_names:
            assert not torch.equal(j[name], p.base[name]), name
        else:  # constants stay as written (spec-v1: The jittered point)
            assert torch.equal(j[name], p.base[name]), name
        assert torch.equal(torch.sign(j[name]), torch.sign(p.base[name])), name


def test_constraint_failure_names_argument_and_index() -> None:
    p = Problem(loaded("""
        params:
          s: {values: [[1.0, 2.0], [3.0, -1.0]]}
        inputs:
          x: {values: 0.0}
        a: {dist: Normal, args: {loc: 0.0, scale: s}}
        b: {dist: Normal, args: {loc: 0.0, scale: s}}
    """))
    with pytest.raises(ConstraintFailure) as info:
        run_side(p, SideName.A, DType.FLOAT64)
    assert info.value.arg == "scale"
    assert info.value.index == (1, 1)
    assert "GreaterThan" in (info.value.constraint or "")


def test_unknown_argument_is_a_spec_error_listing_accepted_ones() -> None:
    text = """
        params:
          s: {values: [1.0]}
        inputs:
          x: {values: [0.0]}
        a: {dist: Normal, args: {loc: 0.0, sd: s}}
        b: {dist: Normal, args: {loc: 0.0, scale: s}}
    """
    p = Problem(loaded(text))
    with pytest.raises(SpecError) as info:
        run_side(p, SideName.A, DType.FLOAT64)
    assert info.value.key == "a.args.sd" and info.value.line == 6
    assert "loc, scale" in str(info.value)
    p = Problem(loaded(text.replace("sd: s", "scael: s")))
    with pytest.raises(SpecError) as info:
        run_side(p, SideName.A, DType.FLOAT64)
    assert "did you mean 'scale'?" in str(info.value)


def test_shape_limit_is_enforced_during_evaluation() -> None:
    text = """
        params:
          s: {shape: [2000], init: ones}
        inputs:
          x: {values: [0.0]}
        a: {dist: MultivariateNormal, args: {loc: s, covariance_matrix: diag_embed(s)}}
        b: {dist: Normal, args: {loc: s, scale: s}, event_dims: 1}
    """
    p = Problem(loaded(text), max_elements=100_000)
    with pytest.raises(SpecError) as info:
        run_side(p, SideName.A, DType.FLOAT64)
    assert "4,000,000 elements" in str(info.value) and "--max-elements" in str(info.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_absent_cuda_is_a_clear_device_error(device: str) -> None:
    with pytest.raises(DeviceError) as info:
        resolve_device(device)
    assert "CUDA is not available" in str(info.value)


def test_unknown_device_and_auto() -> None:
    with pytest.raises(DeviceError):
        resolve_device("tpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@cuda_only
def test_cuda_side_matches_cpu_side() -> None:
    text = SPEC.replace("a: {dist: Normal,", "a: {device: cuda, dist: Normal,")
    p = Problem(loaded(text))
    ra = run_side(p, SideName.A, DType.FLOAT64)
    rb = run_side(p, SideName.B, DType.FLOAT64)
    assert torch.allclose(ra.value, rb.value)
    assert ra.memory_kind == "peak allocated"
