"""The sigma x z precision map of `Normal.log_prob` and its gradients, z = |x - loc| / sigma.

One batched call per dtype and chunk of rows (the default grid is one chunk); every cell is
classified with array operations (`cells.classify`), so the cost per cell is torch's and
numpy's, not Python's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gaussdiag.precision.cells import (
    Axis,
    ProgressCallback,
    QuantityMap,
    check_low_dtype,
    classify_values,
)
from gaussdiag.precision.findings import Finding, normal_findings
from gaussdiag.tolerance import LARGE_MAGNITUDE, accurate_digits, precision_digits
from gaussdiag.vocab import DType, ScaleParam

if TYPE_CHECKING:
    pass

CHUNK_CELLS = 1 << 18
"""Cells per batched call: bounds memory on huge grids and paces the progress callback."""


@dataclass(frozen=True, eq=False)
class NormalSweep:
    """The sigma x z precision map of `Normal.log_prob` and its gradients."""

    dtype: DType
    param: ScaleParam
    sigma: tuple[float, ...]
    z: tuple[float, ...]
    quantities: tuple[QuantityMap, ...]
    findings: tuple[Finding, ...]
    precision_digits: float
    accurate_digits: float
    large: float


def sweep_normal(dtype: DType, param: ScaleParam, sigma: Axis, z: Axis, *,
                 progress: ProgressCallback | None = None) -> NormalSweep:
    """Map Normal log_prob, grad[loc] and grad[raw] over sigma x z, loc = 0 and x = z * sigma
    (so x - loc is exact and the map isolates the evaluation error)."""
    import numpy as np
    import torch

    from gaussdiag.precision.kernel import normal_compare

    check_low_dtype(dtype)
    sig_vals, z_vals = sigma.values(), z.values()
    s_ax = torch.tensor(sig_vals, dtype=torch.float64)
    z_ax = torch.tensor(z_vals, dtype=torch.float64)
    n_s, n_z = len(sig_vals), len(z_vals)
    rows_per_chunk = max(1, CHUNK_CELLS // n_z)
    total = n_s * n_z
    names: tuple[str, ...] = ()
    # Filled chunk by chunk, so the float32 and float64 intermediates of one chunk are all
    # that is held besides the result.
    digits = codes = reference = cancellation = np.empty(0)
    for start in range(0, n_s, rows_per_chunk):
        stop = min(n_s, start + rows_per_chunk)
        S, Z = torch.meshgrid(s_ax[start:stop], z_ax, indexing="ij")
        part = normal_compare(param, dtype, torch.zeros_like(S), S, Z * S)
        if not names:
            names = part.names
            shape = (len(names), n_s, n_z)
            digits, reference = np.empty(shape), np.empty(shape)
            codes, cancellation = np.empty(shape, np.int8), np.empty(shape, bool)
        for q in range(len(names)):
            c = classify_values(part.low[q], part.ref[q], part.term[q], part.undefined, dtype)
            digits[q, start:stop] = c.digits
            codes[q, start:stop] = c.codes
            reference[q, start:stop] = part.ref[q]
            cancellation[q, start:stop] = c.cancellation
        if progress is not None:
            progress(min(total, (start + rows_per_chunk) * n_z), total)
    maps = tuple(QuantityMap(name, digits[q], codes[q], reference[q], cancellation[q])
                 for q, name in enumerate(names))
    return NormalSweep(
        dtype=dtype, param=param, sigma=sig_vals, z=z_vals, quantities=maps,
        findings=normal_findings(dtype, sig_vals, z_vals, maps),
        precision_digits=precision_digits(dtype), accurate_digits=accurate_digits(dtype),
        large=LARGE_MAGNITUDE,
    )
