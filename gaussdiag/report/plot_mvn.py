"""The figure of a MultivariateNormal sweep: one row per parameterization and quantity, one
column per covariance condition number, cells coloured by class."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gaussdiag.precision.cells import CellClass
from gaussdiag.precision.mvn import MvnParam, MvnSweep
from gaussdiag.report.plot_cells import (
    cell_rgba,
    inaccurate_cmap,
    inaccurate_norm,
    labelled_cells,
    legend_handles,
    mark_overflow,
    present_classes,
    value_label,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_CELL_TEXT = 600
"""Grids up to this many cells carry each cell's digits as text, as the terminal map does."""

_SYMBOLS = {CellClass.OVERFLOW: "X", CellClass.UNDEFINED: "-",
            CellClass.FACTORIZATION_FAILED: "F"}


def mvn_formula() -> str:
    """The distribution with the parameterizations swept: one matrix argument at a time."""
    return f"MultivariateNormal(loc, {' | '.join(p.value for p in MvnParam)})"


def mvn_figure(result: MvnSweep) -> Figure:
    """The figure of an MVN sweep (nothing is written)."""
    import numpy as np
    from matplotlib.cm import ScalarMappable
    from matplotlib.figure import Figure

    d = result.dtype.value
    n_rows, n_c = len(result.lines), len(result.condition)
    digits = np.array([ln.digits for ln in result.lines], dtype=float)
    codes = np.array([[c.code for c in ln.classes] for ln in result.lines], dtype=np.int8)
    fig = Figure(figsize=(max(7.5, 0.42 * n_c + 4.5), 0.34 * n_rows + 3.2),
                 layout="constrained")
    ax = fig.subplots()
    ax.imshow(cell_rgba(digits, codes, result.accurate_digits), origin="upper",
              aspect="auto", interpolation="nearest",
              extent=(-0.5, n_c - 0.5, n_rows - 0.5, -0.5))
    over = np.nonzero(codes == CellClass.OVERFLOW.code)
    if n_rows * n_c <= MAX_CELL_TEXT:
        _cell_text(ax, digits, codes, result.accurate_digits)
    else:
        mark_overflow(ax, over[1].astype(float), over[0].astype(float))
    _separators(ax, result)
    cols = labelled_cells(result.condition, limit=12)
    ax.set_xticks([float(j) for j in cols], [value_label(result.condition[j]) for j in cols])
    ax.set_xticks([float(j) for j in range(n_c)], minor=True)
    ax.set_yticks([float(i) for i in range(n_rows)],
                  [f"{ln.param.value}: {ln.name}" for ln in result.lines], fontsize=8)
    ax.tick_params(which="minor", length=2)
    ax.set_xlabel("condition number of the covariance")
    classes = present_classes(codes)
    handles, labels = legend_handles(classes, dtype=d, accurate=result.accurate_digits,
                                     large=result.large, cancellation=False)
    fig.legend(handles, labels, loc="outside lower center", ncols=min(3, len(labels)),
               fontsize=8, frameon=False)
    if CellClass.INACCURATE in classes:
        fig.colorbar(ScalarMappable(inaccurate_norm(result.accurate_digits), inaccurate_cmap()),
                     ax=ax, shrink=0.9, label="digits kept by inaccurate cells")
    fig.suptitle(f"{mvn_formula()}\ndim {result.dim}, {d} against the float64 closed form; "
                 "cell text: digits kept", fontsize=11)
    return fig


def _cell_text(ax: Axes, digits: npt.NDArray[np.float64], codes: npt.NDArray[np.int8],
               accurate: float) -> None:
    """Each cell's whole digits (or its class symbol), dark on light cells, white on dark."""
    from gaussdiag.precision.cells import CELL_CLASSES

    for i, row in enumerate(codes.tolist()):
        for j, code in enumerate(row):
            cls = CELL_CLASSES[code]
            text = _SYMBOLS.get(cls) or f"{int(digits[i, j])}"
            dark = cls in _SYMBOLS or cls is CellClass.LARGE_BUT_CORRECT or (
                cls is CellClass.INACCURATE and digits[i, j] < accurate / 3)
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if dark else "black")


def _separators(ax: Axes, result: MvnSweep) -> None:
    """A white line between the parameterizations' groups of rows."""
    for i in range(1, len(result.lines)):
        if result.lines[i].param is not result.lines[i - 1].param:
            ax.axhline(i - 0.5, color="white", linewidth=2.5)
