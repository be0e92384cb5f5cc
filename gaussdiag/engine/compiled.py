"""One side's computation under `torch.compile`: building the side from its params and inputs
and its log_prob (or its draw), forward and backward, compiled with one backend, once per dtype.
What is traced is the side as the front end hands it to a tracer (`Problem.traced`): the
side's own computation, without torch's argument checks or the front end's checks and
contexts (the eager run made the checks on the same values; their data-dependent branches
and the contexts would cut the graph, leaving the side's math eager). What those contexts
set (the seed, a run dtype) is set around the compiled call (`Problem.tracing`).

The compiled function is made per (problem, side, backend, dtype) with a code object of its
own, so that dynamo's cache, keyed on code objects, never mixes problems or hits its
recompile limit across specs (past the limit dynamo would run the side eagerly and the check
would compare eager with eager); the limit is also set to fail loudly. Every graph the
backend is handed is recorded with its inputs, for the reproducer (reproducer.py). Dynamo's
graph-break warnings are kept off stderr while it runs. torch's own compile caches (the FX
graph and kernel caches on disk) serve later runs as usual.
"""

from __future__ import annotations

import functools
import itertools
import logging
import time
import types
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gaussdiag.engine.built import Env
from gaussdiag.engine.device import reseed
from gaussdiag.errors import GaussdiagError
from gaussdiag.vocab import DType, Mode, SideName

if TYPE_CHECKING:
    import torch

    from gaussdiag.engine.problem import Problem

_COUNT = itertools.count(1)
_QUIET = ("torch._dynamo", "torch._inductor", "torch.fx.experimental.symbolic_shapes")


@dataclass
class Graph:
    """A graph the backend was handed: dynamo's FX GraphModule (eager), its inputs as the
    first call gave them (detached copies) and which of them required grad."""

    module: Any  # torch.fx.GraphModule
    inputs: list[Any]
    grads: list[bool]


@dataclass
class Compiled:
    """A side compiled with `backend`: the compiled function per dtype, the graphs recorded
    per dtype and the seconds the first (compiling) call of each took."""

    backend: str
    functions: dict[DType, Callable[..., Any]] = field(default_factory=dict)
    graphs: dict[DType, list[Graph]] = field(default_factory=dict)
    seconds: dict[DType, float] = field(default_factory=dict)
    failure: str | None = None  # what the backend raised, if it failed on a graph


def check_backend(name: str) -> None:
    """GaussdiagError when torch.compile knows no backend `name`."""
    import torch

    try:
        torch._dynamo.lookup_backend(name)
    except Exception:  # noqa: BLE001 - torch's InvalidBackend, whatever its module
        # list_backends leaves out the debug backends, which are the cheap checks
        known = ", ".join(sorted({*torch._dynamo.list_backends(), "aot_eager", "eager"}))
        raise GaussdiagError(f"switch compile:{name}: torch.compile has no backend {name!r} "
                             f"(built in: {known}; a backend of your own is registered with "
                             "torch._dynamo.register_backend)") from None


# A diagnosis's compiled sides, (side, backend) -> Compiled: the coordinator holds one per
# problem, so each side is compiled once per dtype and released with the problem.
CompileCache = dict[tuple[SideName, str], Compiled]


def compiled(cache: CompileCache, side: SideName, backend: str) -> Compiled:
    """The side's compiled state for `backend`, made once per cache."""
    return cache.setdefault((side, backend), Compiled(backend))


def forward_of(problem: Problem, side: SideName, state: Compiled, dtype: DType
               ) -> Callable[[Env], torch.Tensor]:
    """The compiled computation of `side` in `dtype`, from an environment to the compared
    value (log_prob at the input, the value of a side of its own names, or the draws):
    the side as the front end hands it to a tracer (`Problem.traced`), compiled on its first
    call, which is thus all of the compile time."""
    draws = problem.mode is Mode.RSAMPLE
    # seeding, which dynamo cannot trace, told apart so that it cuts the graph cleanly
    reseeded = functools.partial(untraced(), reseed, problem.seed)
    try:
        at = "" if draws else problem.at_name(side)
    except GaussdiagError:
        at = ""  # a side of its own names (a KL term) has no input; the eager run read none

    def computation(values: dict[str, torch.Tensor], leaves: dict[str, torch.Tensor]
                    ) -> torch.Tensor:
        built = problem.traced(side, Env(values, leaves), dtype)
        if draws:
            draw = built.draw
            assert draw is not None
            del built  # what crosses the cut below must be rebuilt by dynamo: the draw alone
            # as an eager run draws (evaluate.compared): under the seed afresh, whatever the
            # build drew (a dropout). The draw is a graph of its own: cut here, at the top,
            # where dynamo compiles what follows
            reseeded()
            return _after_cut(draw, values)
        if built.value is not None:
            return built.value()
        assert built.log_prob is not None
        return built.log_prob(values[at])

    def forward(env: Env) -> torch.Tensor:  # run inside quiet_compiler (the caller's)
        fn = state.functions.get(dtype)
        if fn is None:
            fn = state.functions[dtype] = _compile(
                state, dtype, _fresh(computation, f"gaussdiag_{side.value}_{dtype.value}_"
                                                  f"{next(_COUNT)}"))
        # without torch's argument checks (the eager run checked these very values, and
        # their data-dependent branches would cut the graph at every argument), under what
        # the front end's own contexts set in an eager run: dynamo traces none of them
        with _checks_off(), problem.tracing(dtype):
            out: torch.Tensor = fn(env.values, env.leaves)
        return out

    return forward


