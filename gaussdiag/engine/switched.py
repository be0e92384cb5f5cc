"""Running one side under a switch (engine/switch.py names them), against the same side
without it. What each switch runs:

  compile   every dtype of the problem, eager and compiled (engine/compiled.py), on the side's
            device
  device    every dtype, on the CPU and on the switch's device
  tf32      on CUDA: float32 with TF32 off and on (matmul and cuDNN), float64 as the reference
  autocast  on the side's device: float32 without and with torch.autocast, float64 as the
            reference

The pair's own runs of the side are reused where they are the side without the switch (on
its own device, nothing changed). torch's warnings during a switch's runs are not the side's
and stay out of the notes. The runs are judged in gaussdiag/attribute/switch_rules.py.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gaussdiag.engine.compiled import (
    CompileCache,
    Compiled,
    check_backend,
    compiled,
    forward_of,
    quiet_compiler,
    timed_first_call,
)
from gaussdiag.engine.device import resolve_device, torch_dtype
from gaussdiag.engine.evaluate import SideRun, run_side
from gaussdiag.engine.failures import ConstraintFailure
from gaussdiag.engine.switch import Switch
from gaussdiag.errors import DeviceError, GaussdiagError
from gaussdiag.vocab import DType, SideName, SwitchKind

if TYPE_CHECKING:
    import torch

    from gaussdiag.engine.built import Env
    from gaussdiag.engine.problem import Problem

Outcome = SideRun | ConstraintFailure


class SwitchFailed(GaussdiagError):
    """The side could not run under the switch at all (a compiler error): the check reports
    it instead of a verdict."""


@dataclass(frozen=True)
class SwitchRuns:
    """A side's runs without and with a switch, per dtype (a ConstraintFailure where it broke
    a constraint); for compile, the seconds each dtype's compilation took and the graphs
    torch.compile captured; `device` is where the switched runs ran."""

    switch: Switch
    side: SideName
    without: dict[DType, Outcome]
    switched: dict[DType, Outcome]
    device: str
    compile_seconds: dict[DType, float] = field(default_factory=dict)
    graphs: dict[DType, int] = field(default_factory=dict)


def require(problem: Problem, side: SideName, switch: Switch) -> torch.device:
    """The device the switched runs use; DeviceError naming the switch when it is absent,
    GaussdiagError for a backend or format torch does not have."""
    import torch

    own = problem.side_devices[side]
    try:
        if switch.kind is SwitchKind.DEVICE:
            return resolve_device(switch.arg)
        if switch.kind is SwitchKind.TF32:
            return own if own.type == "cuda" else resolve_device("cuda")
    except DeviceError as err:
        found = str(err).split("; use --device")[0]  # that advice is for the spec's device
        raise DeviceError(f"switch {switch.name}: {found}; run this check where the device "
                          "is, or skip it with --skip-absent-devices") from None
    if switch.kind is SwitchKind.COMPILE:
        check_backend(switch.arg)
    elif switch.kind is SwitchKind.AUTOCAST:
        available = getattr(torch.amp.autocast_mode, "is_autocast_available", None)
        if available is not None and not available(own.type):
            raise DeviceError(f"switch {switch.name}: torch has no autocast on {own.type}")
    return own


def run_switched(problem: Problem, side: SideName, switch: Switch,
                 reuse: Mapping[DType, Outcome], cache: CompileCache) -> SwitchRuns:
    """The side's runs without and with `switch`. `reuse` holds the pair's runs of the side
    in each dtype (on its own device, unswitched). Raises SwitchFailed when the side cannot
    run under the switch, GaussdiagError for what the user must fix."""
    import torch

    device = require(problem, side, switch)
    own = problem.side_devices[side]
    kind = switch.kind
    if kind is SwitchKind.COMPILE:
        state = compiled(cache, side, switch.arg)
        without = {dt: _reused(problem, side, dt, reuse) for dt in problem.run_dtypes}
        # where the side breaks a constraint eagerly it is invalid whatever compiles it (the
        # compiled build skips the checks that say so): its failure stands for both runs
        switched: dict[DType, Outcome] = {
            dt: w for dt, w in without.items() if isinstance(w, ConstraintFailure)}
        with quiet_compiler():
            for dt in problem.run_dtypes:
                if dt in switched:
                    continue
                fwd = forward_of(problem, side, state, dt)
                switched[dt] = timed_first_call(state, dt, functools.partial(
                    _compiled_run, problem, side, dt, fwd, state))
        return SwitchRuns(switch, side, without, switched, str(device),
                          dict(state.seconds), {dt: len(g) for dt, g in state.graphs.items()})
    if kind is SwitchKind.DEVICE:
        cpu = torch.device("cpu")
        on_cpu = problem if own.type == "cpu" else problem.on_device(side, cpu)
        moved = problem.on_device(side, device)
        without = {dt: (_reused(problem, side, dt, reuse) if own.type == "cpu"
                        else _run(on_cpu, side, dt)) for dt in problem.run_dtypes}
        switched = {dt: _run(moved, side, dt) for dt in problem.run_dtypes}
        return SwitchRuns(switch, side, without, switched, str(device))
    f32, f64 = DType.FLOAT32, DType.FLOAT64
    if kind is SwitchKind.TF32:
        there = problem if own == device else problem.on_device(side, device)
        without = {f64: _run(there, side, f64),
                   f32: _run(there, side, f32, lambda: tf32(on=False))}
        switched = {f32: _run(there, side, f32, lambda: tf32(on=True))}
        return SwitchRuns(switch, side, without, switched, str(device))
    assert kind is SwitchKind.AUTOCAST and switch.format is not None
    low = torch_dtype(switch.format)
    without = {dt: _reused(problem, side, dt, reuse) for dt in (f32, f64)}
    def autocast() -> AbstractContextManager[object]:
        return torch.autocast(device_type=own.type, dtype=low)

    switched = {f32: _run(problem, side, f32, autocast)}
    return SwitchRuns(switch, side, without, switched, str(own))


def _reused(problem: Problem, side: SideName, dtype: DType,
            reuse: Mapping[DType, Outcome]) -> Outcome:
    return reuse[dtype] if dtype in reuse else _run(problem, side, dtype)


def _run(problem: Problem, side: SideName, dtype: DType,
         context: Callable[[], AbstractContextManager[object]] = nullcontext) -> Outcome:
    try:
        with context():
            return run_side(problem, side, dtype, notes=False)
    except ConstraintFailure as failure:
        return failure


def _compiled_run(problem: Problem, side: SideName, dtype: DType,
                  forward: Callable[[Env], torch.Tensor], state: Compiled) -> Outcome:
    """One compiled run; a failure of the backend (whoever caught it first: the side's own
    code may have reported it as its own error) is SwitchFailed, in the backend's words."""
    try:
        return run_side(problem, side, dtype, forward=forward, notes=False)
    except ConstraintFailure as failure:
        if state.failure is None:
            return failure
        err: Exception = failure
    except Exception as raised:  # noqa: BLE001 - the compiler's own errors, of any type
        if isinstance(raised, GaussdiagError) and state.failure is None:
            raise
        err = raised
    text = state.failure or f"{type(err).__name__}: {str(err).strip().splitlines()[0]}"
    raise SwitchFailed(f"torch.compile with backend {state.backend!r} failed on side "
                       f"{side.value} in {dtype.value}: {text}") from None


@contextmanager
def tf32(*, on: bool) -> Iterator[None]:
    """TF32 for CUDA matmul and cuDNN on or off inside, then as it was."""
    import torch

    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
