"""The point a spec is diagnosed at: every leaf param and literal input generated once from the
seed in float64 (the jitter and the sliced copy are the engine's: `gaussdiag.engine.point`),
or its shapes alone on the meta device for the dry run."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from gaussdiag.frontends.yaml.spec import (
    EyeInit,
    FullInit,
    InitTensor,
    LoadedSpec,
    NormalInit,
    UniformInit,
    ValuesTensor,
)

if TYPE_CHECKING:
    import torch


def generate(loaded: LoadedSpec, key: tuple[str, ...], p: ValuesTensor | InitTensor,
             gen: torch.Generator, max_elements: int) -> torch.Tensor:
    """One leaf or literal input in float64 (`key` locates errors), drawing from `gen`."""
    import torch

    f64 = torch.float64
    if isinstance(p, ValuesTensor):
        try:
            t = torch.tensor(p.values, dtype=f64)
            finite = t.ndim <= 64 and bool(torch.isfinite(t).all())
        except (OverflowError, RuntimeError, ValueError, TypeError):
            finite = False  # a 400-digit integer, or nesting beyond torch's 64 dimensions
        if not finite:
            raise loaded.error((*key, "values"),
                               "values must be finite numbers in at most 64 dimensions")
        return t
    shape = tuple(p.shape)
    check_size(loaded, key + ("shape",), math.prod(shape), max_elements)
    init = p.init
    if init == "zeros":
        return torch.zeros(shape, dtype=f64)
    if init == "ones":
        return torch.ones(shape, dtype=f64)
    if init == "normal":
        return torch.randn(shape, dtype=f64, generator=gen)
    if init == "uniform":
        return torch.rand(shape, dtype=f64, generator=gen)
    if isinstance(init, FullInit):
        return torch.full(shape, float(init.full), dtype=f64)
    if isinstance(init, NormalInit):
        return torch.randn(shape, dtype=f64, generator=gen) * init.normal.std + init.normal.mean
    if isinstance(init, UniformInit):
        lo, hi = init.uniform
        return torch.rand(shape, dtype=f64, generator=gen) * (hi - lo) + lo
    if isinstance(init, EyeInit):
        if len(shape) < 2 or shape[-1] != shape[-2]:
            raise loaded.error((*key, "init"),
                               "eye needs a shape ending in two equal sizes, "
                               f"found {list(shape)}")
        return torch.eye(shape[-1], dtype=f64).expand(shape).clone()
    raise AssertionError(f"unhandled init {init!r}")


def empty(loaded: LoadedSpec, key: tuple[str, ...], p: ValuesTensor | InitTensor,
          max_elements: int) -> torch.Tensor:
    """What `generate` makes of `p`, shapes only: an empty float64 tensor on torch's meta
    device (the dry run's point). A literal is read (torch raises where it cannot be) but not
    checked; a shape over the limit gets `generate`'s own error."""
    import torch

    if isinstance(p, ValuesTensor):
        shape = torch.tensor(p.values, dtype=torch.float64).shape  # the document's own numbers
    else:
        shape = torch.Size(p.shape)
        check_size(loaded, key + ("shape",), math.prod(shape), max_elements)
    return torch.empty(shape, dtype=torch.float64, device=torch.device("meta"))


def check_size(loaded: LoadedSpec, key: tuple[str, ...], numel: int, max_elements: int) -> None:
    if numel > max_elements:
        raise loaded.error(
            key, f"{numel:,} elements exceeds the limit of {max_elements:,} "
            "(raise it with --max-elements)")
