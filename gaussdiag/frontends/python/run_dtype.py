"""A Python side runs in the run's dtype: torch's default dtype is the run's while the side's
code runs, so `torch.randn(size)`, `torch.tensor([0.5])` and `torch.zeros(n)` inside it follow
the run; and what still arrives in a less precise dtype (a tensor made with
`dtype=torch.float32`, a module buffer) is found and named.

torch's default dtype is process-wide, not per thread. Blocks of one dtype share it; a
thread that needs another dtype waits until the blocks of the first have ended in every
thread, so no side ever runs under a default it did not ask for. Code outside gaussdiag in
other threads sees the run's default meanwhile.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gaussdiag.engine.device import seeded
from gaussdiag.engine.torch_warnings import WarningLog

if TYPE_CHECKING:
    import torch

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # gaussdiag/

_TURN = threading.Condition()
_held: Any = None     # the dtype the open blocks set; None when none is open
_open = 0             # blocks open now, in any thread
_saved: Any = None    # torch's default when the first of them opened
_mine = threading.local()  # how many of the open blocks are this thread's


@dataclass(frozen=True)
class Leak:
    """A less precise tensor the side handed into a run: its dtype, the operation that took
    it, and where the side's code called that operation (file:line, when known)."""

    dtype: torch.dtype
    op: str
    where: str | None


@contextmanager
def default_dtype(tdt: torch.dtype) -> Iterator[None]:
    """torch's default dtype is `tdt` inside the block (float16 and bfloat16 included: torch
    takes any floating type), then as it was once the last block in any thread ends. A
    thread waits while other threads' blocks hold another dtype; a block inside one of its
    own (a side that itself runs a comparison) sets its dtype at once."""
    import torch

    global _held, _open, _saved
    depth = getattr(_mine, "depth", 0)
    with _TURN:
        while _open and _held != tdt and depth == 0:
            _TURN.wait()
        if _open == 0:
            _saved = torch.get_default_dtype()
        outer = _held
        _held = tdt
        _open += 1
        torch.set_default_dtype(tdt)
    _mine.depth = depth + 1
    try:
        yield
    finally:
        _mine.depth = depth
        with _TURN:
            _open -= 1
            if _open == 0:
                _held = None
                torch.set_default_dtype(_saved)
                _TURN.notify_all()
            elif depth and outer is not None:  # back to the enclosing block's dtype
                _held = outer
                torch.set_default_dtype(outer)


@contextmanager
def traced_run(tdt: torch.dtype, seed: int) -> Iterator[None]:
    """Around a traced side's compiled call (`LiveProblem.tracing`): the run's default dtype
    and the seed, as `LiveSide.call` sets them around an eager call."""
    with default_dtype(tdt), seeded(seed):
        yield


@contextmanager
def watch(tdt: torch.dtype, found: list[Leak]) -> Iterator[None]:
    """Append to `found` the first floating tensor less precise than `tdt` that an operation
    inside the block takes while making a floating tensor (a float32 constant multiplied into
    the float64 run: torch promotes it, silently keeping float32's rounding)."""
    import torch
    from torch.overrides import TorchFunctionMode

    eps = torch.finfo(tdt).eps
    Tensor = torch.Tensor
    coarse: dict[torch.dtype, bool] = {}  # per dtype: floating and less precise than tdt

    def coarser(t: Any) -> bool:
        if not isinstance(t, Tensor):
            return False
        dt = t.dtype
        if dt not in coarse:
            coarse[dt] = dt.is_floating_point and dt != tdt and torch.finfo(dt).eps > eps
        return coarse[dt]

    def first_coarser(values: Sequence[Any]) -> Any:
        for v in values:
            for t in (v if isinstance(v, (list, tuple)) else (v,)):
                if coarser(t):
                    return t
        return None

    class Watch(TorchFunctionMode):
        # Inside __torch_function__ the mode is off: `func` reaches torch (or an outer mode).
        # Kept lean: it runs for every torch call of the side's first float64 run.
        def __torch_function__(self, func: Any, types: Any, args: Sequence[Any] = (),
                               kwargs: dict[str, Any] | None = None) -> Any:
            out = func(*args, **kwargs) if kwargs else func(*args)
            # a tensor in the run's dtype made from a coarser one: promoted, or converted
            if not found and isinstance(out, Tensor) and out.dtype == tdt:
                t = first_coarser(args)
                if t is None and kwargs:
                    t = first_coarser(list(kwargs.values()))
                if t is not None:
                    found.append(Leak(t.dtype, _op_name(func), _caller()))
            return out

    with Watch():
        yield


def _op_name(func: Any) -> str:
    name = str(getattr(func, "__name__", func))
    if name.startswith("__") and name.endswith("__"):
        return {"__mul__": "*", "__rmul__": "*", "__add__": "+", "__radd__": "+",
                "__sub__": "-", "__rsub__": "-", "__truediv__": "/", "__rtruediv__": "/",
                "__matmul__": "@", "__pow__": "**"}.get(name, name)
    return name


def _caller() -> str | None:
    """file:line of the innermost frame outside gaussdiag and torch: the side's own code."""
    import torch

    torch_dir = os.path.dirname(os.path.abspath(torch.__file__))
    frame = sys._getframe(1)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith((_HERE, torch_dir)) and not frame.f_code.co_filename.startswith(
                "<frozen"):
            shown = path if frame.f_code.co_filename.startswith("<") else os.path.relpath(path)
            return f"{shown}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return None


def leak_note(side: str, run: torch.dtype, leak: Leak) -> str:
    """The report note for a side that handed a less precise tensor into a run."""
    at = f" (at {leak.where})" if leak.where else ""
    low, high = _dt(leak.dtype), _dt(run)
    return (f"side {side} hands {low} into the {high} run: `{leak.op}`{at} takes a {low} "
            f"tensor, so those values keep {low}'s rounding in the {high} reference; create it "
            "without a fixed dtype (it then follows the run), with dtype=x.dtype of an "
            "argument x, or pass it in params or inputs")


def _dt(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


class RunNotes(WarningLog):
    """torch's warnings while the sides ran, then each side's leaks (`leaks()`: side name ->
    run dtype -> the first leak), one note per side and run dtype."""

    def __init__(self, leaks: Callable[[], dict[str, dict[Any, Leak]]]) -> None:
        super().__init__()
        self._leaks = leaks

    @property
    def notes(self) -> tuple[str, ...]:
        return super().notes + tuple(leak_note(side, run, leak)
                                     for side, found in self._leaks().items()
                                     for run, leak in found.items())
