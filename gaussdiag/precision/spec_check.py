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
from gaussdiag.precision.cells import (
    CellClass,
    check_low_dtype,
)
from gaussdiag.precision.recommend import Better, Recommendation, compare_digits, recommend
from gaussdiag.precision.sides import SidePrecision, SideQuantity
from gaussdiag.tolerance import LARGE_MAGNITUDE, accurate_digits, cell_tol, precision_digits
from gaussdiag.vocab import DType, Mode, SideName

if TYPE_CHECKING:
    import torch

    from gaussdiag.engine.evaluate import SideRun
    from gaussdiag.engine.failures import ConstraintFailure
    from gaussdiag.engine.problem import Problem

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
    threads: int = 0
    """torch's intra-op threads during the check (0: not known)."""

    def side(self, name: SideName) -> SidePrecision:
        return self.sides[0] if name is SideName.A else self.sides[1]


def check_spec(problem: Problem, dtype: DType, *, threads: int | None = None,
               progress: Callable[[str], None] | None = None) -> SpecPrecision:
    """Evaluate each side of `problem` (a bound spec) in `dtype` and in float64 at its point
    (log_prob and train specs: log_prob at the starting point; rsample specs: the draws) and
    compare each side's value and every gradient with its own float64 result.

    Digits are -log10 of the normwise relative error max|low - ref| / max(max|low|, max|ref|),
    floored at 0 and capped at `precision_digits(dtype)`. A quantity is accurate within
    `tolerance.cell_tol(dtype)`; classes as in the sweeps: undefined (the side breaks a
    constraint, has no gradient for the param, or no finite float64 value), overflow,
    inaccurate, large-but-correct, accurate. Random noise (normal and uniform) is drawn in
    float64 and rounded to the low dtype, so both runs of a side map the same noise.

    Each side's cost is the median of warm low-dtype calls (`gaussdiag.engine.cost`), on `threads`
    intra-op threads (None: chosen from the spec's size, `gaussdiag.engine.threads`). `progress`,
    when given, is told each step in words.

    Raises SpecError for a spec that fails to build.
    """
    from gaussdiag.engine.threads import intra_op_threads

    check_low_dtype(dtype)
    with intra_op_threads(threads, problem.base) as used:
        return _check(problem, dtype, used, progress)


def _check(problem: Problem, dtype: DType, threads: int,
           progress: Callable[[str], None] | None) -> SpecPrecision:
    sides = []
    for s in SideName:
        if progress:
            progress(f"{problem.name}: side {s.value} in {dtype.value} and float64")
        sides.append(_side_precision(problem, s, dtype))
    if progress:
        progress(f"{problem.name}: timing both sides")
    a, b = _with_costs(problem, sides, dtype)
    better = tuple((qa.name, compare_digits(qa.digits, qb.digits))
                   for qa, qb in zip(a.quantities, b.quantities, strict=True))
    devices = sorted({str(problem.side_devices[s]) for s in SideName})
    return SpecPrecision(
        file=problem.file, name=problem.name, dtype=dtype, mode=problem.mode,
        device=", ".join(devices), sides=(a, b), better=better,
        recommendation=recommend(a, b, better, dtype),
        precision_digits=precision_digits(dtype), accurate_digits=accurate_digits(dtype),
        threads=threads,
    )


def _value_name(mode: Mode) -> str:
    if mode is Mode.RSAMPLE:
        return "draws"
    if mode is Mode.LOG_PROB or mode is Mode.TRAIN:
        return "log_prob"
    assert_never(mode)


def _side_precision(problem: Problem, side: SideName, dtype: DType) -> SidePrecision:
    """The side's quantities; its cost is filled in by `_with_costs`."""
    from gaussdiag.engine.failures import ConstraintFailure

    label = problem.labels[side]
    names = [_value_name(problem.mode), *(f"grad[{n}]" for n in problem.grad_names)]
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


def _with_costs(problem: Problem, sides: Sequence[SidePrecision], dtype: DType
                ) -> tuple[SidePrecision, SidePrecision]:
    """Time the sides that evaluate as `compare` does (`gaussdiag.engine.cost`: warm median, the
    sides in turn), from a first run without the noise hook, whose Python dispatch would be
    charged to the side."""
    from dataclasses import replace

    from gaussdiag.engine.cost import measure_costs

    first = {s.side: _run(problem, s.side, dtype) for s in sides if s.failed_in is None}
    costs = {c.side: c for c in measure_costs(problem, {dtype: first})}
    out = [replace(s, cost=costs[s.side]) if s.side in costs else s for s in sides]
    return out[0], out[1]


def _run(problem: Problem, side: SideName, dtype: DType) -> SideRun:
    from gaussdiag.engine.evaluate import run_side
    from gaussdiag.errors import SpecError

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
