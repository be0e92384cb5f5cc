"""The reparameterization search: which one transform of one target on one side (a param, or
an argument the side computes: attribute/targets.py) makes the sides agree in float64.

Order, the first that explains wins:
  1. params: CANDIDATES in order (for each, the sides in order, params in declaration
     order), then the scale candidate x -> c·x (attribute/scale.py)
  2. arguments each side computes from its params (a network head's std, an expression's
     covariance): the same, CANDIDATES then the scale
  3. params: compositions of two candidates (rarer than either, and many: last)
A param's own transform comes before one of an argument computed from it: where both
explain (exp(h) squared is exp(2h)), the param is where the two codes first part.
The sides in order: a then b for each candidate; with a reference side (`reference:`), every
level on the other side first, since the fix belongs on the side that is not the reference.
Once one explains, the other side is tried with the inverse transform (square on one side,
sqrt on the other); what explains there is reported too, as `also`.

A candidate must change its target at the jittered point and make every value and gradient
agree within tol(float64) × kappa, at the point and at the jittered point, values before
gradients. A faithful slice of the problem (screen.py) screens candidates cheaply; a
candidate it accepts is confirmed at full size: values and gradients at the point and values
at the jittered point, or, above tolerance.CONFIRM_GRADS_MAX, values only (gradients at both
points were checked on the slice). The candidates' runs skip torch's argument checks: the
spec's own runs validated it, and a transform that breaks a constraint shows up as values (or
NaNs) that do not match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from gaussdiag import tolerance as tl
from gaussdiag.attribute.candidates import CANDIDATES, Candidate, chain, compositions, name_of
from gaussdiag.attribute.checker import Checker
from gaussdiag.attribute.scale import fit, scale_candidate, simple_numbers
from gaussdiag.attribute.screen import screen
from gaussdiag.attribute.targets import Target
from gaussdiag.results import Cause, Quantity
from gaussdiag.vocab import SideName

if TYPE_CHECKING:
    from gaussdiag.engine.problem import Problem

Progress = Callable[[str], None]
Steps = tuple[Candidate, ...]


@dataclass(frozen=True)
class Explanation:
    """The search's answer: which transform of which target explains, whether the jittered
    point was checked too (False only when it is invalid for the other side), and the other
    side's explanations (`also`)."""

    cause: Cause
    steps: Steps
    jitter_checked: bool
    target: Target
    also: tuple[Explanation, ...] = ()


def search(problem: Problem, kappa: float, full: Checker, point_quantities: list[Quantity],
           progress: Progress | None, notes: list[str]) -> Explanation | None:
    """The first transform that explains every quantity (module docstring's order), with the
    other side's inverse transform when it explains too; or None."""
    small = screen(problem, kappa, full, point_quantities)
    big = max((d for n in problem.leaf_names for d in problem.base[n].shape), default=0)
    confirm_grads = big <= tl.CONFIRM_GRADS_MAX
    if small is not None and confirm_grads:
        notes.append("the explanation search screened candidates on a slice of the "
                     "largest dimension, then confirmed at full size")
    elif small is not None:
        notes.append("the explanation search screened candidates on a slice of the "
                     "largest dimension (values and gradients, at both points), then "
                     f"confirmed the values at full size (n = {big}: a float64 backward "
                     "there costs more than the rest of the search)")
    trial = _Trial(small, full, confirm_grads, progress)
    simple = simple_numbers(problem)
    reference = problem.reference_side
    orders = [[SideName.A, SideName.B]] if reference is None else [[reference.other],
                                                                   [reference]]
    for sides in orders:
        for target, steps in _plan(trial.first, sides):
            if steps is None:  # the scale candidate: its number is fitted first
                c = fit(trial.first, target, simple)
                if c is None:
                    continue
                steps = (scale_candidate(c),)
            found = trial.explains(target, steps)
            if found is not None:
                also = trial.inverse_on(found, target.side.other)
                return replace(found, also=() if also is None else (also,))
    return None


def _plan(checker: Checker, sides: list[SideName]
          ) -> Iterator[tuple[Target, Steps | None]]:
    """(target, steps) in the search's order; steps None asks for the scale candidate."""
    params = {s: checker.params(s) for s in sides}
    singles: list[Steps] = [(c,) for c in CANDIDATES]
    for level in (lambda side: params[side], checker.arguments):
        for steps in singles:
            for side in sides:
                for target in level(side):
                    yield target, steps
        for side in sides:
            for target in level(side):
                yield target, None
    for steps in compositions():
        for side in sides:
            for target in params[side]:
                yield target, steps


class _Trial:
    """Tries one (target, steps): screened on the slice when there is one, confirmed at full
    size."""

    def __init__(self, small: Checker | None, full: Checker, confirm_grads: bool,
                 progress: Progress | None) -> None:
        self.small, self.full = small, full
        self.first = small or full
        self.confirm_grads = confirm_grads
        self.progress = progress

    def explains(self, target: Target, steps: Steps) -> Explanation | None:
        fn = target.adapt(steps, chain(steps))
        if not self.first.changes(target, fn, steps):
            return None
        if self.progress:
            self.progress(f"trying {name_of(steps)}({target.name}) on side {target.side.value}")
        jitter_checked = self.first.explains(target, fn)
        if jitter_checked is None:
            return None
        if self.small is not None:  # confirm at full size
            confirmed = self.full.explains(target, fn, screened=True, grads=self.confirm_grads)
            if confirmed is None:
                return None
            jitter_checked = jitter_checked and confirmed
        return Explanation(_cause(target, steps), steps, jitter_checked, target)

    def inverse_on(self, found: Explanation, side: SideName) -> Explanation | None:
        """The inverse of what explained, on the other side's params, then its arguments."""
        steps = inverse(found.steps)
        if steps is None:
            return None
        for target in self.first.params(side) + self.first.arguments(side):
            got = self.explains(target, steps)
            if got is not None:
                return got
        return None


def inverse(steps: Steps) -> Steps | None:
    """The steps that undo `steps` (in reverse order), or None when one has no inverse."""
    by_name = {c.name: c for c in CANDIDATES}
    out: list[Candidate] = []
    for c in reversed(steps):
        if c.factor is not None:
            out.append(scale_candidate(1.0 / c.factor))
        elif c.inverse in by_name:
            out.append(by_name[c.inverse])
        else:
            return None
    return tuple(out)


def _cause(target: Target, steps: Steps) -> Cause:
    factor = next((c.factor for c in steps if c.factor is not None), None)
    if target.site is None:
        return Cause(target.side, target.param, name_of(steps), factor=factor)
    site = target.site
    return Cause(target.side, None, name_of(steps), on="argument", dist=site.dist,
                 argument=site.argument, occurrence=site.occurrence, factor=factor)
