"""An nn.Module as a side: the names it takes are read from its `forward`."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.distributions import Independent, MultivariateNormal, Normal

import gaussdiag
from gaussdiag.frontends.python.sides import LiveSide
from gaussdiag.vocab import SideName


class StdAsCovariance(nn.Module):
    """Thread 000's mix-up as a module: a std passed as a covariance."""

    def forward(self, mean: torch.Tensor, std: torch.Tensor) -> MultivariateNormal:
        return MultivariateNormal(mean, torch.diag_embed(std))


class Diagonal(nn.Module):
    def forward(self, mean: torch.Tensor, std: torch.Tensor, scale: float = 1.0) -> Independent:
        return Independent(Normal(mean, std * scale), 1)


def diagonal(mean: torch.Tensor, std: torch.Tensor) -> Independent:
    return Independent(Normal(mean, std), 1)


PARAMS = {"mean": torch.zeros(4), "std": torch.tensor([0.5, 1.0, 1.5, 2.0])}
INPUTS = {"x": gaussdiag.sample("b", (32,)), "unused": torch.zeros(1)}


def test_a_module_takes_only_the_names_of_its_forward() -> None:
    live = LiveSide(SideName.A, Diagonal(), ["mean", "std"], ["x", "unused"])
    assert live.takes == ["mean", "std"]
    assert live.label == "Diagonal(mean, std)"


def test_a_module_side_gets_the_verdict_of_the_same_function() -> None:
    report = gaussdiag.compare(StdAsCovariance(), Diagonal(), params=PARAMS, inputs=INPUTS,
                               at="x")
    assert report.verdict == "parameterization", report
    assert report.cause is not None
    assert (report.cause.side.value, report.cause.param, report.cause.transform) == (
        "a", "std", "square")
    # the same diagnosis as with plain functions on both sides
    plain = gaussdiag.compare(lambda mean, std: MultivariateNormal(mean, torch.diag_embed(std)),
                              diagonal, params=PARAMS, inputs=INPUTS, at="x")
    assert [(q.name, q.diff) for q in report.quantities] == [
        (q.name, q.diff) for q in plain.quantities]


def test_an_equivalent_module_agrees() -> None:
    report = gaussdiag.compare(Diagonal(), diagonal, params=PARAMS, inputs=INPUTS, at="x")
    assert report.verdict == "agree", report


def test_a_forward_taking_an_unknown_name_is_named() -> None:
    class Asks(nn.Module):
        def forward(self, mean: torch.Tensor, sigma: torch.Tensor) -> Normal:
            return Normal(mean, sigma)

    with pytest.raises(gaussdiag.GaussdiagError, match="side a takes `sigma`, which is neither"):
        gaussdiag.compare(Asks(), diagonal, params=PARAMS, inputs=INPUTS, at="x")
