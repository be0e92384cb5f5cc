"""The point: generated once from the seed in float64 and cast for every dtype; sample inputs
drawn from their side under the seed; the jittered point moves only leaves with gradients."""

from __future__ import annotations

import torch
from torch.distributions import Normal

from gaussdiag.frontends.yaml.bind import BoundSpec
from gaussdiag.vocab import DType, SideName
from tests.conftest import loaded
from tests.frontends.yaml.bind.common import SPEC


def test_point_is_generated_from_the_seed_in_declaration_order() -> None:
    p = BoundSpec(loaded(SPEC))
    gen = torch.Generator().manual_seed(5)
    mean = torch.randn(3, dtype=torch.float64, generator=gen)
    raw = torch.rand(3, dtype=torch.float64, generator=gen) * 2.0 - 1.0
    assert torch.equal(p.base["mean"], mean)
    assert torch.equal(p.base["raw"], raw)
    assert torch.equal(p.base["fixed"], torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert p.grad_names == ["mean", "raw"]  # derived and grad:false params are not leaves


def test_sample_input_is_drawn_in_float64_from_its_side_under_the_seed() -> None:
    p = BoundSpec(loaded(SPEC))
    fixed = p.base["fixed"]
    std = (torch.nn.functional.softplus(p.base["raw"]) + 0.1) * fixed / fixed  # side b's scale
    torch.manual_seed(5)
    expected = Normal(p.base["mean"], std).sample((4,))
    assert torch.equal(p.sample_input("x"), expected)
    env32 = p.env(DType.FLOAT32, SideName.A)
    assert env32.values["x"].dtype == torch.float32
    assert torch.equal(env32.values["x"], expected.float())


def test_every_dtype_sees_the_same_point() -> None:
    p = BoundSpec(loaded(SPEC))
    e32 = p.env(DType.FLOAT32, SideName.A)
    e64 = p.env(DType.FLOAT64, SideName.A)
    assert torch.equal(e32.values["mean"], e64.values["mean"].float())
    assert e32.leaves["raw"].requires_grad and "std" not in e32.leaves


def test_jitter_keeps_signs_and_moves_every_leaf_with_gradients() -> None:
    p = BoundSpec(loaded(SPEC))
    j = p.jitter()
    for name in p.leaf_names:
        if name in p.grad_names:
            assert not torch.equal(j[name], p.base[name]), name
        else:  # constants stay as written (spec-v1: The jittered point)
            assert torch.equal(j[name], p.base[name]), name
        assert torch.equal(torch.sign(j[name]), torch.sign(p.base[name])), name
