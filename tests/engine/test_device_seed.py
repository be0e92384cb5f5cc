"""`seeded`: the draws inside are torch.manual_seed's, and the caller's stream goes on as if
nothing had been drawn."""

from __future__ import annotations

import torch

from gaussdiag.engine.device import seeded


def test_seeded_draws_are_manual_seeds_and_leave_the_callers_stream_alone() -> None:
    torch.manual_seed(5)
    expected = torch.randn(4)  # by hand: the global generator seeded with 5
    torch.manual_seed(123)
    ahead = torch.randn(3)  # what the caller's stream gives next, undisturbed
    torch.manual_seed(123)
    with seeded(5):
        drawn = torch.randn(4)
    after = torch.randn(3)
    assert torch.equal(drawn, expected)
    assert torch.equal(after, ahead)
