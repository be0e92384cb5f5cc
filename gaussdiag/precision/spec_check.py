"""Each side of a spec (`gaussdiag compare`'s format) in the low dtype against the same side
in float64: the digits each side keeps in every quantity, each side's cost, and the side to use
(see `recommend`). The digits themselves come from `gaussdiag.attribute.accuracy`, the one
per-side accuracy formula `compare` uses too."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from typing_extensions import assert_never

from gaussdiag.attribute.accuracy import Status, float64_noise, quantity_accuracy
from gaussdiag.limits import DEFAULT_MAX_ELEMENTS
from gaussdiag.precision.cells import (
    CellClass,
    accurate_digits,
    check_low_dtype,
)
from gaussdiag.precision.recommend import Better, Recommendation, compare_digits, recommend
from gaussdiag.precision.sides import SidePrecision, SideQuantity
from gaussdiag.results import SideCost
from gaussdiag.tolerance import LARGE_MAGNITUDE, cell_tol, precision_digits
from gaussdiag.vocab import DType, Mode, SideName

if TYPE_CHECKING:
    import torch

    from gaussdiag.build import BoundSpec, ConstraintFailure
    from gaussdiag.evaluate import SideRun
    from gaussdiag.spec import LoadedSpec

TIMING_REPEATS = 5
"""Low-dtype runs per side for the cost; the fastest counts, the others carry scheduling noise
(other processes, thread-pool wake-ups: single runs of a small spec vary 10x on a busy
machine) rather than work the formulation does."""


@dataclass(frozen=True)
class SpecPrecision:
    """Both sides of a spec in the low dtype against their own float64 results."""

    file: str
    name: str
    dtype: DType
    mode: Mode
    device: str
    sides: tuple[SidePrecision, SidePrecision]
    better: tuple[tuple[str, Better], ...]
    recommendation: Recommendation
    precision_digits: float
    accurate_digits: float

    def side(self, name: SideName) -> SidePrecision:
        return self.sides[0] if name is SideName.A else self.sides[1]


def check_spec(loaded: LoadedSpec, dtype: DType, *, device: str | None = None,
               max_elements: int = DEFAULT_MAX_ELEMENTS,
               repeats: int = TIMING_REPEATS,
               progress: Callable[[str], None] | None = None) -> SpecPrecision:
    """Evaluate each side of `loaded` in `dtype` and in float64 at the spec's point (log_prob
    and train specs: log_prob at the starting point; rsample specs: the draws) and compare
    each side's value and every gradient with its own float64 result.

    Digits are -log10 of the normwise relative error max|low - ref| / max(max|low|, max|ref|),
    floored at 0 and capped at `precision_digits(dtype)`. A quantity is accurate within
    `tolerance.cell_tol(dtype)`; classes as in the sweeps: undefined (the side breaks a
    constraint, has no gradient for the param, or no finite float64 value), overflow,
    inaccurate, large-but-correct, accurate. Random noise (normal and uniform) is drawn in
    float64 and rounded to the low dtype, so both runs of a side map the same noise.

    `progress`, when given, is told each step in words.

    Raises DeviceError for an absent device and SpecError for a spec that fails to build.
    """
    from gaussdiag.build import BoundSpec
    from gaussdiag.errors import DeviceError

    check_low_dtype(dtype)
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, found {repeats}")
    try:
        problem = BoundSpec(loaded, device=device, max_elements=max_elements)
    except DeviceError as err:
        raise DeviceError(str(loaded.device_error(err, device))) from None
    sides = []
    for s in SideName:
        if progress:
            progress(f"{problem.name}: side {s.value} in {dtype.value} and float64")
        sides.append(_side_precision(problem, s, dtype))
    if progress:
        progress(f"{problem.name}: timing both sides")
    a, b = _with_costs(problem, sides, dtype, repeats)
    better = tuple((qa.name, compare_digits(qa.digits, qb.digits))
                   for qa, qb in zip(a.quantities, b.quantities, strict=True))
    devices = sorted({str(problem.side_devices[s]) for s in SideName})
    return SpecPrecision(
        file=loaded.file, name=loaded.spec.name, dtype=dtype, mode=loaded.spec.mode,
        device=", ".join(devices), sides=(a, b), better=better,
        recommendation=recommend(a, b, better, dtype),
        precision_digits=precision_digits(dtype), accurate_digits=accurate_digits(dtype),
    )


def _value_name(mode: Mode) -> str:
    if mode is Mode.RSAMPLE:
        return "draws"
    if mode is Mode.LOG_PROB or mode is Mode.TRAIN:
        return "log_prob"
    assert_never(mode)


def _side_precision(problem: BoundSpec, side: SideName, dtype: DType) -> SidePrecision:
    """The side's quantities; its cost is filled in by `_with_costs`."""
    from gaussdiag.build import ConstraintFailure

    spec = problem.spec
    label = spec.side(side).display(side)
    names = [_value_name(spec.mode), *(f"grad[{n}]" for n in problem.grad_names)]
    try:
        ref = _run(problem, side, DType.FLOAT64)
    except ConstraintFailure as err:
        return _failed(side, label, names, "float64", err)
    try:
        with float64_noise():
            low = _run(problem, side, dtype)
    except ConstraintFailure as err:
        return _failed(side, label, names, f"{dtype.value} only (float64 evaluates)", err)
    pairs = [(low.value, ref.value),
             *((low.grads.get(n), ref.grads.get(n)) for n in problem.grad_names)]
    quantities = tuple(_side_quantity(name, lo, rf, dtype)
                       for name, (lo, rf) in zip(names, pairs, strict=True))
    return SidePrecision(side, label, quantities, None)


