"""Building sides: gradients reach leaves through derived params, overrides stay on their
side, broken constraints and unknown arguments are named, the element limit holds."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal

from gaussdiag.engine.evaluate import run_side
from gaussdiag.engine.failures import ConstraintFailure
from gaussdiag.errors import SpecError
from gaussdiag.frontends.yaml.bind import BoundSpec
from gaussdiag.vocab import DType, SideName
from tests.conftest import loaded
from tests.frontends.yaml.bind.common import SPEC


def test_gradients_reach_leaves_through_derived_params() -> None:
    p = BoundSpec(loaded(SPEC))
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
    p = BoundSpec(loaded(SPEC))
    env = p.env(DType.FLOAT64, SideName.A, overrides={"std": lambda t: t * 2})
    plain = p.env(DType.FLOAT64, SideName.B)
    assert torch.allclose(env.values["std"], plain.values["std"] * 2)


def test_constraint_failure_names_argument_and_index() -> None:
    p = BoundSpec(loaded("""
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


def test_unknown_argument_is_a_spec_error_listing_accepted_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    text = """
        params:
          s: {values: [1.0]}
        inputs:
          x: {values: [0.0]}
        a: {dist: Normal, args: {loc: 0.0, sd: s}}
        b: {dist: Normal, args: {loc: 0.0, scale: s}}
    """
    with pytest.raises(SpecError) as info:  # at load, from the table (no torch needed)
        loaded(text)
    assert info.value.key == "a.args.sd" and info.value.line == 6
    assert "loc, scale" in str(info.value)
    with pytest.raises(SpecError) as info:
        loaded(text.replace("sd: s", "scael: s"))
    assert "did you mean 'scale'?" in str(info.value)
    # A torch whose signature differs from the table: the build checks the installed one.
    import gaussdiag.frontends.yaml.spec.checks as checks

    monkeypatch.setitem(checks.ARGUMENTS, "Normal", ("loc", "scale", "sd"))
    p = BoundSpec(loaded(text))
    with pytest.raises(SpecError) as info:
        run_side(p, SideName.A, DType.FLOAT64)
    assert info.value.key == "a.args.sd" and info.value.line == 6
    assert str(info.value).endswith("unknown argument for Normal; its arguments are: loc, "
                                    "scale")


def test_shape_limit_is_enforced_during_evaluation() -> None:
    text = """
        params:
          s: {shape: [2000], init: ones}
        inputs:
          x: {values: [0.0]}
        a: {dist: MultivariateNormal, args: {loc: s, covariance_matrix: diag_embed(s)}}
        b: {dist: Normal, args: {loc: s, scale: s}, event_dims: 1}
    """
    # refused by the budget's dry run as the problem is built, before any side runs
    with pytest.raises(SpecError) as info:
        run_side(BoundSpec(loaded(text), max_elements=100_000), SideName.A, DType.FLOAT64)
    assert info.value.key == "a.args.covariance_matrix"
    assert "4,000,000 elements" in str(info.value) and "--max-elements" in str(info.value)
