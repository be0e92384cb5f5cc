"""Evaluate one side of a problem in one dtype: log_prob at the evaluation input, summed, and
the gradient of every leaf param (None stays None), with the cost of forward + backward."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gaussdiag.build import Overrides, Problem
from gaussdiag.vocab import DType, SideName

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class SideRun:
    """One side's results in one dtype, moved to the CPU and detached."""

    side: SideName
    dtype: DType
    value: torch.Tensor
    grads: dict[str, torch.Tensor | None]
    seconds: float
    memory_bytes: int | None
    memory_kind: str


_WARM: set[str] = set()


def warm_up(device: torch.device) -> None:
    """Pay torch's one-time start-up costs (kernel loading, LAPACK init) before anything is
    timed, once per device and process, so the first side measured is not charged for them."""
    import torch

    if str(device) in _WARM:
        return
    _WARM.add(str(device))
    for dt in (torch.float32, torch.float64):
        m = torch.eye(3, dtype=dt, device=device) * 2
        loc = torch.zeros(3, dtype=dt, device=device, requires_grad=True)
        d = torch.distributions.MultivariateNormal(loc, covariance_matrix=m)
        d.log_prob(torch.ones(2, 3, dtype=dt, device=device)).sum().backward()
        n = torch.distributions.Normal(loc, torch.ones(3, dtype=dt, device=device))
        n.log_prob(torch.ones(3, dtype=dt, device=device)).sum().backward()


def run_side(problem: Problem, side: SideName, dtype: DType, *, jittered: bool = False,
             overrides: Overrides | None = None, grads: bool = True) -> SideRun:
    """Build `side` in `dtype` and evaluate it; raises ConstraintFailure for broken constraints.

    With grads=False only the forward value is computed (the cheap first test of a candidate).
    """
    import torch

    device = problem.side_devices[side]
    warm_up(device)
    counter = _Memory(device)
    with counter:
        start = time.perf_counter()
        env = problem.env(dtype, side, jittered=jittered, overrides=overrides, with_grad=grads)
        if grads:
            built = problem.build(side, env, dtype)
            value = built.log_prob(env.values[problem.at_name(side)])
            names = [n for n in problem.grad_names if n in env.leaves]
            leaves = [env.leaves[n] for n in names]
            got: list[torch.Tensor | None]
            if value.requires_grad and leaves:
                got = list(torch.autograd.grad(value.sum(), leaves, allow_unused=True))
            else:
                got = [None] * len(leaves)
            out_grads = {n: (g.detach().cpu() if g is not None else None)
                         for n, g in zip(names, got)}
        else:
            with torch.no_grad():
                built = problem.build(side, env, dtype)
                value = built.log_prob(env.values[problem.at_name(side)])
            out_grads = {}
        _sync(device)
        seconds = time.perf_counter() - start
    return SideRun(side, dtype, value.detach().cpu(), out_grads, seconds,
                   counter.bytes, counter.kind)


class _Memory:
    """Peak memory of a forward+backward. CUDA: the allocator's peak above the start. CPU has
    no allocator statistics, so it counts the bytes autograd saves for backward (the part of
    the peak a formulation controls)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.bytes: int | None = None
        self.kind = "peak allocated" if device.type == "cuda" else "saved for backward"
        self._ctx: Any = None
        self._start = 0

    def __enter__(self) -> _Memory:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
        else:
            self.bytes = 0
            seen: set[int] = set()

            def pack(t: torch.Tensor) -> torch.Tensor:
                key = t.untyped_storage().data_ptr()
                if key not in seen:  # count a storage once however often it is saved
                    seen.add(key)
                    self.bytes = (self.bytes or 0) + t.untyped_storage().nbytes()
                return t

            self._ctx = torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t)
            self._ctx.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        if self.device.type == "cuda":
            self.bytes = torch.cuda.max_memory_allocated(self.device) - self._start
        elif self._ctx is not None:
            self._ctx.__exit__(*exc)


def _sync(device: torch.device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def moments(problem: Problem, side: SideName) -> dict[str, torch.Tensor]:
    """The side's mean, variance and covariance where its distribution exposes them (float64,
    at the spec's point), for side-by-side evidence."""
    import torch

    if problem.spec.side(side).kind != "dist":
        return {}
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        env = problem.env(DType.FLOAT64, side, with_grad=False)
        dist = problem.build(side, env, DType.FLOAT64).dist
        for name in ("mean", "variance", "covariance_matrix"):
            try:
                value = getattr(dist, name)
            except (NotImplementedError, AttributeError, ValueError, RuntimeError):
                continue
            if isinstance(value, torch.Tensor):
                out[name] = value.detach().cpu()
    return out
