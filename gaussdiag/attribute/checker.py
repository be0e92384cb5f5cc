"""`Checker`: tests candidates on one problem (the full one, or a slice of it) in float64,
caching the sides' reference runs and the arguments each side computes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from gaussdiag import tolerance as tl
from gaussdiag.attribute.candidates import Candidate
from gaussdiag.attribute.quantities import normwise, runs_agree
from gaussdiag.attribute.targets import Target, argument_target, square_matrix
from gaussdiag.engine.arguments import Fn
from gaussdiag.engine.evaluate import SideRun, arguments_of, run_side
from gaussdiag.engine.failures import ConstraintFailure
from gaussdiag.errors import GaussdiagError
from gaussdiag.vocab import DType, SideName

if TYPE_CHECKING:
    import torch

    from gaussdiag.engine.problem import Problem


class Checker:
    def __init__(self, problem: Problem, kappa: float,
                 base: Mapping[SideName, SideRun | ConstraintFailure]) -> None:
        self.problem = problem
        self.tol64 = tl.search_tol(kappa)
        self._cache: dict[tuple[SideName, bool, bool], SideRun | ConstraintFailure] = {
            (s, False, True): r for s, r in base.items()}
        self._arguments: dict[SideName, list[tuple[Target, torch.Tensor]]] = {}
        self._jittered: dict[SideName, dict[str, torch.Tensor]] = {}

    def reference(self, side: SideName, *, jittered: bool, grads: bool) -> SideRun | None:
        """`side` in float64 without any transform (cached; None where it breaks a
        constraint)."""
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

    # ---- targets -------------------------------------------------------------------------

    def params(self, side: SideName) -> list[Target]:
        """The params the side uses, as targets."""
        values = self._jittered_params(side)
        return [Target(side, param=name, matrix=square_matrix(values[name]))
                for name in self.problem.search_params(side) if name in values]

    def _jittered_params(self, side: SideName) -> dict[str, torch.Tensor]:
        """Every param's value at the jittered point (once per side: each environment of a
        Python side copies its modules)."""
        import torch

        if side not in self._jittered:
            try:
                with torch.no_grad():
                    values = self.problem.env(DType.FLOAT64, side, jittered=True,
                                              with_grad=False).values
            except (ConstraintFailure, GaussdiagError, RuntimeError, ValueError):
                values = {}
            self._jittered[side] = {k: v for k, v in values.items()
                                    if isinstance(v, torch.Tensor)}
        return self._jittered[side]

    def arguments(self, side: SideName) -> list[Target]:
        """The arguments the side computes from its params (`engine.arguments`), found by one
        float64 forward pass at the jittered point."""
        return [t for t, _ in self._argument_values(side)]

    def _argument_values(self, side: SideName) -> list[tuple[Target, torch.Tensor]]:
        if side not in self._arguments:
            try:
                seen = arguments_of(self.problem, side, jittered=True)
            except (ConstraintFailure, GaussdiagError, RuntimeError, ValueError):
                seen = {}
            self._arguments[side] = [
                (argument_target(side, site, s.value), s.value) for site, s in seen.items()
                if s.computed_from_params and not s.passed_as_is]
        return self._arguments[side]

    def value_at_jitter(self, target: Target) -> torch.Tensor | None:
        """The target's value at the jittered point, where `changes` looks."""
        if target.site is not None:
            return next((v for t, v in self._argument_values(target.side) if t == target), None)
        return self._jittered_params(target.side).get(str(target.param))

    # ---- candidates ----------------------------------------------------------------------

    def changes(self, target: Target, fn: Fn, steps: tuple[Candidate, ...]) -> bool:
        """Applicable, and not a no-op at the jittered point (so exp∘log never explains)."""
        import torch

        if not target.fits(steps):
            return False
        p = self.value_at_jitter(target)
        if p is None:
            return False
        try:
            with torch.no_grad():
                moved = fn(p)
        except (RuntimeError, ValueError, ConstraintFailure):
            return False
        if moved.shape != p.shape or not bool(torch.isfinite(moved).all()):
            return False
        return normwise(moved, p) > tl.CHANGE_FACTOR * tl.tol(DType.FLOAT64)

    def explains(self, target: Target, fn: Fn, *, screened: bool = False,
                 grads: bool = True) -> bool | None:
        """None if transforming the target does not make its side match the other side in
        float64; else whether the jittered point was checked (False: invalid for the other
        side).

        Unscreened: values before gradients, the point before the jittered one, so wrong
        candidates fail on a forward pass. Screened (the candidate already explains a slice
        of the problem, gradients at the jittered point included): one forward and backward
        at the point and a forward at the jittered point confirm it; with grads=False,
        forwards at both points."""
        other = target.side.other
        jitter_ok = self.reference(other, jittered=True, grads=False) is not None
        plan = [(False, grads), (True, False)] if screened else \
            [(False, False), (True, False), (False, True), (True, True)]
        for jittered, with_grads in plan:
            if jittered and not jitter_ok:
                continue
            ref = self.reference(other, jittered=jittered, grads=with_grads)
            got = None if ref is None else self.run(target, fn, jittered=jittered,
                                                    grads=with_grads)
            if (ref is None or got is None or not _same_nans(got, ref)
                    or not runs_agree(got, ref, self.tol64)):
                return None
        return jitter_ok

    def run(self, target: Target, fn: Fn, *, jittered: bool, grads: bool) -> SideRun | None:
        """The target's side with the target transformed (None where that fails)."""
        try:
            if target.site is not None:
                return run_side(self.problem, target.side, DType.FLOAT64, jittered=jittered,
                                arguments={target.site: fn}, grads=grads, validate=False)
            return run_side(self.problem, target.side, DType.FLOAT64, jittered=jittered,
                            overrides={str(target.param): fn}, grads=grads, validate=False)
        except (ConstraintFailure, GaussdiagError, RuntimeError, ValueError):
            return None  # a side that fails under the transform is not explained by it


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