@functools.cache
def untraced() -> Callable[..., Any]:
    """f(fn, *args) = fn(*args), hidden from dynamo: a call to it cuts the graph cleanly, and
    what it calls runs eagerly (seeding, a saved-tensor hook). Made once: torch.compiler.disable
    is not free, and each compiled run would pay it."""
    import torch

    def call(fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    return torch.compiler.disable(call)  # type: ignore[no-untyped-call,no-any-return]


def _after_cut(draw: Callable[[], torch.Tensor], held: object) -> torch.Tensor:
    """The draw. `held` (the side's tensors) is passed only to keep it alive across the cut
    before the draw: dynamo compiles the frame after a cut only when a tensor is among its
    locals (a distribution does not count), else the draw would run eagerly."""
    del held
    return draw()


def _compile(state: Compiled, dtype: DType, fn: Callable[..., Any]) -> Callable[..., Any]:
    import torch

    state.graphs.setdefault(dtype, [])
    # static shapes: a side has one shape per dtype, so nothing is gained from symbolic
    # ones, and a graph with concrete sizes is what a reproducer can show
    with _checks_off():  # torch.compile's first call turns them off for good: restored
        return torch.compile(fn, backend=_recording(state, dtype), dynamic=False)


@contextmanager
def _checks_off() -> Iterator[None]:
    """torch.distributions' default argument checks off inside, then as they were: around the
    compiled call (set here, outside what dynamo traces), and around torch.compile itself,
    whose first call in a process turns them off for good (torch._dynamo's TorchPatcher),
    which would leave every later side of the process unchecked."""
    from torch.distributions import Distribution

    saved = Distribution._validate_args
    Distribution.set_default_validate_args(False)
    try:
        yield
    finally:
        Distribution.set_default_validate_args(saved)


def _fresh(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """`fn` with a code object of its own (dynamo caches per code object)."""
    code = fn.__code__.replace(co_name=name)
    return types.FunctionType(code, fn.__globals__, name, fn.__defaults__, fn.__closure__)


def _recording(state: Compiled, dtype: DType) -> Callable[..., Any]:
    """The state's backend, recording each graph it is handed in `dtype` with detached
    copies of its inputs, and what it raised if it fails (the side's own code sees the
    failure first and may report it as its own)."""
    import torch

    inner = torch._dynamo.lookup_backend(state.backend)

    def record(gm: Any, example_inputs: list[Any]) -> Any:
        inputs = [t.detach().clone() if isinstance(t, torch.Tensor) else
                  int(t) if isinstance(t, torch.SymInt) else t for t in example_inputs]
        grads = [isinstance(t, torch.Tensor) and t.requires_grad for t in example_inputs]
        state.graphs[dtype].append(Graph(_copy(gm), inputs, grads))
        try:
            return inner(gm, example_inputs)
        except Exception as err:
            text = str(err).strip().splitlines()
            state.failure = f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")
            raise

    record.__name__ = state.backend  # dynamo's messages name the backend by it
    return record


def _copy(gm: Any) -> Any:
    """A GraphModule with a graph of its own (a backend may rewrite the one it is handed in
    place); the attributes are shared. Not a deepcopy: dynamo's node metadata holds objects
    that cannot be copied."""
    import torch

    graph = torch.fx.Graph()
    out = graph.graph_copy(gm.graph, {})
    graph.output(out)
    return torch.fx.GraphModule(gm, graph)


@contextmanager
def quiet_compiler() -> Iterator[None]:
    """While a side's compiled runs run: dynamo's graph-break warnings off stderr (the check
    says how many graphs it captured), inductor's random ops as eager's (so seeded draws
    match), and a recompile limit that fails instead of quietly running eagerly. Entered once
    around all of a check's compiled runs: each setLevel clears the cache of every logger
    torch has made (about 1 ms, more than a small side's compiled call)."""
    import torch
    import torch._inductor.config as inductor

    levels = {name: logging.getLogger(name).level for name in _QUIET}
    with ExitStack() as stack:
        for name in _QUIET:
            logging.getLogger(name).setLevel(logging.ERROR)
        stack.enter_context(inductor.patch(fallback_random=True))
        dynamo = torch._dynamo.config
        names = ("recompile_limit", "accumulated_recompile_limit")
        limits: dict[str, Any] = {k: 1024 for k in names if hasattr(dynamo, k)}
        if hasattr(dynamo, "fail_on_recompile_limit_hit"):
            limits["fail_on_recompile_limit_hit"] = True
        stack.enter_context(dynamo.patch(limits))
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


def timed_first_call(state: Compiled, dtype: DType, run: Callable[[], Any]) -> Any:
    """Run `run` (a compiled run of the side in `dtype`) twice when it has not run in this
    dtype yet: the first call compiles (its whole time, forward and backward compiled and
    run once, is the dtype's compile time), the second is the run the check keeps and times
    (the compiled code's own cost)."""
    if dtype in state.seconds:
        return run()
    start = time.perf_counter()
    run()
    state.seconds[dtype] = time.perf_counter() - start
    return run()
