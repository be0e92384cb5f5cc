"""Evaluate one side of a problem in one dtype, with the cost of forward + backward.

log_prob mode: log_prob at the evaluation input; rsample mode: one draw of `sample_shape`
under the seed. Either way the scalar for backward is the sum, and every leaf param's
gradient is collected (None stays None). train mode: `train_side` steps an optimizer.
"""

from __future__ import annotations

import functools
import time
import weakref
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gaussdiag.engine.arguments import Fn, Seen, Site, watching
from gaussdiag.engine.built import Env, Overrides
from gaussdiag.engine.compiled import untraced
from gaussdiag.engine.device import seeded
from gaussdiag.vocab import DType, Mode, Optimizer, SideKind, SideName

if TYPE_CHECKING:
    import torch

    from gaussdiag.engine.problem import Problem


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
        d.log_prob(torch.ones(2, 3, dtype=dt, device=device)).sum().backward()  # type: ignore[no-untyped-call]
        n = torch.distributions.Normal(loc, torch.ones(3, dtype=dt, device=device))
        n.log_prob(torch.ones(3, dtype=dt, device=device)).sum().backward()  # type: ignore[no-untyped-call]


def run_side(problem: Problem, side: SideName, dtype: DType, *, jittered: bool = False,
             overrides: Overrides | None = None, grads: bool = True,
             validate: bool = True, leaf_values: Mapping[str, torch.Tensor] | None = None,
             arguments: Mapping[Site, Fn] | None = None, timing: bool = False,
             forward: Callable[[Env], torch.Tensor] | None = None, notes: bool = True
             ) -> SideRun:
    """Build `side` in `dtype` and evaluate it; raises ConstraintFailure for broken constraints.

    With grads=False only the forward value is computed (the cheap first test of a candidate);
    validate=False skips torch's argument checks (at n = 4096 a MultivariateNormal's
    symmetry and positive-definiteness checks cost more than its Cholesky factor).
    `leaf_values` supplies some leaves themselves, on the side's device in `dtype`, requiring
    grad (the relations' swap of two params); their gradients are reported under their names.
    `arguments` transforms arguments of the distributions the side constructs (the search's
    hook on what a side computes, `engine.arguments`).
    timing=True is a repeat for the cost (`gaussdiag.engine.cost`): the same work, without the
    memory count (its hooks would be charged to the side) and keeping nothing (torch's
    warnings, the float64 reference: the first run kept them).
    `forward` replaces the build and evaluation (a switch's compiled computation, from the
    environment to the compared value); `notes=False` keeps torch's warnings out of the
    report's notes (a switch's runs: what the compiler says is not the side's).
    """
    import torch

    device = problem.side_devices[side]
    warm_up(device)
    counter = _Memory(device, count=not timing, compiled=forward is not None)
    moved = bool(jittered or overrides or leaf_values or arguments)  # not the spec's own point
    keep = not (moved or timing)
    hooked = watching(arguments) if arguments else nullcontext()
    with counter, problem.warnings.during(side, dtype, keep=notes and keep), hooked:
        start = time.perf_counter()
        env = problem.env(dtype, side, jittered=jittered, overrides=overrides, with_grad=grads,
                          leaf_values=leaf_values)
        if grads:
            value = (forward(env) if forward is not None else
                     compared(problem, side, env, dtype, validate=validate,
                              keep=dtype is DType.FLOAT64 and keep))
            names = [n for n in problem.grad_names if n in env.leaves]
            leaves = [env.leaves[n] for n in names]
            got: list[torch.Tensor | None]
            if value.requires_grad and leaves:
                try:
                    got = list(torch.autograd.grad(value.sum(), leaves, allow_unused=True))
                except RuntimeError as err:  # e.g. more than torch's 64 dimensions
                    raise problem.error(
                        side, f"backward() failed: {str(err).splitlines()[0]}") from None
            else:
                got = [None] * len(leaves)
            out_grads = {n: (g.detach().cpu() if g is not None else None)
                         for n, g in zip(names, got, strict=True)}
        else:
            with torch.no_grad():
                value = compared(problem, side, env, dtype, validate=validate)
            out_grads = {}
        _sync(device)
        seconds = time.perf_counter() - start
    return SideRun(side, dtype, value.detach().cpu(), out_grads, seconds,
                   counter.bytes, counter.kind)


