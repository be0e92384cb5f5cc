"""The reparameterization search: which one transform of one param on one side (CANDIDATES, or
a composition of two) makes the sides agree in float64.

Order: CANDIDATES in order, for each one side a then side b, params in declaration order;
values before gradients and the spec's point before the jittered one; the first transform that
explains every quantity wins. Compositions of two are tried only when no single one explains.
A faithful slice of the problem (`Problem.sliced`) screens candidates cheaply; a candidate it
accepts is confirmed at full size: values and gradients at the spec's point and values at the
jittered point, or, above tolerance.CONFIRM_GRADS_MAX, values only (gradients at both points were
checked on the slice; a float64 backward through a 4096 x 4096 Cholesky factor costs about
half of the whole diagnosis). The candidates' runs skip torch's argument checks: the spec's
own runs validated it, and an override that breaks a constraint shows up as values (or NaNs)
that do not match.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gaussdiag import tolerance as tl
from gaussdiag.attribute.candidates import CANDIDATES, Candidate, chain, compositions, name_of
from gaussdiag.attribute.quantities import compute_quantities, normwise, runs_agree
from gaussdiag.engine.built import Overrides
from gaussdiag.engine.evaluate import SideRun, run_side
from gaussdiag.engine.failures import ConstraintFailure
from gaussdiag.errors import GaussdiagError
from gaussdiag.results import Cause, Quantity
from gaussdiag.vocab import DType, SideName

if TYPE_CHECKING:
    import torch

    from gaussdiag.engine.problem import Problem

Progress = Callable[[str], None]

@dataclass(frozen=True)
class Explanation:
    """The search's answer: which transform explains, and whether the jittered point was
    checked too (False only when it is invalid for the other side)."""

    cause: Cause
    steps: tuple[Candidate, ...]
    jitter_checked: bool


def search(problem: Problem, kappa: float, full: Checker, point_quantities: list[Quantity],
           progress: Progress | None, notes: list[str]) -> Explanation | None:
    """The first transform that explains every quantity (module docstring's order), or None."""
    small = screen(problem, kappa, point_quantities)
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
    targets = [(s, p) for s in SideName for p in problem.params_used(s)]
    singles = [(c,) for c in CANDIDATES]
    for steps_list in (singles, list(compositions())):
        for steps in steps_list:
            for side, param in targets:
                fn = chain(steps)
                first = small or full
                if not first.changes(side, param, fn, steps):
                    continue
                if progress:
                    progress(f"trying {name_of(steps)}({param}) on side {side.value}")
                jitter_checked = first.explains(side, param, fn)
                if jitter_checked is None:
                    continue
                if small is not None:  # confirm at full size
                    confirmed = full.explains(side, param, fn, screened=True,
                                              grads=confirm_grads)
                    if confirmed is None:
                        continue
                    jitter_checked = jitter_checked and confirmed
                return Explanation(Cause(side, param, name_of(steps)), steps, jitter_checked)
    return None


def screen(problem: Problem, kappa: float, point_quantities: list[Quantity]) -> Checker | None:
    """A sliced copy of the problem for cheap screening, if it is faithful: the same
    quantities persist (beyond tol in float64) as on the full problem."""
    small = problem.sliced()
    if small is None:
        return None
    checker = Checker(small, kappa, {})
    try:  # every reference the screen reads, at both points, before any candidate
        a = checker.reference(SideName.A, jittered=False, grads=True)
        b = checker.reference(SideName.B, jittered=False, grads=True)
        for side in SideName:
            checker.reference(side, jittered=True, grads=True)
    except GaussdiagError:  # a side that cannot take the cut shapes: full size only
        return None
    if a is None or b is None:
        return None
    tol64 = tl.search_tol(kappa)
    sliced = {q.name: q.diff[DType.FLOAT64] > tol64 for q in compute_quantities(
        {DType.FLOAT64: (a, b)}, kappa, problem.grad_names)}
    full = {q.name.replace("draws", "log_prob"): q.persists for q in point_quantities}
    return checker if sliced == full else None


class Checker:
    """Tests candidates on one problem (the full one, or a slice of it) in float64, caching
    the other side's reference runs."""

    def __init__(self, problem: Problem, kappa: float,
                 base: Mapping[SideName, SideRun | ConstraintFailure]) -> None:
        self.problem = problem
        self.tol64 = tl.search_tol(kappa)
        self._cache: dict[tuple[SideName, bool, bool], SideRun | ConstraintFailure] = {
            (s, False, True): r for s, r in base.items()}

    def reference(self, side: SideName, *, jittered: bool, grads: bool) -> SideRun | None:
        key = (side, jittered, grads)
        if key not in self._cache and (side, jittered, True) in self._cache:
            key = (side, jittered, True)  # a run with gradients has the value too
        if key not in self._cache:
            try:
                self._cache[key] = run_side(self.problem, side, DType.FLOAT64,
                                            jittered=jittered, grads=grads)
            except ConstraintFailure as f:
                self._cache[key] = f
        got = self._cache[key]
        return got if isinstance(got, SideRun) else None

    def changes(self, side: SideName, param: str, fn: Callable[[torch.Tensor], torch.Tensor],
                steps: tuple[Candidate, ...]) -> bool:
        """Applicable, and not a no-op at the jittered point (so exp∘log never explains)."""
        import torch

        try:
            with torch.no_grad():
                p = self.problem.env(DType.FLOAT64, side, jittered=True,
                                     with_grad=False).values[param]
                if any(c.matrix for c in steps) and (p.ndim < 2 or p.shape[-1] != p.shape[-2]):
                    return False
                moved = fn(p)
        except (RuntimeError, ValueError, ConstraintFailure):
            return False
        if moved.shape != p.shape or not bool(torch.isfinite(moved).all()):
            return False
        return normwise(moved, p) > tl.CHANGE_FACTOR * tl.tol(DType.FLOAT64)

    def explains(self, side: SideName, param: str, fn: Callable[[torch.Tensor], torch.Tensor],
                 *, screened: bool = False, grads: bool = True) -> bool | None:
        """None if the override does not make `side` match the other side in float64;
        else whether the jittered point was checked (False: invalid for the other side).

        Unscreened: values before gradients, the spec's point before the jittered one, so
        wrong candidates fail on a forward pass. Screened (the candidate already explains a
        slice of the problem, gradients at the jittered point included): one forward and
        backward at the spec's point and a forward at the jittered point confirm it; with
        grads=False, forwards at both points."""
        other = side.other
        overrides = {param: fn}
        jitter_ok = self.reference(other, jittered=True, grads=False) is not None
        plan = [(False, grads), (True, False)] if screened else \
            [(False, False), (True, False), (False, True), (True, True)]
        for jittered, with_grads in plan:
            if jittered and not jitter_ok:
                continue
            ref = self.reference(other, jittered=jittered, grads=with_grads)
            got = None if ref is None else self._run(side, jittered=jittered,
                                                     overrides=overrides, grads=with_grads)
            if (ref is None or got is None or not _same_nans(got, ref)
                    or not runs_agree(got, ref, self.tol64)):
                return None
        return jitter_ok

    def _run(self, side: SideName, *, jittered: bool, overrides: Overrides,
             grads: bool) -> SideRun | None:
        try:
            return run_side(self.problem, side, DType.FLOAT64, jittered=jittered,
                            overrides=overrides, grads=grads, validate=False)
        except (ConstraintFailure, GaussdiagError, RuntimeError, ValueError):
            return None  # a side that fails under the override is not explained by it


def _same_nans(x: SideRun, y: SideRun) -> bool:
    """NaNs in the same places (values and gradients): without torch's argument checks an
    override that breaks a constraint often yields NaN, which must not pass as a match."""
    import torch

    pairs = [(x.value, y.value)] + [(x.grads[n], y.grads.get(n)) for n in x.grads]
    for u, v in pairs:
        if u is None or v is None or u.shape != v.shape:
            continue  # runs_agree judges missing gradients and shapes
        if bool((torch.isnan(u) != torch.isnan(v)).any()):
            return False
    return True
