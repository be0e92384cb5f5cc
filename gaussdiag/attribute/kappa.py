"""kappa, the estimated conditioning of a spec, which widens the persistence test and the
search's float64 tolerance (tolerance.py). A matrix whose eigenvalues cannot be computed
(inf or 1e308 entries, a failed decomposition) leaves kappa unknown, said in a note."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from gaussdiag import tolerance as tl
from gaussdiag.engine.failures import ConstraintFailure
from gaussdiag.vocab import SideKind, SideName

if TYPE_CHECKING:
    import torch

    from gaussdiag.engine.problem import Problem

_MATRIX_ARGS = ("covariance_matrix", "precision_matrix", "scale_tril", "cov_factor")


def estimate_kappa(problem: Problem, notes: list[str] | None = None,
                   sides: Iterable[SideName] = tuple(SideName)) -> float:
    """cond(L) for the covariance each side implies (largest over the batch and both sides):
    log_prob standardizes x through a triangular solve with the scale L, whose condition number
    is sqrt(cond(covariance)). 1 when no side has a covariance-like argument. Exact (from the
    eigenvalues) up to n = tolerance.EXACT_EIGEN_MAX; above that, max|L_ii| / min|L_ii| of the
    Cholesky factor the distribution already holds: O(n), a lower bound, exact for diagonal
    scales.
    `sides`: the sides to read (a single side checked under switches is bound as both).
    When a side's matrix has no computable eigenvalues, that side counts as 1 and a sentence
    saying so is appended to `notes`.

    Why not cond(covariance) itself: it is a worst-case bound. Measured here (n = 8, random
    rotations), covariance_matrix vs precision_matrix or scale_tril differ in float32 by about
    0.05 x cond x eps, so 64 x eps x cond would call even badly amplified round-off `agree`;
    cond(L) leaves it visible as `round-off` while still widening the float64 persistence test
    as the conditioning grows.
    """
    import torch

    kappa = 1.0
    unknown: list[str] = []
    for side in sides:
        if problem.kind(side) is not SideKind.DIST:
            continue
        try:
            built = problem.reference(side)
        except (ConstraintFailure, RuntimeError, ValueError):
            continue
        args = {k: v.detach().double() for k, v in built.args.items()}
        n = next((v.shape[-2] for k, v in args.items() if k in _MATRIX_ARGS and v.ndim >= 2), 0)
        if n == 0:
            continue
        if n > tl.EXACT_EIGEN_MAX:
            tril = getattr(built.dist, "scale_tril", None)
            if isinstance(tril, torch.Tensor):
                d = torch.diagonal(tril.detach().double(), dim1=-2, dim2=-1).abs()
                ratio = float((d.amax(-1) / d.amin(-1)).max())
                if math.isfinite(ratio):
                    kappa = max(kappa, ratio)
                else:
                    unknown.append(f"side {side.value}'s scale_tril")
            continue
        for name, m in _matrices(args):
            c = _condition(m)
            if c is not None:
                kappa = max(kappa, math.sqrt(c))
            elif _undecomposable(m):
                unknown.append(f"side {side.value}'s {name}")
    if unknown and notes is not None:
        notes.append(f"kappa unknown for {' and '.join(unknown)}: no eigenvalues can be "
                     "computed (non-finite or near-overflow entries), so the tolerances take "
                     "kappa = 1 there")
    return kappa if math.isfinite(kappa) else 1.0


def _matrices(args: dict[str, torch.Tensor]) -> list[tuple[str, torch.Tensor]]:
    """The covariance-like matrices a distribution's args imply, with the arg they come from."""
    import torch

    mats: list[tuple[str, torch.Tensor]] = [
        (k, args[k]) for k in ("covariance_matrix", "precision_matrix") if k in args]
    if "scale_tril" in args:
        tril = args["scale_tril"]
        mats.append(("scale_tril", tril @ tril.transpose(-1, -2)))
    if "cov_factor" in args and "cov_diag" in args:
        w, d = args["cov_factor"], args["cov_diag"]
        mats.append(("cov_factor", w @ w.transpose(-1, -2) + torch.diag_embed(d)))
    return mats


def _condition(m: torch.Tensor) -> float | None:
    from gaussdiag.engine.conditioning import safe_condition

    return safe_condition(m)


def _undecomposable(m: torch.Tensor) -> bool:
    """No eigenvalues at all (a non-finite entry, a failed decomposition), as opposed to a
    matrix that is merely not positive definite (which has no kappa and needs no note: the
    constraint check says what is wrong)."""
    import torch

    from gaussdiag.engine.conditioning import eigenvalues

    e = eigenvalues(m)
    return e is not None and not bool(torch.isfinite(e).all())
