"""What the precision figures share: one colour per cell class, the legend, the cell ticks.

Cells are drawn in index coordinates (cell k spans k - 0.5 .. k + 0.5), which is honest for
the log-spaced axes of the sweeps: equal steps in log10 are equal steps in k. The tick labels
name the values at cell centres. matplotlib is imported only inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gaussdiag.numbers import sentence as fmt
from gaussdiag.precision.cells import CELL_CLASSES, CellClass
from gaussdiag.precision.point import PointResult

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.colors import Colormap, Normalize

# Colour-blind safe (ColorBrewer): blue for large-but-correct sets it apart from plain
# accurate at a glance, which is the question the map answers ("huge or wrong?").
CLASS_COLORS: dict[CellClass, str] = {
    CellClass.ACCURATE: "#a6dba0",
    CellClass.LARGE_BUT_CORRECT: "#2166ac",
    CellClass.OVERFLOW: "#1b1b1b",
    CellClass.UNDEFINED: "#bdbdbd",
    CellClass.FACTORIZATION_FAILED: "#762a83",
}
INACCURATE_CMAP = "YlOrRd_r"
"""Inaccurate cells are coloured by the digits they keep: dark red at 0, yellow near the
accurate threshold."""

MAX_TICK_LABELS = 7
"""Labelled ticks per axis at most; every cell keeps a minor tick."""

LEGEND_ORDER = (CellClass.ACCURATE, CellClass.LARGE_BUT_CORRECT, CellClass.INACCURATE,
                CellClass.OVERFLOW, CellClass.UNDEFINED, CellClass.FACTORIZATION_FAILED)

HATCH, HATCH_COLOR = "////", "white"
"""Cancellation cells are inaccurate, mostly at 0 digits (dark red): a white hatch shows."""

CANCELLATION_LABEL = "cancellation: round-off in the formula, not a bug"


def inaccurate_norm(accurate: float) -> Normalize:
    from matplotlib.colors import Normalize

    return Normalize(vmin=0.0, vmax=accurate)


def inaccurate_cmap() -> Colormap:
    import matplotlib

    return matplotlib.colormaps[INACCURATE_CMAP]


def cell_rgba(digits: npt.NDArray[np.float64], codes: npt.NDArray[np.int8],
              accurate: float) -> npt.NDArray[np.float64]:
    """An (..., 4) RGBA array: the class colour, or the digits colour for inaccurate cells."""
    import numpy as np
    from matplotlib.colors import to_rgba

    rgba = np.zeros((*codes.shape, 4))
    for cls, color in CLASS_COLORS.items():
        rgba[codes == cls.code] = to_rgba(color)
    bad = codes == CellClass.INACCURATE.code
    rgba[bad] = inaccurate_cmap()(inaccurate_norm(accurate)(np.nan_to_num(digits[bad])))
    return rgba


def present_classes(codes: npt.NDArray[np.int8]) -> tuple[CellClass, ...]:
    """The classes that occur in `codes`, in precedence order."""
    import numpy as np

    found = set(np.unique(codes).tolist())
    return tuple(c for c in CELL_CLASSES if c.code in found)


def class_label(cls: CellClass, *, dtype: str, accurate: float, large: float) -> str:
    """The legend text of one class."""
    if cls is CellClass.ACCURATE:
        return f"accurate (>= {accurate:.1f} digits)"
    if cls is CellClass.LARGE_BUT_CORRECT:
        return f"large-but-correct (accurate, |value| >= {fmt(large)})"
    if cls is CellClass.INACCURATE:
        return f"inaccurate (colour: digits kept, < {accurate:.1f})"
    if cls is CellClass.OVERFLOW:
        return f"overflow (not finite in {dtype})"
    if cls is CellClass.UNDEFINED:
        return "undefined (scale <= 0)"
    return f"factorization-failed ({dtype} Cholesky)"


def legend_handles(classes: Sequence[CellClass], *, dtype: str, accurate: float,
                   large: float, cancellation: bool) -> tuple[list[Artist], list[str]]:
    """Legend entries for the classes shown, the overflow marker, and the cancellation hatch."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Artist] = []
    labels: list[str] = []
    # Correct classes first, then the wrong, then those with no value to compare (matplotlib
    # fills legend columns top-down, so this reads across the columns in that order).
    for cls in sorted(classes, key=LEGEND_ORDER.index):
        color = inaccurate_cmap()(0.35) if cls is CellClass.INACCURATE else CLASS_COLORS[cls]
        patch = Patch(facecolor=color, edgecolor="0.4", linewidth=0.5)
        if cls is CellClass.OVERFLOW:
            handles.append((patch, Line2D([], [], marker="x", color="white",  # type: ignore[arg-type]
                                         linestyle="", markersize=5)))
        else:
            handles.append(patch)
        labels.append(class_label(cls, dtype=dtype, accurate=accurate, large=large))
        if cls is CellClass.INACCURATE and cancellation:
            handles.append(Patch(facecolor=inaccurate_cmap()(0.0), edgecolor=HATCH_COLOR,
                                 hatch=HATCH, linewidth=0.5))
            labels.append("inaccurate by " + CANCELLATION_LABEL)
    return handles, labels


