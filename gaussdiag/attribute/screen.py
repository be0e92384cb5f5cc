"""The search's screen: a sliced copy of the problem on which candidates are tried cheaply,
kept only if it is faithful (the same quantities persist in float64 as at full size).

The first entries of the largest dimension are tried first. When they do not show the
difference (a shifted element past them), the entries where the sides' float64 gradients
differ most are added (the full-size runs the diagnosis already made say where): cheap
evidence instead of a search at full size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gaussdiag import tolerance as tl
from gaussdiag.attribute.checker import Checker
from gaussdiag.attribute.quantities import compute_quantities
from gaussdiag.errors import GaussdiagError
from gaussdiag.results import Quantity
from gaussdiag.vocab import DType, SideName

if TYPE_CHECKING:
    from gaussdiag.engine.problem import Problem

KEEP = 16  # entries a slice keeps of the largest dimension


def screen(problem: Problem, kappa: float, full: Checker, point_quantities: list[Quantity]
           ) -> Checker | None:
    """A checker on a faithful slice of `problem`, or None (nothing to cut, or no slice
    shows what the full problem shows)."""
    want = {q.name.replace("draws", "log_prob"): q.persists for q in point_quantities}
    leading = problem.sliced(KEEP)
    if leading is None:
        return None
    first = _faithful(problem, leading, kappa, want)
    if first is not None:
        return first
    focus = _where_differs(problem, full)
    if not focus:
        return None
    return _faithful(problem, problem.sliced(KEEP, focus=focus), kappa, want)


def _faithful(problem: Problem, small: Problem | None, kappa: float, want: dict[str, bool]
              ) -> Checker | None:
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
    got = {q.name: q.diff[DType.FLOAT64] > tol64 for q in compute_quantities(
        {DType.FLOAT64: (a, b)}, kappa, problem.grad_names)}
    return checker if got == want else None


def _where_differs(problem: Problem, full: Checker) -> list[int]:
    """Entries of the largest dimension where the sides' float64 gradients at the point
    differ most (every leaf having that dimension, each scaled to its own largest gap)."""
    import torch

    a = full.reference(SideName.A, jittered=False, grads=True)
    b = full.reference(SideName.B, jittered=False, grads=True)
    sizes = [d for n in problem.leaf_names for d in problem.base[n].shape]
    if a is None or b is None or not sizes:
        return []
    big = max(sizes)
    score = torch.zeros(big, dtype=torch.float64)
    for name in problem.grad_names:
        ga, gb = a.grads.get(name), b.grads.get(name)
        if ga is None or gb is None or ga.shape != gb.shape:
            continue
        gap = (ga.double() - gb.double()).abs()
        for dim, size in enumerate(gap.shape):
            if size == big:
                per = gap.movedim(dim, 0).reshape(big, -1).amax(dim=1)
                top = float(per.max())
                if top > 0 and torch.isfinite(per).all():
                    score = torch.maximum(score, per / top)
    if not bool((score > 0).any()):
        return []
    order = torch.argsort(score, descending=True)[:KEEP // 2]
    return sorted(int(i) for i in order if score[i] > 0)
