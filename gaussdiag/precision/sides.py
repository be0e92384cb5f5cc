"""One side of a spec in the low dtype against itself in float64: the result data of
`spec_check`, below `recommend` and `spec_check` so both can use it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from gaussdiag.precision.cells import CellClass
from gaussdiag.results import SideCost
from gaussdiag.vocab import SideName


@dataclass(frozen=True)
class SideQuantity:
    """One quantity of one side: the digits of its low-dtype result that agree with the same
    side's float64 result (NaN where one of them has no finite value) and its class."""

    name: str
    digits: float
    cell_class: CellClass
    magnitude: float
    """max |float64 value| (NaN where the side does not evaluate)."""


@dataclass(frozen=True)
class SidePrecision:
    """One side of a spec in the low dtype against itself in float64."""

    side: SideName
    label: str
    quantities: tuple[SideQuantity, ...]
    cost: SideCost | None
    """The fastest low-dtype forward + backward; None when the side fails in the low dtype."""
    failed_in: str | None = None
    """Where the side breaks a constraint (`float64`, or the low dtype only); None when it
    evaluates."""
    failure: str | None = None
    """torch's message for the broken constraint, with the offending value where known."""
    fix: str | None = None

    @property
    def complete(self) -> bool:
        """Every quantity has digits (nothing undefined or overflowing)."""
        return all(not math.isnan(q.digits) for q in self.quantities)

    @property
    def worst(self) -> float:
        """The fewest digits over the quantities (NaN unless `complete`)."""
        if not self.complete or not self.quantities:
            return math.nan
        return min(q.digits for q in self.quantities)

    @property
    def all_correct(self) -> bool:
        return all(q.cell_class.is_correct for q in self.quantities)