def mark_overflow(ax: Axes, xs: npt.NDArray[np.float64], ys: npt.NDArray[np.float64]) -> None:
    """A white x on each overflow cell, so it reads without colour."""
    if len(xs):
        ax.scatter(xs, ys, marker="x", color="white", s=9, linewidths=0.8, zorder=3)


def hatch_cells(ax: Axes, xs: Sequence[float], ys: Sequence[float]) -> None:
    """Hatch the cells centred at (xs, ys): the inaccurate cells explained by cancellation."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    rects = [Rectangle((x - 0.5, y - 0.5), 1.0, 1.0) for x, y in zip(xs, ys, strict=True)]
    if rects:
        ax.add_collection(PatchCollection(rects, facecolor="none", edgecolor=HATCH_COLOR,
                                          hatch=HATCH, linewidth=0.0, zorder=2))


def value_label(v: float) -> str:
    """A tick label at a cell centre: `0`, or a power of ten in mathtext."""
    if v == 0:
        return "0"
    e = math.log10(v)
    if abs(e - round(e)) < 1e-9:
        return f"$10^{{{round(e)}}}$"
    return f"$10^{{{e:.1f}}}$"


def labelled_cells(values: Sequence[float], limit: int = MAX_TICK_LABELS) -> list[int]:
    """Which cells get a tick label: at most `limit`, evenly strided, preferring whole
    powers of ten (their labels are the readable ones)."""
    whole = [i for i, v in enumerate(values)
             if v > 0 and abs(math.log10(v) - round(math.log10(v))) < 1e-9]
    pool = whole if len(whole) >= 2 else list(range(len(values)))
    stride = max(1, math.ceil(len(pool) / limit))
    return pool[::stride]


@dataclass(frozen=True)
class PointAt:
    """Where a `--point` is drawn on a map, in cell coordinates; `inside` False: it lies
    beyond the map and is drawn at its edge."""

    x: float
    y: float
    inside: bool


POINT_STYLE: dict[str, Any] = {"marker": "o", "markersize": 11, "markerfacecolor": "none",
                               "markeredgecolor": "black", "markeredgewidth": 2.0,
                               "linestyle": ""}
"""The `--point` mark: a black ring over a white one, visible on every class colour."""


def mark_point(ax: Axes, at: PointAt) -> None:
    """The ring at `at`, whole even on the map's edge (not clipped to the axes)."""
    ax.plot([at.x], [at.y], **{**POINT_STYLE, "markeredgecolor": "white",
                               "markeredgewidth": 4.0}, zorder=5, clip_on=False)
    ax.plot([at.x], [at.y], **POINT_STYLE, zorder=6, clip_on=False)


def point_handle() -> Artist:
    from matplotlib.lines import Line2D

    return Line2D([], [], **POINT_STYLE)


def point_label(point: PointResult, at: PointAt | None) -> str:
    """The legend text of the `--point` mark: its scale and z, and where it is drawn."""
    where = f"--point: scale = {fmt(point.scale)}, z = {fmt(point.z)}"
    if at is None:
        return where + " (scale <= 0: on no row of the map)"
    if not at.inside:
        where += " (beyond the map: drawn at its edge)"
    return where
