"""The findings of a Normal map: each region of cells that is not plain accurate, in words.

Regions are described from whole-array reductions (rows that hold a cell, each row's first
and last cell and its gaps), so a million-cell map costs a few array passes per class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gaussdiag.numbers import sentence as fmt
from gaussdiag.precision.cells import CellClass, QuantityMap
from gaussdiag.tolerance import BAND_GAP_FRACTION, DTYPE_MAX
from gaussdiag.vocab import DType

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


@dataclass(frozen=True)
class Finding:
    """One region of a map, in words. `quantity` is e.g. `grad[scale]` or
    `covariance_matrix: log_prob`; `cells` of `total` cells are in the region."""

    quantity: str
    cell_class: CellClass
    cells: int
    total: int
    text: str


CLASS_PHRASES = {
    CellClass.UNDEFINED: "is undefined",
    CellClass.OVERFLOW: "overflows",
    CellClass.INACCURATE: "is inaccurate",
    CellClass.LARGE_BUT_CORRECT: "is large but correct",
    CellClass.FACTORIZATION_FAILED: "fails to factorize",
    CellClass.ACCURATE: "is accurate",
}

_FINDING_CLASSES = (CellClass.UNDEFINED, CellClass.OVERFLOW, CellClass.INACCURATE,
                    CellClass.LARGE_BUT_CORRECT)


def _same(vals: npt.NDArray[np.float64]) -> bool:
    return bool((vals == vals[0]).all())


def describe_region(mask: npt.ArrayLike, sigma: Sequence[float], z: Sequence[float]) -> str:
    """Words for a non-empty set of cells of a sigma x z grid (rows sigma, columns z)."""
    import numpy as np

    m = np.asarray(mask, dtype=bool)
    n_rows, n_cols = m.shape
    row_cells = np.count_nonzero(m, axis=1)
    rows = np.flatnonzero(row_cells)
    cells = int(row_cells.sum())
    r0, r1 = int(rows[0]), int(rows[-1])
    if len(rows) == n_rows:
        where = ""
    elif r1 - r0 + 1 == len(rows):
        where = (f" at sigma = {fmt(sigma[r0])}" if len(rows) == 1 else
                 f" for sigma in [{fmt(sigma[r0])}, {fmt(sigma[r1])}]")
    else:
        where = f" at {len(rows)} of {n_rows} sigma values"
    sub = m[rows]
    first = sub.argmax(axis=1)
    last = n_cols - 1 - sub[:, ::-1].argmax(axis=1)
    gaps = int((last - first + 1 - row_cells[rows]).sum())
    z_arr, s_arr = np.asarray(z, dtype=float), np.asarray(sigma, dtype=float)
    if gaps > BAND_GAP_FRACTION * cells:
        cols = np.flatnonzero(m.any(axis=0))
        return (f"in {cells} scattered cells (sigma {fmt(sigma[r0])} to "
                f"{fmt(sigma[r1])}, z {fmt(z[cols[0]])} to {fmt(z[cols[-1]])})")
    gap_note = f", except {gaps} cells" if gaps else ""
    lows, highs = z_arr[first], z_arr[last]
    row_sigma = s_arr[rows]

    def edge(vals: npt.NDArray[np.float64], op: str) -> str:
        if _same(vals):
            return f"z {op} {fmt(vals[0])}"
        i_lo, i_hi = int(vals.argmin()), int(vals.argmax())   # first of equals, as min/max
        return (f"z {op} {fmt(vals[i_lo])} at sigma = {fmt(row_sigma[i_lo])}, up to "
                f"z {op} {fmt(vals[i_hi])} at sigma = {fmt(row_sigma[i_hi])}")

    from_start, to_end = bool((first == 0).all()), bool((last == n_cols - 1).all())
    if from_start and to_end:
        return "for every z" + where + gap_note
    if to_end:
        return "for " + edge(lows, ">=") + where + gap_note
    if from_start:
        return "for " + edge(highs, "<=") + where + gap_note
    if _same(lows) and _same(highs):
        if lows[0] == highs[0]:
            return f"at z = {fmt(lows[0])}" + where + gap_note
        return f"for z in [{fmt(lows[0])}, {fmt(highs[0])}]" + where + gap_note

    def span(vals: npt.NDArray[np.float64]) -> str:
        lo, hi = float(vals.min()), float(vals.max())
        return fmt(lo) if lo == hi else f"{fmt(lo)}..{fmt(hi)}"

    moving = ("edges depend" if not _same(lows) and not _same(highs) else
              "lower edge depends" if not _same(lows) else "upper edge depends")
    return (f"for z from {span(lows)} up to {span(highs)} ({moving} on sigma)" + where
            + gap_note)


def normal_findings(dtype: DType, sigma: Sequence[float], z: Sequence[float],
                    maps: Sequence[QuantityMap]) -> tuple[Finding, ...]:
    """Name each non-accurate region of each quantity in words."""
    out: list[Finding] = []
    total = len(sigma) * len(z)
    low_max = DTYPE_MAX[dtype]
    import numpy as np

    for qm in maps:
        any_finding = False
        counts = np.bincount(qm.codes.ravel(), minlength=len(CellClass))
        for cls in _FINDING_CLASSES:
            cells = int(counts[cls.code])
            if not cells:
                continue
            mask = qm.codes == cls.code
            any_finding = True
            text = f"{dtype.value} {qm.name} {CLASS_PHRASES[cls]} " + describe_region(
                mask, sigma, z)
            vals = abs(qm.reference[mask])
            if cls is CellClass.OVERFLOW:
                fits = int(np.count_nonzero(vals <= low_max))
                if fits == cells:
                    text += (f"; the value itself fits in {dtype.value} (at most "
                             f"{fmt(vals.max())}): an intermediate overflows or sigma "
                             "underflows to 0")
                elif fits == 0:
                    text += f"; the value itself exceeds {dtype.value}'s max {fmt(low_max)}"
                else:
                    text += (f"; at {fits} of these cells the value itself would fit in "
                             f"{dtype.value} (an intermediate overflows)")
            elif cls is CellClass.INACCURATE:
                canc = int(np.count_nonzero(qm.cancellation[mask]))
                digits = qm.digits[mask]
                worst = float(digits[digits.argmin()])   # the first of equals, as min() would
                text += f" (down to {worst:.1f} digits)"
                if canc == cells:
                    text += ("; all by cancellation: the value is much smaller than the terms "
                             "it is computed from, and the error is round-off in those terms")
                elif canc:
                    text += (f"; {canc} of these cells by cancellation, {cells - canc} lose "
                             "more than cancellation explains")
            elif cls is CellClass.LARGE_BUT_CORRECT:
                text += (f"; |value| from {fmt(vals.min())} to {fmt(vals.max())}, every digit "
                         "right: the size is mathematics, not round-off")
            out.append(Finding(qm.name, cls, cells, total, text))
        if not any_finding:
            out.append(Finding(qm.name, CellClass.ACCURATE, total, total,
                               f"{dtype.value} {qm.name} is accurate and moderate in every "
                               "cell"))
    return tuple(out)