def _with_costs(problem: BoundSpec, sides: Sequence[SidePrecision], dtype: DType,
                repeats: int) -> tuple[SidePrecision, SidePrecision]:
    """Time the sides that evaluate, alternating a, b, a, b, ... so both meet the same load
    on the machine, and keep each side's fastest run. Timed without the noise hook, whose
    Python dispatch would be charged to the side."""
    from dataclasses import replace

    best: dict[SideName, SideRun] = {}
    for _ in range(repeats):
        for s in sides:
            if s.failed_in is None:
                run = _run(problem, s.side, dtype)
                if s.side not in best or run.seconds < best[s.side].seconds:
                    best[s.side] = run
    out = [replace(s, cost=SideCost(s.side, dtype, best[s.side].seconds,
                                    best[s.side].memory_bytes, best[s.side].memory_kind))
           if s.side in best else s for s in sides]
    return out[0], out[1]


def _run(problem: BoundSpec, side: SideName, dtype: DType) -> SideRun:
    from gaussdiag.errors import SpecError
    from gaussdiag.evaluate import run_side

    try:
        return run_side(problem, side, dtype)
    except SpecError as err:
        if dtype in (DType.FLOAT16, DType.BFLOAT16):
            raise SpecError(err.file, f"{err.message} (in {dtype.value}: torch may lack this "
                            "operation here; try float32)", key=err.key,
                            line=err.line, col=err.col) from None
        raise


def _failed(side: SideName, label: str, names: Sequence[str], where: str,
            err: ConstraintFailure) -> SidePrecision:
    what = err.described
    quantities = tuple(SideQuantity(n, math.nan, CellClass.UNDEFINED, math.nan) for n in names)
    return SidePrecision(side, label, quantities, None, where, what, err.fix)


def _side_quantity(name: str, low: torch.Tensor | None, ref: torch.Tensor | None,
                   dtype: DType) -> SideQuantity:
    """Digits (accuracy.py) and class of one low-dtype tensor against the same side's float64
    tensor."""
    q = quantity_accuracy(name, low, ref, dtype)
    if q.status is Status.UNDEFINED:  # no gradient reaches the param, or no finite float64
        return SideQuantity(name, math.nan, CellClass.UNDEFINED, q.magnitude)
    if q.status is Status.OVERFLOW:
        return SideQuantity(name, math.nan, CellClass.OVERFLOW, q.magnitude)
    if q.error > cell_tol(dtype):
        cls = CellClass.INACCURATE
    elif q.magnitude >= LARGE_MAGNITUDE:
        cls = CellClass.LARGE_BUT_CORRECT
    else:
        cls = CellClass.ACCURATE
    return SideQuantity(name, q.digits, cls, q.magnitude)
