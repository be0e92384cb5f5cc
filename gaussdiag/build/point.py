"""The point a spec is diagnosed at: every leaf param and literal input generated once from the
seed in float64, a jittered second point near it, and a sliced copy for cheap screening."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from gaussdiag.build.torch_warnings import WarningLog
from gaussdiag.spec import (
    EyeInit,
    FullInit,
    InitTensor,
    LoadedSpec,
    NormalInit,
    SampleInput,
    UniformInit,
    ValuesTensor,
)
from gaussdiag.vocab import SideName

if TYPE_CHECKING:
    import torch

    from gaussdiag.build.problem import BoundSpec


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


def check_size(loaded: LoadedSpec, key: tuple[str, ...], numel: int, max_elements: int) -> None:
    if numel > max_elements:
        raise loaded.error(
            key, f"{numel:,} elements exceeds the limit of {max_elements:,} "
            "(raise it with --max-elements)")


def sliced(problem: BoundSpec, keep: int = 16) -> BoundSpec | None:
    """The same problem on the first `keep` entries of its largest repeated dimension:
    every dim of that size, in every leaf, input and draw, is cut to `keep`. Cheap
    evidence for the reparameterization search at large n (a diagonal or elementwise
    structure survives slicing; anything else is caught by the caller's faithfulness
    check and the full-size confirmation). None when nothing is large enough to cut."""
    if largest(problem.base, problem.leaf_names, keep) is None:
        return None
    for name in problem.spec.inputs:  # draw every sample input before cutting
        if isinstance(problem.spec.inputs[name], SampleInput):
            problem.sample_input(name)
    return cut_copy(problem, keep)


class Sliceable(Protocol):
    """What `cut_copy` reads and replaces: either front end's problem."""

    base: dict[str, torch.Tensor]
    leaf_names: list[str]
    jittered: dict[str, torch.Tensor] | None
    warnings: WarningLog
    _sample_inputs: dict[str, torch.Tensor]
    _reference: dict[SideName, Any]

    def jitter(self) -> dict[str, torch.Tensor]: ...


def largest(base: Mapping[str, torch.Tensor], leaf_names: Iterable[str], keep: int
            ) -> int | None:
    """The largest dimension of any leaf above 4 * keep, or None."""
    return max((d for n in leaf_names for d in base[n].shape if d > 4 * keep), default=None)


P = TypeVar("P", bound=Sliceable)


def cut_copy(problem: P, keep: int) -> P:
    """A shallow copy of `problem` whose point, jittered point and drawn sample inputs are
    cut to `keep` along every dim of the largest size (see `sliced`); its sample inputs
    must be drawn already. No cached reference builds, and a warning log of its own (what
    torch says about the slice is not a note on the problem)."""
    import copy

    big = largest(problem.base, problem.leaf_names, keep)
    assert big is not None

    def cut(t: torch.Tensor) -> torch.Tensor:
        for dim, size in enumerate(t.shape):
            if size == big:
                t = t.narrow(dim, 0, keep)
        return t.contiguous()

    out = copy.copy(problem)
    out.base = {k: cut(v) for k, v in problem.base.items()}
    out.jittered = {k: cut(v) for k, v in problem.jitter().items()}
    out._sample_inputs = {k: cut(v) for k, v in problem._sample_inputs.items()}
    out._reference = {}
    out.warnings = WarningLog()
    return out


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