def arguments_of(problem: Problem, side: SideName, *, jittered: bool) -> dict[Site, Seen]:
    """The tensor arguments of every distribution the side constructs, in float64 at the
    point (or the jittered one), with the graph from the params kept long enough to tell
    which are computed from them (a forward pass, no backward)."""
    import torch

    with problem.warnings.during(side, DType.FLOAT64, keep=False), watching() as seen:
        env = problem.env(DType.FLOAT64, side, jittered=jittered)
        compared(problem, side, env, DType.FLOAT64, validate=False)
        given = {id(v) for v in env.values.values()}
        return {site: Seen(v.detach(), v.requires_grad, id(v) in given)
                for site, v in seen.items() if isinstance(v, torch.Tensor)}


def compared(problem: Problem, side: SideName, env: Env, dtype: DType,
             keep: bool = False, validate: bool = True) -> torch.Tensor:
    """The compared value: the draws in rsample mode, else log_prob at the input (or the
    value a side computes from its own names, which needs no input). `keep`
    hands the built side to the problem as its float64 reference (saves a rebuild: at
    n = 4096 a MultivariateNormal costs two Cholesky factorizations to build)."""
    # the keyword only when it is off: a front end's build() need not know about it otherwise
    built = (problem.build(side, env, dtype) if validate
             else problem.build(side, env, dtype, validate=False))
    if keep and validate:
        problem.keep_reference(side, built)
    if problem.mode is Mode.RSAMPLE:
        assert built.draw is not None
        with seeded(problem.seed):  # the generator is reseeded before each side
            return built.draw()
    if built.value is not None:  # a side of its own names: no point needed
        return built.value()
    assert built.log_prob is not None
    return built.log_prob(env.values[problem.at_name(side)])


@dataclass(frozen=True)
class TrainRun:
    """One side's training in one dtype: the params (leaves, flattened and concatenated, in
    float64 on the CPU) after each completed step, and the loss before each step."""

    side: SideName
    dtype: DType
    params: tuple[torch.Tensor, ...]
    losses: tuple[float, ...]
    seconds: float
    interrupted: bool = False


class TrainFailure(Exception):
    """A step produced parameters that break a constraint (ends that dtype's run)."""

    def __init__(self, side: SideName, dtype: DType, step: int, cause: Exception,
                 partial: TrainRun) -> None:
        self.side, self.dtype, self.step = side, dtype, step
        self.cause, self.partial = cause, partial
        super().__init__(f"side {side.value}, {dtype.value}: step {step}: {cause}")


