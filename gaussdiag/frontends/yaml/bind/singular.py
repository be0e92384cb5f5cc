"""Singular to working precision (spec-v1): a `covariance_matrix` or `precision_matrix` whose
smallest eigenvalue is at most n x finfo(dtype).eps x its largest is not positive definite in
that dtype, whether or not torch's Cholesky happens to succeed on this CPU.

The rule is numpy.linalg.matrix_rank's (rank < n when a singular value is at most
n x eps x the largest). Up to tolerance.EXACT_EIGEN_MAX the eigenvalues are computed in
float64 from the matrix as the run's dtype holds it; above, the pivots of the Cholesky factor
torch computes anyway are a sufficient sign (every pivot is at least the smallest eigenvalue,
and the largest diagonal entry at most the largest eigenvalue), at O(n) extra cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gaussdiag import tolerance as tl

if TYPE_CHECKING:
    import torch

    from gaussdiag.engine.failures import ConstraintFailure
    from gaussdiag.vocab import SideName

# Arguments the rule applies to (MultivariateNormal, Wishart). `scale_tril` keeps torch's own
# constraint: its log_prob never forms or factors the covariance.
MATRIX_ARGS = ("covariance_matrix", "precision_matrix")



@dataclass(frozen=True)
class Singular:
    """The first batch element of `arg` that is singular to working precision."""

    arg: str
    dtype: str
    n: int
    eps: float
    index: tuple[int, ...]
    smallest: float  # the smallest eigenvalue (exact), or the smallest pivot (an upper bound)
    largest: float  # the largest eigenvalue (exact), or the largest diagonal (a lower bound)
    exact: bool

    @property
    def threshold(self) -> float:
        return self.n * self.eps * self.largest


def check_args(side: SideName, dist: str, args: Mapping[str, torch.Tensor]
               ) -> Singular | None:
    """Raise ConstraintFailure for a small matrix argument singular to working precision.
    A clearly indefinite one (smallest eigenvalue below -threshold) is returned instead: it is
    left to torch's own validation, whose message already names it."""
    pending = None
    for arg, value in args.items():
        found = exact(arg, value)
        if found is not None and found.smallest >= -found.threshold:
            raise failure(side, dist, found)
        pending = pending or found
    return pending


def check_factor(side: SideName, dist: str, args: Mapping[str, torch.Tensor], built: Any,
                 pending: Singular | None) -> None:
    """After torch accepted the arguments: an indefinite small matrix it factorized anyway
    (round-off let the Cholesky through), or a large one whose pivots certify singularity."""
    if pending is not None:
        raise failure(side, dist, pending)
    for arg, value in args.items():
        found = from_pivots(arg, value, built)
        if found is not None:
            raise failure(side, dist, found)


def _is_matrix_arg(arg: str, value: Any) -> bool:
    """A square floating-point matrix argument the rule applies to, with values to read (not
    one of the dry run's meta tensors)."""
    import torch

    return (arg in MATRIX_ARGS and isinstance(value, torch.Tensor) and value.ndim >= 2
            and value.shape[-1] == value.shape[-2] and value.shape[-1] > 0
            and value.is_floating_point() and not value.is_meta)


def exact(arg: str, value: torch.Tensor) -> Singular | None:
    """The eigenvalue rule for n <= EXACT_EIGEN_MAX (None: fine, or too large to decide
    here)."""
    import torch

    if not _is_matrix_arg(arg, value) or value.shape[-1] > tl.EXACT_EIGEN_MAX:
        return None
    n = value.shape[-1]
    eps = torch.finfo(value.dtype).eps
    m = value.detach().to(device="cpu", dtype=torch.float64)
    if not bool(torch.isfinite(m).all()):
        return None  # non-finite entries are torch's to reject, or the non-finite verdict's
    try:
        eig = torch.linalg.eigvalsh(m)
    except RuntimeError:
        return None  # LAPACK did not converge: leave the matrix to torch's own checks
    lo, hi = eig[..., 0], eig[..., -1]
    bad = lo <= n * eps * hi.clamp(min=0.0)
    return _first(arg, value, n, eps, bad, lo, hi, exact=True)


