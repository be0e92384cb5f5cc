"""Normal with scale 0.01 evaluated far out (x = 10): huge gradients, yet the same numbers as
the hand-written log-density, so large but correct. A zero scale breaks the constraint, and a
forgotten softplus is a parameterization.
Run: gaussdiag compare examples/seed003_tiny_scale.py"""

import math

import torch
from torch.distributions import Normal
from torch.nn.functional import softplus

import gaussdiag


def normal(mean, std):
    return Normal(mean, std)


def by_hand(mean, std, x):
    return -0.5 * ((x - mean) / std) ** 2 - std.log() - 0.5 * math.log(2 * math.pi)


def softplus_normal(mean, std):
    return Normal(mean, softplus(std))


far = {"x": torch.tensor([10.0])}
tiny_scale = gaussdiag.Pair(normal, by_hand, params={"mean": torch.tensor([0.0]),
                                                     "std": torch.tensor([0.01])},
                            inputs=far, expect="agree")
zero_scale = gaussdiag.Pair(normal, by_hand, params={"mean": torch.tensor([0.0]),
                                                     "std": torch.tensor([0.0])},
                            inputs={"x": torch.tensor([1.0])}, expect="invalid-parameters")
softplus_forgotten = gaussdiag.Pair(softplus_normal, normal,
                                    params={"mean": torch.zeros(5),
                                            "std": torch.linspace(0.3, 2.0, 5)},
                                    inputs={"x": torch.linspace(-2.0, 3.0, 5)},
                                    expect="parameterization")
