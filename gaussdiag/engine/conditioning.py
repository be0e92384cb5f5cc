"""Eigenvalues and condition numbers of symmetric matrices that never raise: a covariance with
`inf`, `nan` or 1e308 entries, or in float16, gives "unknown" (`None`, or `nan` per matrix)
instead of a failed `eigh`. Used by the kappa estimate and the MultivariateNormal sweep.
"""

from __future__ import annotations

import math

import torch


def eigenvalues(matrix: torch.Tensor) -> torch.Tensor | None:
    """Eigenvalues of each symmetric matrix in the batch `(..., n, n)`, ascending, in float64
    on the CPU. A matrix with a non-finite entry, or whose decomposition fails, gets a row of
    `nan`. `None` when `matrix` is not a batch of square matrices.

    Each matrix is divided by its largest entry first (eigenvalues scale with it, so nothing
    is lost), since LAPACK overflows on entries near the float64 maximum and then fails to
    converge; the eigenvalues are scaled back, so they may be `inf` near that maximum.
    """
    if matrix.ndim < 2 or matrix.shape[-1] != matrix.shape[-2] or matrix.shape[-1] == 0:
        return None
    scaled, scale = _scaled(matrix)
    flat, flat_scale = scaled.reshape(-1, *scaled.shape[-2:]), scale.reshape(-1)
    out = torch.full(flat.shape[:-1], math.nan, dtype=torch.float64)
    good = flat.isfinite().all(-1).all(-1)
    if bool(good.any()):
        out[good] = _eigvalsh_rows(flat[good])
    with torch.no_grad():
        out = out * flat_scale.unsqueeze(-1)
    return out.reshape(matrix.shape[:-1])


def safe_condition(matrix: torch.Tensor) -> float | None:
    """cond(matrix) = largest / smallest eigenvalue, the largest over the batch, for symmetric
    positive-definite matrices. `None` when unknown: a non-finite entry, a failed
    decomposition, a matrix that is not positive definite, or not a batch of square matrices.
    """
    if matrix.ndim < 2 or matrix.shape[-1] != matrix.shape[-2] or matrix.shape[-1] == 0:
        return None
    scaled, scale = _scaled(matrix)
    flat = scaled.reshape(-1, *scaled.shape[-2:])
    if not bool(flat.isfinite().all()):
        return None
    e = _eigvalsh_rows(flat)  # the ratio does not need the scale back
    lo, hi = e[:, 0], e[:, -1]
    if not bool(e.isfinite().all()) or not bool((lo > 0).all()):
        return None
    cond = float((hi / lo).max())
    return cond if math.isfinite(cond) else None


def _scaled(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each matrix as float64 on the CPU divided by the power of two at or below its largest
    |entry| (finite even at the float64 maximum), and that divisor (1 for a zero matrix; a
    non-finite matrix keeps its entries and is reported unknown). A power of two divides
    exactly, so a well-scaled matrix gets the very eigenvalue ratios it would get unscaled."""
    m = matrix.detach().to("cpu", torch.float64)
    big = m.abs().amax(dim=(-2, -1), keepdim=True)
    _, exponent = torch.frexp(big)  # big = mantissa x 2**exponent, mantissa in [0.5, 1)
    power = torch.ldexp(torch.full_like(big, 0.5), exponent)
    scale = torch.where(big.isfinite() & (big > 0), power, torch.ones_like(big))
    return m / scale, scale[..., 0, 0]


def _eigvalsh_rows(batch: torch.Tensor) -> torch.Tensor:
    """eigvalsh of each finite matrix; one failing matrix makes only its own row nan."""
    try:
        whole: torch.Tensor = torch.linalg.eigvalsh(batch)
        return whole
    except RuntimeError:  # torch.linalg.LinAlgError: did not converge
        pass
    rows = torch.full(batch.shape[:-1], math.nan, dtype=torch.float64)
    for i in range(batch.shape[0]):
        try:
            rows[i] = torch.linalg.eigvalsh(batch[i])
        except RuntimeError:
            continue
    return rows