def from_pivots(arg: str, value: torch.Tensor, built: Any) -> Singular | None:
    """The pivot certificate for n > EXACT_EIGEN_MAX, from the factor torch holds: for a covariance
    the pivots are L_ii^2; for a precision matrix torch factorizes it in reverse order and
    inverts, so its pivots are 1 / L_ii^2."""
    import torch

    if not _is_matrix_arg(arg, value) or value.shape[-1] <= tl.EXACT_EIGEN_MAX:
        return None
    tril = getattr(built, "_unbroadcasted_scale_tril", None)
    if not isinstance(tril, torch.Tensor):
        return None
    n = value.shape[-1]
    eps = torch.finfo(value.dtype).eps
    # the diagonal before the cast: casting the whole n x n factor costs more than the check
    d2 = torch.diagonal(tril.detach(), dim1=-2, dim2=-1).double().cpu().square()
    pivots = d2 if arg == "covariance_matrix" else d2.reciprocal()
    diag = torch.diagonal(value.detach(), dim1=-2, dim2=-1).double().cpu()
    lo, hi = pivots.amin(-1), diag.amax(-1)
    lo, hi = torch.broadcast_tensors(lo, hi)  # type: ignore[no-untyped-call]
    bad = lo <= n * eps * hi
    return _first(arg, value, n, eps, bad, lo, hi, exact=False)


def _first(arg: str, value: torch.Tensor, n: int, eps: float, bad: torch.Tensor,
           lo: torch.Tensor, hi: torch.Tensor, *, exact: bool) -> Singular | None:
    if not bool(bad.any()):
        return None
    index = tuple(int(i) for i in bad.nonzero()[0]) if bad.ndim else ()
    dtype = str(value.dtype).removeprefix("torch.")
    return Singular(arg, dtype, n, eps, index, float(lo[index]), float(hi[index]), exact)


def failure(side: SideName, dist: str, s: Singular) -> ConstraintFailure:
    from gaussdiag.engine.failures import ConstraintFailure

    at = f" at batch index {list(s.index)}" if s.index else ""
    if s.exact:
        what = (f"smallest eigenvalue {s.smallest:.4g}, largest {s.largest:.4g}{at}: "
                f"{s.smallest:.3g} <= n x eps x largest = {s.n} x {s.eps:.3g} x "
                f"{s.largest:.4g} = {s.threshold:.3g}")
    else:
        what = (f"a Cholesky pivot {s.smallest:.4g} <= n x eps x max(diag) = {s.n} x "
                f"{s.eps:.3g} x {s.largest:.4g} = {s.threshold:.3g}{at}, so the smallest "
                f"eigenvalue is at most {s.smallest:.4g} and the largest at least "
                f"{s.largest:.4g}")
    message = (f"{dist}: {s.arg} is singular to working precision in {s.dtype} "
               "(not positive definite in this dtype, whatever torch's Cholesky does)")
    fix = (f"add a diagonal jitter of at least {s.threshold:.3g} to {s.arg} "
           f"(e.g. `+ {_up(s.threshold)} * eye_like(...)`), or build a `scale_tril` with a "
           "positive diagonal, e.g. tril(M, -1) + diag_embed(softplus(diagonal(M))), "
           "or compute in float64")
    return ConstraintFailure(side, message, arg=s.arg, constraint="singular to working "
                             "precision", index=s.index or None, detail=what, fix=fix)


def _up(x: float) -> str:
    """x rounded up to one significant digit, for a jitter that is at least x."""
    import math

    if x <= 0:
        return "1e-6"
    exp = math.floor(math.log10(x))
    lead = math.ceil(x / 10.0**exp - 1e-9)
    if lead >= 10:
        lead, exp = 1, exp + 1
    return f"{lead}e{exp}"
