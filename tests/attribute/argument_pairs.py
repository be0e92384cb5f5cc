"""Pairs whose bug sits on a tensor a side computes (a network head's output, an argument of
a distribution), and their corrected twins. Read by test_argument_search.py, through
`gaussdiag compare` on this file and through `gaussdiag.compare`.

BUGS maps a Pair's name to what the search must find: (side, dist, argument, transform) of
the cause, and the other side's fix when there is one (dist None: a param). EQUIVALENT names
the twins, written by hand with the fix, that must stay agree or round-off.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import (
    Bernoulli,
    Beta,
    Categorical,
    Gamma,
    Independent,
    LogNormal,
    LowRankMultivariateNormal,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
    Poisson,
)
from torch.nn import functional as F

import gaussdiag

torch.manual_seed(0)


class Head(nn.Module):
    """A policy head: a mean and a positive spread from a shared layer."""

    def __init__(self, d_in: int = 4, d_out: int = 3) -> None:
        super().__init__()
        self.body = nn.Linear(d_in, 8)
        self.mu = nn.Linear(8, d_out)
        self.s = nn.Linear(8, d_out)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.tanh(self.body(obs))
        return self.mu(h), F.softplus(self.s(h)) + 0.2


NET = Head()
OBS = torch.randn(5, 4)
RAW = torch.randn(5, 3)
IN = {"obs": OBS}


def _x(side: str, *shape: int) -> dict[str, object]:
    return {**IN, "x": gaussdiag.sample(side, shape)}


# ---- 1. a Normal's scale from a head: a variance where a std belongs -----------------------

def normal_var_a(net, obs):
    mu, s = net(obs)
    return Normal(mu, s)


def normal_var_b(net, obs):
    mu, s = net(obs)
    return Normal(mu, s.sqrt())


normal_scale_head = gaussdiag.Pair(normal_var_a, normal_var_b, params={"net": NET},
                                   inputs=_x("b", 6), at="x")
normal_scale_head_fixed = gaussdiag.Pair(normal_var_a, lambda net, obs: Normal(*net(obs)),
                                         params={"net": NET}, inputs=_x("b", 6), at="x")

# ---- 2. thread 000 with a head: MVN(covariance=diag(std)) against Independent Normal ------


def mvn_diag_std(net, obs):
    mu, std = net(obs)
    return MultivariateNormal(mu, covariance_matrix=torch.diag_embed(std))


def independent_normal(net, obs):
    mu, std = net(obs)
    return Independent(Normal(mu, std), 1)


mvn_covariance_head = gaussdiag.Pair(mvn_diag_std, independent_normal, params={"net": NET},
                                     inputs=_x("b", 6), at="x")
mvn_covariance_head_fixed = gaussdiag.Pair(
    lambda net, obs: MultivariateNormal(net(obs)[0], torch.diag_embed(net(obs)[1] ** 2)),
    independent_normal, params={"net": NET}, inputs=_x("b", 6), at="x")

# ---- 3. a covariance passed as a precision matrix ------------------------------------------


def _spd(raw):
    return raw @ raw.mT + torch.eye(raw.shape[-1])


_SQ = {"mean": torch.randn(3), "raw": torch.randn(3, 3)}
_SQ_IN = {"x": torch.randn(6, 3)}
covariance_as_precision = gaussdiag.Pair(
    lambda mean, raw, x: MultivariateNormal(mean, covariance_matrix=_spd(raw)),
    lambda mean, raw, x: MultivariateNormal(mean, precision_matrix=_spd(raw)),
    params=_SQ, inputs=_SQ_IN)
covariance_as_precision_fixed = gaussdiag.Pair(
    lambda mean, raw, x: MultivariateNormal(mean, covariance_matrix=_spd(raw)),
    lambda mean, raw, x: MultivariateNormal(mean, precision_matrix=torch.linalg.inv(_spd(raw))),
    params=_SQ, inputs=_SQ_IN)

# ---- 4. Categorical: probabilities passed as logits ---------------------------------------

_CAT = {"w": torch.randn(5, 4)}
_CAT_IN = {"k": torch.tensor([0, 3, 1, 2, 3])}
categorical_probs_as_logits = gaussdiag.Pair(
    lambda w, k: Categorical(probs=torch.softmax(w, -1)),
    lambda w, k: Categorical(logits=torch.softmax(w, -1)), params=_CAT, inputs=_CAT_IN)
categorical_probs_as_logits_fixed = gaussdiag.Pair(
    lambda w, k: Categorical(probs=torch.softmax(w, -1)),
    lambda w, k: Categorical(logits=torch.log_softmax(w, -1)), params=_CAT, inputs=_CAT_IN)

# ---- 5. Gamma: a scale passed as a rate ---------------------------------------------------

_GAM = {"h": torch.randn(4), "c": torch.rand(4) + 1.0}
_GAM_IN = {"x": torch.rand(6, 4) + 0.5}
gamma_scale_as_rate = gaussdiag.Pair(
    lambda h, c, x: Gamma(c, rate=F.softplus(h)),
    lambda h, c, x: Gamma(c, rate=1 / F.softplus(h)), params=_GAM, inputs=_GAM_IN)
gamma_scale_as_rate_fixed = gaussdiag.Pair(
    lambda h, c, x: Gamma(c, rate=F.softplus(h)),
    lambda h, c, x: Gamma(c, rate=1 / (1 / F.softplus(h))), params=_GAM, inputs=_GAM_IN)

# ---- 6. LogNormal: a variance where its sigma belongs --------------------------------------

_LN = {"m": torch.randn(4), "h": torch.randn(4)}
_LN_IN = {"x": torch.rand(6, 4) + 0.3}
lognormal_variance = gaussdiag.Pair(
    lambda m, h, x: LogNormal(m, F.softplus(h) ** 2),
    lambda m, h, x: LogNormal(m, F.softplus(h)), params=_LN, inputs=_LN_IN)
lognormal_variance_fixed = gaussdiag.Pair(
    lambda m, h, x: LogNormal(m, (F.softplus(h) ** 2).sqrt()),
    lambda m, h, x: LogNormal(m, F.softplus(h)), params=_LN, inputs=_LN_IN)

# ---- 7. a mixture component's scale ---------------------------------------------------------

_MIX = {"logits": torch.randn(3), "locs": torch.randn(3), "h": torch.randn(3)}
_MIX_IN = {"x": torch.randn(8)}


def mixture(logits, locs, h, square=False):
    scale = F.softplus(h) + 0.3
    return MixtureSameFamily(Categorical(logits=logits),
                             Normal(locs, scale ** 2 if square else scale))


mixture_component_scale = gaussdiag.Pair(
    lambda logits, locs, h, x: mixture(logits, locs, h, square=True),
    lambda logits, locs, h, x: mixture(logits, locs, h), params=_MIX, inputs=_MIX_IN)
mixture_component_scale_fixed = gaussdiag.Pair(
    lambda logits, locs, h, x: mixture(logits, locs, h),
    lambda logits, locs, h, x: mixture(logits, locs, h), params=_MIX, inputs=_MIX_IN)

# ---- 8. Beta: a concentration squared -------------------------------------------------------

_BETA = {"h": torch.randn(2, 4)}
_BETA_IN = {"x": torch.rand(6, 4) * 0.9 + 0.05}
beta_concentration = gaussdiag.Pair(
    lambda h, x: Beta(F.softplus(h[0]) + 0.5, F.softplus(h[1]) + 0.5),
    lambda h, x: Beta((F.softplus(h[0]) + 0.5) ** 2, F.softplus(h[1]) + 0.5),
    params=_BETA, inputs=_BETA_IN)
beta_concentration_fixed = gaussdiag.Pair(
    lambda h, x: Beta(F.softplus(h[0]) + 0.5, F.softplus(h[1]) + 0.5),
    lambda h, x: Beta(((F.softplus(h[0]) + 0.5) ** 2).sqrt(), F.softplus(h[1]) + 0.5),
    params=_BETA, inputs=_BETA_IN)

# ---- 9. a scale_tril given variances from a head ---------------------------------------------

mvn_scale_tril_variance = gaussdiag.Pair(
    lambda net, obs: MultivariateNormal(net(obs)[0], scale_tril=torch.diag_embed(net(obs)[1])),
    lambda net, obs: Independent(Normal(net(obs)[0], net(obs)[1].sqrt()), 1),
    params={"net": NET}, inputs=_x("b", 6), at="x")
mvn_scale_tril_variance_fixed = gaussdiag.Pair(
    lambda net, obs: MultivariateNormal(net(obs)[0],
                                        scale_tril=torch.diag_embed(net(obs)[1].sqrt())),
    lambda net, obs: Independent(Normal(net(obs)[0], net(obs)[1].sqrt()), 1),
    params={"net": NET}, inputs=_x("b", 6), at="x")

# ---- 10. LowRankMultivariateNormal's cov_diag holds standard deviations --------------------

_LR = {"m": torch.randn(4), "w": torch.randn(4, 2), "h": torch.randn(4)}
_LR_IN = {"x": torch.randn(6, 4)}


def _std(h):
    return F.softplus(h) + 0.2


lowrank_cov_diag = gaussdiag.Pair(
    lambda m, w, h, x: LowRankMultivariateNormal(m, w, _std(h)),
    lambda m, w, h, x: MultivariateNormal(m, w @ w.T + torch.diag_embed(_std(h) ** 2)),
    params=_LR, inputs=_LR_IN)
lowrank_cov_diag_fixed = gaussdiag.Pair(
    lambda m, w, h, x: LowRankMultivariateNormal(m, w, _std(h) ** 2),
    lambda m, w, h, x: MultivariateNormal(m, w @ w.T + torch.diag_embed(_std(h) ** 2)),
    params=_LR, inputs=_LR_IN)

# ---- 11. Poisson: a log-rate passed as the rate ------------------------------------------

_POI = {"w": torch.randn(5) * 0.5}
_POI_IN = {"k": torch.tensor([0.0, 2.0, 1.0, 4.0, 1.0])}
poisson_log_rate = gaussdiag.Pair(
    lambda w, k: Poisson(torch.exp(torch.tanh(w) + 2.0)),
    lambda w, k: Poisson(torch.tanh(w) + 2.0),
    params=_POI, inputs=_POI_IN)
poisson_log_rate_fixed = gaussdiag.Pair(
    lambda w, k: Poisson(torch.exp(torch.tanh(w) + 2.0)),
    lambda w, k: Poisson(torch.exp(torch.tanh(w) + 2.0)), params=_POI, inputs=_POI_IN)

# ---- 12. Bernoulli: probabilities passed as logits, from a head ---------------------------

_LIN = nn.Linear(4, 1)
_BER_IN = {"obs": OBS, "y": torch.tensor([[1.0], [0.0], [1.0], [1.0], [0.0]])}
bernoulli_probs_as_logits = gaussdiag.Pair(
    lambda lin, obs, y: Bernoulli(probs=torch.sigmoid(lin(obs))),
    lambda lin, obs, y: Bernoulli(logits=torch.sigmoid(lin(obs))),
    params={"lin": _LIN}, inputs=_BER_IN, at="y")
bernoulli_probs_as_logits_fixed = gaussdiag.Pair(
    lambda lin, obs, y: Bernoulli(probs=torch.sigmoid(lin(obs))),
    lambda lin, obs, y: Bernoulli(logits=lin(obs)), params={"lin": _LIN}, inputs=_BER_IN,
    at="y")

# ---- 13. a log-variance read as a log-std (the scale candidate, on a param) ---------------

_VAE = {"mu": torch.randn(6), "h": torch.randn(6)}
_VAE_IN = {"x": torch.randn(8, 6)}
log_variance_as_log_std = gaussdiag.Pair(
    lambda mu, h, x: Normal(mu, torch.exp(h)),
    lambda mu, h, x: Normal(mu, torch.exp(h / 2)), params=_VAE, inputs=_VAE_IN)
log_variance_as_log_std_fixed = gaussdiag.Pair(
    lambda mu, h, x: Normal(mu, torch.exp(h / 2)),
    lambda mu, h, x: Normal(mu, torch.exp(0.5 * h)), params=_VAE, inputs=_VAE_IN)


# What the search must find: the cause (side, dist or None for a param, argument or param
# name, transform) and the other side's (None when no inverse explains there).
BUGS = {
    "normal_scale_head": (("b", "Normal", "scale", "square"), ("a", "Normal", "scale", "sqrt")),
    "mvn_covariance_head": (("a", "MultivariateNormal", "covariance_matrix", "square"),
                            ("b", "Normal", "scale", "sqrt")),
    "covariance_as_precision": (("a", "MultivariateNormal", "covariance_matrix", "inverse"),
                                ("b", "MultivariateNormal", "precision_matrix", "inverse")),
    "categorical_probs_as_logits": (("a", "Categorical", "probs", "exp"),
                                    ("b", "Categorical", "logits", "log")),
    "gamma_scale_as_rate": (("a", "Gamma", "rate", "reciprocal"),
                            ("b", "Gamma", "rate", "reciprocal")),
    "lognormal_variance": (("b", "LogNormal", "scale", "square"),
                           ("a", "LogNormal", "scale", "sqrt")),
    "mixture_component_scale": (("b", "Normal", "scale", "square"),
                                ("a", "Normal", "scale", "sqrt")),
    "beta_concentration": (("a", "Beta", "concentration1", "square"),
                           ("b", "Beta", "concentration1", "sqrt")),
    "mvn_scale_tril_variance": (("b", "Normal", "scale", "square"),
                                ("a", "MultivariateNormal", "scale_tril", "sqrt")),
    "lowrank_cov_diag": (("a", "LowRankMultivariateNormal", "cov_diag", "square"), None),
    "poisson_log_rate": (("b", "Poisson", "rate", "exp"), ("a", "Poisson", "rate", "log")),
    "bernoulli_probs_as_logits": (("a", "Bernoulli", "probs", "sigmoid"),
                                  ("b", "Bernoulli", "logits", "logit")),
    "log_variance_as_log_std": (("a", None, "h", "scale"), ("b", None, "h", "scale")),
}
EQUIVALENT = [f"{name}_fixed" for name in BUGS]
