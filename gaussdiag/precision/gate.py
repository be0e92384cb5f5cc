"""The CI gate on a spec's precision check: the fewest digits any quantity keeps in the low
dtype, and the sides that are invalid. A front end fails the build (exit 1) when
`Gate.fails(digits)` is true; `precision-check --fail-under DIGITS` is that front end."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from gaussdiag.precision.spec_check import SpecPrecision


@dataclass(frozen=True)
class Gate:
    """`fewest`: the fewest digits kept over every quantity of every side that evaluates (a
    quantity that overflows or is undefined keeps 0), None when no side evaluates; `where`
    names it (`spec: side a grad[P]`); `invalid`: the sides, as `spec: side`, that break a
    constraint (torch refuses their parameters) in float64 or in the low dtype."""

    fewest: float | None
    where: str | None
    invalid: tuple[str, ...]

    def fails(self, digits: float | None = None) -> bool:
        """An invalid side always fails; with `digits`, so does keeping fewer than that."""
        if self.invalid:
            return True
        return digits is not None and self.fewest is not None and self.fewest < digits


def gate(results: Sequence[SpecPrecision]) -> Gate:
    """The gate over the results of one run (one or more specs)."""
    fewest: float | None = None
    where: str | None = None
    invalid: list[str] = []
    for r in results:
        for side in r.sides:
            name = f"{r.file}: side {side.side.value}"
            if side.failed_in is not None:
                invalid.append(name)
                continue
            for q in side.quantities:
                kept = 0.0 if math.isnan(q.digits) else q.digits
                if fewest is None or kept < fewest:
                    fewest, where = kept, f"{name} {q.name}"
    return Gate(fewest, where, tuple(invalid))


