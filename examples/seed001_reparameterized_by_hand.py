"""z = x_var.sqrt() * torch.randn(x_mean.size()) + x_mean, the thread's own line, against
Normal(x_mean, x_var.sqrt()).rsample(): the same draws under the same seed, and the gradient
reaches x_mean and x_var on both sides. torch.randn(size) follows each run's dtype (the side
runs with torch's default dtype set to it). With the thread's x_var = randn(...) the variances
are negative and the scale is invalid.
Run: gaussdiag compare examples/seed001_reparameterized_by_hand.py"""

import torch
from torch.distributions import Normal

import gaussdiag

gen = torch.Generator().manual_seed(0)
x_mean = torch.randn(2, 4, 5, 5, generator=gen)
x_var = torch.rand(2, 4, 5, 5, generator=gen) * 3.9 + 0.1


def by_hand(x_mean, x_var):
    return x_var.sqrt() * torch.randn(x_mean.size()) + x_mean


def rsample(x_mean, x_var):
    return Normal(x_mean, x_var.sqrt())


by_hand_vs_rsample = gaussdiag.Pair(by_hand, rsample, params={"x_mean": x_mean, "x_var": x_var},
                                    mode="rsample", expect="agree")
negative_variance = gaussdiag.Pair(
    by_hand, rsample, params={"x_mean": x_mean, "x_var": torch.randn(2, 4, 5, 5, generator=gen)},
    mode="rsample", expect="invalid-parameters")
