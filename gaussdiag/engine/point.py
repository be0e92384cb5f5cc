"""The point helpers every front end shares: the jittered second point near the point, and
the largest dimension a sliced copy cuts (`ProblemBase.sliced`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def largest(base: Mapping[str, torch.Tensor], leaf_names: Iterable[str], keep: int
            ) -> int | None:
    """The largest dimension of any leaf above 4 * keep, or None."""
    return max((d for n in leaf_names for d in base[n].shape if d > 4 * keep), default=None)


def cut(t: torch.Tensor, big: int, index: torch.Tensor) -> torch.Tensor:
    """`t` on the entries `index` (sorted) of every dim of size `big`."""
    for dim, size in enumerate(t.shape):
        if size == big:
            t = t.index_select(dim, index)
    return t.contiguous()


def jitter_point(base: Mapping[str, torch.Tensor], grad_names: Iterable[str], seed: int
                 ) -> dict[str, torch.Tensor]:
    """A second point near `base`: each leaf that gets gradients scaled elementwise by
    exp(0.1 u), zeros of vector leaves moved by 0.1 u (matrix zeros stay zero: structure such
    as a triangle is kept). Constants and data stay as written: they are structure (an
    identity, a mask) or observations. Used to tell real equalities from coincidences such as
    std == 1."""
    import torch

    gen = torch.Generator().manual_seed(seed + 7919)
    out = dict(base)
    for name in grad_names:
        t = base[name]
        u = torch.randn(t.shape, dtype=torch.float64, generator=gen)
        if t.ndim >= 2 and t.shape[-1] == t.shape[-2]:
            u = 0.5 * (u + u.transpose(-1, -2))  # keep symmetric matrices symmetric
        moved = t * torch.exp(0.1 * u)
        if t.ndim < 2:
            moved = torch.where(t == 0, 0.1 * u, moved)
        out[name] = moved
    return out
