"""What the rules look at: the runs, the quantities judged on them and the search's answer,
computed on first use so a rule that decides early costs nothing more."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gaussdiag.attribute import accuracy
from gaussdiag.attribute.accuracy import QuantityAccuracy
from gaussdiag.attribute.checker import Checker
from gaussdiag.attribute.quantities import Trains, compute_quantities, trajectory_quantity
from gaussdiag.attribute.search import Explanation, search
from gaussdiag.engine.evaluate import SideRun
from gaussdiag.engine.failures import ConstraintFailure
from gaussdiag.results import Quantity
from gaussdiag.vocab import DType, Mode, SideName

if TYPE_CHECKING:
    from gaussdiag.engine.problem import Problem

Runs = dict[DType, dict[SideName, "SideRun | ConstraintFailure"]]
Progress = Callable[[str], None]


@dataclass
class Facts:
    """The problem, its runs per dtype and side (a ConstraintFailure where a side broke a
    constraint), kappa, train mode's runs, and the notes gathered on the way."""

    problem: Problem
    runs: Runs
    kappa: float
    progress: Progress | None = None
    trains: Trains | None = None
    notes: list[str] = field(default_factory=list)
    _quantities: list[Quantity] | None = None
    _trajectory: list[Quantity] | None = None
    _explanation: Explanation | None = None
    _searched: bool = False
    _checker: Checker | None = None
    _accuracy: dict[DType, dict[SideName, tuple[QuantityAccuracy, ...]]] = field(
        default_factory=dict)

    def pairs(self) -> dict[DType, tuple[SideRun, SideRun]]:
        """Dtypes in which both sides ran."""
        out = {}
        for dt, sides in self.runs.items():
            a, b = sides[SideName.A], sides[SideName.B]
            if isinstance(a, SideRun) and isinstance(b, SideRun):
                out[dt] = (a, b)
        return out

    def side_accuracy(self, low: DType) -> dict[SideName, tuple[QuantityAccuracy, ...]]:
        """Each side's quantities in `low` against its own float64 run (attribute/accuracy.py),
        for the sides that ran in both; computed once, since round-off blame and the
        large-value notes both read it (in rsample mode it costs a re-run with float64 noise)."""
        if low not in self._accuracy:
            out: dict[SideName, tuple[QuantityAccuracy, ...]] = {}
            for side in SideName:
                ref = self.runs.get(DType.FLOAT64, {}).get(side)
                run = self.runs.get(low, {}).get(side)
                if self.problem.mode is Mode.RSAMPLE:  # the low run must map float64's noise
                    try:
                        run = accuracy.run_low(self.problem, side, low)
                    except ConstraintFailure:
                        run = None
                if isinstance(ref, SideRun) and isinstance(run, SideRun):
                    out[side] = accuracy.side_accuracy(self.problem, run, ref)
            self._accuracy[low] = out
        return self._accuracy[low]

    def failures(self) -> list[ConstraintFailure]:
        return [r for sides in self.runs.values() for r in sides.values()
                if isinstance(r, ConstraintFailure)]

    @property
    def point_quantities(self) -> list[Quantity]:
        """log_prob (or the draws) and grad[p] at the spec's point."""
        if self._quantities is None:
            name = "draws" if self.problem.mode is Mode.RSAMPLE else "log_prob"
            self._quantities = compute_quantities(self.pairs(), self.kappa,
                                                  self.problem.grad_names, value_name=name)
        return self._quantities

    @property
    def quantities(self) -> list[Quantity]:
        """What the verdict is judged on: the trajectory in train mode, else the point's."""
        if self.trains is None:
            return self.point_quantities
        if self._trajectory is None:
            self._trajectory = trajectory_quantity(self.trains, self.kappa)
        return self._trajectory

    def persisting(self) -> list[Quantity]:
        return [q for q in self.quantities if q.persists]

    def explanation(self) -> Explanation | None:
        """The search's answer (search.py), searched once."""
        if not self._searched:
            self._searched = True
            self._explanation = search(self.problem, self.kappa, self._full,
                                       self.point_quantities, self.progress, self.notes)
        return self._explanation

    def reference(self, side: SideName, *, jittered: bool, grads: bool) -> SideRun | None:
        """A float64 run of `side` on the full problem without overrides (cached)."""
        return self._full.reference(side, jittered=jittered, grads=grads)

    @property
    def _full(self) -> Checker:
        if self._checker is None:
            self._checker = Checker(self.problem, self.kappa,
                                    self.runs.get(DType.FLOAT64, {}))
        return self._checker
