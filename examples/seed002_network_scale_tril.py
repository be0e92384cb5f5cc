"""A network outputs 9 numbers per row: 3 means, 3 below-diagonal entries and 3 raw
diagonal entries of scale_tril (the thread's split / 1 + elu / stack). The module itself is
the param: its weights are the leaves (`net.weight`, `net.bias`).
Run: gaussdiag compare examples/seed002_network_scale_tril.py"""

import torch
from torch import nn
from torch.distributions import MultivariateNormal

import gaussdiag

torch.manual_seed(0)
net = nn.Linear(4, 9)
features = torch.randn(8, 4)
labels = torch.randn(8, 3)


def tril_from(outputs, diag):
    loc, tril, _ = outputs.split(3, dim=-1)
    z = torch.zeros_like(loc[:, 0])
    scale_tril = torch.stack([
        diag[:, 0], z, z,
        tril[:, 0], diag[:, 1], z,
        tril[:, 1], tril[:, 2], diag[:, 2],
    ], dim=-1).view(-1, 3, 3)
    return loc, scale_tril


def thread(net, features):
    outputs = net(features)
    loc, scale_tril = tril_from(outputs, 1 + nn.functional.elu(outputs[:, 6:]))
    return MultivariateNormal(loc=loc, scale_tril=scale_tril)


def as_covariance(net, features):
    outputs = net(features)
    loc, scale_tril = tril_from(outputs, 1 + nn.functional.elu(outputs[:, 6:]))
    return MultivariateNormal(loc=loc, covariance_matrix=scale_tril @ scale_tril.mT)


def without_one_plus(net, features):
    outputs = net(features)
    loc, scale_tril = tril_from(outputs, nn.functional.elu(outputs[:, 6:]))
    return MultivariateNormal(loc=loc, scale_tril=scale_tril)


inputs = {"features": features, "labels": labels}
scale_tril_vs_covariance = gaussdiag.Pair(thread, as_covariance, params={"net": net},
                                          inputs=inputs, at="labels")
diagonal_not_positive = gaussdiag.Pair(without_one_plus, thread, params={"net": net},
                                       inputs=inputs, at="labels", expect="invalid-parameters")
