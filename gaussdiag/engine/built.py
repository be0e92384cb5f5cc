"""What a front end hands the engine: a side's environment, the side ready to evaluate, and the
overrides hook of the reparameterization search."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gaussdiag.vocab import SideName

if TYPE_CHECKING:
    import torch

# Overrides replace a named param's value on one side by a function of it (the
# reparameterization search's hook): name -> f(tensor) -> tensor.
Overrides = Mapping[str, Callable[["torch.Tensor"], "torch.Tensor"]]


@dataclass
class Env:
    """The named tensors one side is evaluated with, in one dtype, on one device."""

    values: dict[str, torch.Tensor]
    leaves: dict[str, torch.Tensor]  # the leaf params that require grad


@dataclass
class BuiltSide:
    """One side ready to evaluate: a distribution, or a hand-written log-density/draw."""

    name: SideName
    dist: Any  # torch.distributions.Distribution | None
    log_prob: Callable[[torch.Tensor], torch.Tensor] | None
    args: dict[str, torch.Tensor] = field(default_factory=dict)
    draw: Callable[[], torch.Tensor] | None = None  # rsample mode: one draw of sample_shape
    # log_prob mode, a side that computes its value itself (a hand-written log-density, a KL
    # term, a log-prior, a loss): that value, with no point to evaluate at
    value: Callable[[], torch.Tensor] | None = None