def train_side(problem: Problem, side: SideName, dtype: DType, *,
               progress: Callable[[str], None] | None = None) -> TrainRun:
    """Maximize the mean log_prob(at) with the spec's optimizer from the spec's point.
    Raises TrainFailure (with the partial run) when a step breaks a constraint."""
    import torch

    from gaussdiag.engine.device import torch_dtype
    from gaussdiag.engine.failures import ConstraintFailure

    settings = problem.train_settings
    device = problem.side_devices[side]
    warm_up(device)
    leaves = {n: problem.base[n].to(device=device, dtype=torch_dtype(dtype), copy=True)
              .requires_grad_(True) for n in problem.grad_names}
    # No params to train (every one `grad: false`): the trajectory stays at the start, and the
    # verdict comes from the starting point.
    opt: torch.optim.Optimizer | None = None
    if leaves and settings.optimizer is Optimizer.SGD:
        opt = torch.optim.SGD(list(leaves.values()), lr=settings.lr)
    elif leaves:
        opt = torch.optim.Adam(list(leaves.values()), lr=settings.lr)
    params: list[torch.Tensor] = []
    losses: list[float] = []
    start = time.perf_counter()
    interrupted = False
    with seeded(problem.seed), problem.warnings.during(side, dtype):
        for step in range(1, settings.steps + 1):
            try:
                env = problem.env(dtype, side, leaf_values=leaves)
                built = problem.build(side, env, dtype)
                assert built.log_prob is not None
                loss = -built.log_prob(env.values[problem.at_name(side)]).mean()
                if opt is not None and loss.requires_grad:  # a side using no param: no step
                    opt.zero_grad()
                    loss.backward()  # type: ignore[no-untyped-call]
                    opt.step()
            except ConstraintFailure as err:
                partial = TrainRun(side, dtype, tuple(params), tuple(losses),
                                   time.perf_counter() - start)
                raise TrainFailure(side, dtype, step, err, partial) from None
            except KeyboardInterrupt:  # keep the steps that finished: the report shows them
                interrupted = True
                break
            losses.append(float(loss.detach()))
            params.append(_flat(leaves))
            if progress and step % max(1, settings.steps // 20) == 0:
                progress(f"training side {side.value} in {dtype.value}: "
                         f"step {step}/{settings.steps}")
    return TrainRun(side, dtype, tuple(params), tuple(losses), time.perf_counter() - start,
                    interrupted)


def _flat(leaves: dict[str, torch.Tensor]) -> torch.Tensor:
    import torch

    if not leaves:
        return torch.zeros(0, dtype=torch.float64)
    return torch.cat([t.detach().reshape(-1).double().cpu() for t in leaves.values()])


class _Memory:
    """Peak memory of a forward+backward. CUDA: the allocator's peak above the start. CPU has
    no allocator statistics, so it counts the bytes autograd saves for backward (the part of
    the peak a formulation controls)."""

    def __init__(self, device: torch.device, *, count: bool = True,
                 compiled: bool = False) -> None:
        self.device, self.count = device, count
        self.compiled = compiled  # around a torch.compile'd side: the hook stays eager
        self.bytes: int | None = None
        self.kind = "peak allocated" if device.type == "cuda" else "saved for backward"
        self._ctx: Any = None
        self._start = 0

    def __enter__(self) -> _Memory:
        import torch

        if not self.count:
            return self
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
        else:
            self.bytes = 0
            seen: dict[int, weakref.ref[torch.Tensor]] = {}

            def pack(t: torch.Tensor) -> torch.Tensor:
                # Detached (same storage and version counter): keeping `t` itself makes a
                # saved output hold its own grad_fn, a cycle that outlives the run; a graph
                # never run backward (torch's positive-definiteness check calls cholesky_ex
                # with grad enabled) would leak its factor, 128 MiB at n = 4096 in float64.
                saved = t.detach()
                storage = t.untyped_storage()
                key = storage.data_ptr()
                known = seen.get(key)
                # count a storage once however often it is saved; a dead entry is a freed
                # storage whose address was reused, so this one is new
                if known is None or known() is None:
                    self.bytes = (self.bytes or 0) + storage.nbytes()
                    seen[key] = weakref.ref(saved)
                return saved

            if self.compiled:  # else dynamo compiles the hook too, a graph per saved tensor
                pack = functools.partial(untraced(), pack)
            self._ctx = torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t)
            self._ctx.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        if not self.count:
            return
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

    if problem.kind(side) is not SideKind.DIST:
        return {}
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        dist = problem.reference(side).dist
        for name in ("mean", "variance", "covariance_matrix"):
            if name == "covariance_matrix" and dist.event_shape.numel() > 1024:
                continue  # n x n evidence is too big to be worth building
            try:
                value = getattr(dist, name)
            except (NotImplementedError, AttributeError, ValueError, RuntimeError):
                continue
            if isinstance(value, torch.Tensor):
                out[name] = value.detach().cpu()
    return out
