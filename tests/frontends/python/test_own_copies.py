"""Each side gets its own copies of the inputs and params, per side and per run: an in-place
change stays inside the side that made it, and the caller's tensors and modules stay as
they were."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.distributions import Independent, Normal

import gaussdiag
from gaussdiag.testing import assert_equivalent
from gaussdiag.vocab import DType

X = torch.tensor([[0.25, -1.0, 2.0], [1.5, 0.0, -0.5]])
PARAMS = {"m": torch.tensor([0.1, -0.2, 0.3]), "s": torch.tensor([0.5, 1.0, 2.0])}


class Seen:
    """Records the input each call of a side received, before the side changes it."""

    def __init__(self) -> None:
        self.inputs: list[torch.Tensor] = []

    def shifted(self, m: torch.Tensor, s: torch.Tensor, x: torch.Tensor) -> Independent:
        self.inputs.append(x.detach().double().clone())
        x.add_(1)  # in place: must not reach the other side or the next run
        return Independent(Normal(m, s), 1).log_prob(x)


def test_two_identical_sides_that_shift_the_input_in_place_agree() -> None:
    seen = Seen()
    params = {k: v.clone() for k, v in PARAMS.items()}
    x = X.clone()
    report = gaussdiag.compare(seen.shifted, seen.shifted, params=params, inputs={"x": x})
    assert report.verdict == "agree", report
    # every call saw the caller's x, never one shifted by an earlier call
    assert len(seen.inputs) >= 4
    for got in seen.inputs:
        assert torch.allclose(got, X.double(), rtol=0, atol=1e-7), got
    assert torch.equal(x, X) and all(torch.equal(params[k], PARAMS[k]) for k in PARAMS)


def test_an_in_place_shift_equals_the_shifted_input_written_out() -> None:
    def written_out(m: torch.Tensor, s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return Independent(Normal(m, s), 1).log_prob(x + 1)

    report = assert_equivalent(Seen().shifted, written_out, params=PARAMS, inputs={"x": X})
    # float64 reference by hand: log N(x + 1; m, s) summed over the event
    x, m, s = X.double() + 1, PARAMS["m"].double(), PARAMS["s"].double()
    want = (-0.5 * ((x - m) / s) ** 2 - s.log() - 0.5 * torch.log(torch.tensor(2 * torch.pi,
                                                                               dtype=torch.float64))
            ).sum(-1)
    got = Independent(Normal(m, s), 1).log_prob(x)
    assert torch.allclose(got, want, rtol=1e-14, atol=0)
    assert next(q for q in report.quantities if q.name == "log_prob").diff[DType.FLOAT64] == 0


def test_a_sampled_input_changed_in_place_stays_in_its_side() -> None:
    def shifting(m: torch.Tensor, s: torch.Tensor, x: torch.Tensor | None = None) -> Normal:
        if x is not None:  # None while x itself is drawn from this side
            x.add_(1)
        return Normal(m, s)

    report = gaussdiag.compare(shifting, shifting, params=PARAMS,
                               inputs={"x": gaussdiag.sample("b", (16,))})
    assert report.verdict == "agree", report


def normal(m: torch.Tensor, s: torch.Tensor) -> Normal:
    return Normal(m, s)


def test_a_param_changed_in_place_keeps_its_gradient_through_the_change() -> None:
    def floored_in_place(m: torch.Tensor, s: torch.Tensor) -> Normal:
        s.clamp_(min=0.75)  # torch refuses this on a leaf that requires grad
        return Normal(m, s)

    def floored(m: torch.Tensor, s: torch.Tensor) -> Normal:
        return Normal(m, s.clamp(min=0.75))

    report = gaussdiag.compare(floored_in_place, floored, params=PARAMS, inputs={"x": X})
    assert report.verdict == "agree", report
    # and it is not the unclamped side: s = 0.5 is clamped on both
    other = gaussdiag.compare(floored_in_place, normal, params=PARAMS, inputs={"x": X})
    assert other.verdict == "mismatch"


def test_the_callers_module_is_untouched_by_a_side_that_changes_its_weights() -> None:
    net = nn.Linear(3, 3)
    before = {k: v.clone() for k, v in net.state_dict().items()}

    def scaled_weights(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            net.weight.mul_(2)  # in place, as a weight-clipping step would
        return Normal(net(x), 1.0).log_prob(x).sum(-1)

    report = gaussdiag.compare(scaled_weights, scaled_weights, params={"net": net},
                               inputs={"x": X})
    assert report.verdict == "agree", report
    assert all(torch.equal(net.state_dict()[k], before[k]) for k in before)


@pytest.mark.parametrize("mode", ["log_prob", "train"])
def test_in_place_sides_agree_in_each_mode(mode: str) -> None:
    seen = Seen()
    keywords: dict[str, object] = {"train": {"steps": 5}} if mode == "train" else {}
    report = gaussdiag.compare(seen.shifted, seen.shifted, params=PARAMS, inputs={"x": X},
                               mode=mode, **keywords)
    assert report.verdict == "agree", report
