"""MultivariateNormal(mean, diag_embed(std)) against Normal(mean, std): the std is passed where
a covariance belongs. Same log_prob only when std is all ones; the gradient of std off by
about 2. Run: gaussdiag compare examples/seed000_std_as_covariance.py"""

import torch
from torch.distributions import Independent, MultivariateNormal, Normal

import gaussdiag

mean = torch.zeros(10)
std = torch.rand(10, generator=torch.Generator().manual_seed(0)) * 1.5 + 0.5


def mvn(mean, std):
    return MultivariateNormal(mean, torch.diag_embed(std))


def mvn_fixed(mean, std):
    return MultivariateNormal(mean, torch.diag_embed(std**2))


def normal(mean, std):
    return Independent(Normal(mean, std), 1)


draws = {"x": gaussdiag.sample("b", (64,))}

std_as_covariance = gaussdiag.Pair(mvn, normal, params={"mean": mean, "std": std},
                                   inputs=draws, expect="parameterization")
fixed = gaussdiag.Pair(mvn_fixed, normal, params={"mean": mean, "std": std}, inputs=draws)
