"""The figure of a Normal sigma x z map: one panel per quantity, cells coloured by class.

The z axis is log-spaced after a z = 0 column; that column is drawn apart, half a cell to
the left of the log columns, with its own `0` tick, instead of pretending 0 sits on the log
axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from typing_extensions import assert_never

from gaussdiag.precision.cells import CellClass, QuantityMap
from gaussdiag.precision.normal import NormalSweep
from gaussdiag.precision.point import PointResult
from gaussdiag.report.plot_cells import (
    PointAt,
    cell_rgba,
    hatch_cells,
    inaccurate_cmap,
    inaccurate_norm,
    labelled_cells,
    legend_handles,
    mark_overflow,
    mark_point,
    point_handle,
    point_label,
    present_classes,
    value_label,
)
from gaussdiag.vocab import ScaleParam

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

ZERO_GAP = 1.0
"""Blank width, in cells, between the z = 0 column and the log-spaced columns."""

ZERO_CLEAR = 3.0
"""No z label this close (in cells) to the z = 0 tick, so `0` and `10^-4` never collide."""


def normal_formula(param: ScaleParam) -> str:
    """The distribution as the user writes it: `Normal(loc, softplus(rho))`."""
    if param is ScaleParam.SCALE:
        return "Normal(loc, scale)"
    if param is ScaleParam.SOFTPLUS:
        return f"Normal(loc, softplus({param.raw_name}))"
    if param is ScaleParam.LOG:
        return f"Normal(loc, exp({param.raw_name}))"
    assert_never(param)


def z_positions(z: Sequence[float]) -> list[float]:
    """The x of each z column's centre: a leading z = 0 column set apart by `ZERO_GAP`."""
    shift = ZERO_GAP if z and z[0] == 0 else 0.0
    return [0.0 if (k == 0 and shift) else k + shift for k in range(len(z))]


def normal_figure(result: NormalSweep, point: PointResult | None = None) -> Figure:
    """The figure of a Normal sweep (nothing is written), with `point`'s cell marked on each
    panel when given (`mark_point`)."""
    import numpy as np
    from matplotlib.cm import ScalarMappable
    from matplotlib.figure import Figure

    d = result.dtype.value
    n = len(result.quantities)
    fig = Figure(figsize=(4.6 * n + 1.2, 5.6), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    at = None if point is None else point_position(point.scale, point.z, result)
    for k, (ax, qm) in enumerate(zip(axes, result.quantities, strict=True)):
        _panel(ax, qm, result, at)
        if at is not None:
            mark_point(ax, at)
        ax.set_xlabel("z = |x - loc| / scale")
        if k == 0:
            ax.set_ylabel("scale" if result.param is ScaleParam.SCALE
                          else result.param.formula)
    all_codes = np.stack([qm.codes for qm in result.quantities])
    classes = present_classes(all_codes)
    cancel = any(bool(qm.cancellation.any()) for qm in result.quantities)
    handles, labels = legend_handles(classes, dtype=d, accurate=result.accurate_digits,
                                     large=result.large, cancellation=cancel)
    if point is not None:
        handles.append(point_handle())
        labels.append(point_label(point, at))
    fig.legend(handles, labels, loc="outside lower center", ncols=min(3, len(labels)),
               fontsize=8, frameon=False)
    if CellClass.INACCURATE in classes:
        fig.colorbar(ScalarMappable(inaccurate_norm(result.accurate_digits), inaccurate_cmap()),
                     ax=list(axes), shrink=0.8, label="digits kept by inaccurate cells")
    fig.suptitle(f"{normal_formula(result.param)} in {d} against float64\n"
                 f"loc = 0, x = z * scale, inputs rounded to {d}; "
                 f"{len(result.sigma)} x {len(result.z)} cells", fontsize=11)
    return fig


def _panel(ax: Axes, qm: QuantityMap, result: NormalSweep, avoid: PointAt | None) -> None:
    import numpy as np

    rgba = cell_rgba(qm.digits, qm.codes, result.accurate_digits)
    xs = z_positions(result.z)
    n_s, n_z = len(result.sigma), len(result.z)
    first = 1 if n_z > 1 and xs[1] - xs[0] > 1 else 0
    spans = [(0, first, -0.5, 0.5)] if first else []
    spans.append((first, n_z, xs[first] - 0.5, xs[-1] + 0.5))
    for lo, hi, left, right in spans:
        ax.imshow(rgba[:, lo:hi], extent=(left, right, -0.5, n_s - 0.5), origin="lower",
                  aspect="auto", interpolation="nearest")
    ax.set_xlim(xs[0] - 0.5, xs[-1] + 0.5)
    ax.set_ylim(-0.5, n_s - 0.5)
    over = np.nonzero(qm.codes == CellClass.OVERFLOW.code)
    mark_overflow(ax, np.asarray(xs)[over[1]], over[0].astype(float))
    rows, cols = np.nonzero(qm.cancellation)
    cx = [xs[j] for j in cols.tolist()]
    hatch_cells(ax, cx, rows.astype(float).tolist())
    if len(cx):
        _label_stripe(ax, cx, rows.tolist(), avoid)
    _ticks(ax, result.z, xs, result.sigma)
    ax.set_title(qm.name)


def _label_stripe(ax: Axes, xs: Sequence[float], rows: Sequence[int],
                  avoid: PointAt | None = None) -> None:
    """Name the cancellation cells where most of them are: a boxed word three cells to the
    right of the stripe's middle, with an arrow to it; at the stripe's row farthest from the
    --point mark when the word would cover it."""
    from collections import Counter

    x = Counter(xs).most_common(1)[0][0]
    at = sorted(r for c, r in zip(xs, rows, strict=True) if c == x)
    y = float(at[len(at) // 2])
    if avoid is not None and abs(y - avoid.y) < 2 and x < avoid.x < x + 9:
        y = float(max(at, key=lambda r: abs(r - avoid.y)))
    ax.annotate("cancellation", xy=(x + 0.5, y), xytext=(x + 3.0, y), fontsize=8,
                ha="left", va="center",
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.3", "lw": 0.6},
                arrowprops={"arrowstyle": "->", "lw": 0.8, "color": "black"})


def _ticks(ax: Axes, z: Sequence[float], xs: Sequence[float], sigma: Sequence[float]) -> None:
    """Labelled ticks at cell centres (the z = 0 column always labelled), minor on every cell."""
    cols = labelled_cells(z)
    if z and z[0] == 0:
        cols = [0, *(j for j in cols if j and xs[j] - xs[0] >= ZERO_CLEAR)]
    ax.set_xticks([xs[j] for j in cols], [value_label(z[j]) for j in cols])
    ax.set_xticks(list(xs), minor=True)
    rows = labelled_cells(sigma)
    ax.set_yticks([float(i) for i in rows], [value_label(sigma[i]) for i in rows])
    ax.set_yticks([float(i) for i in range(len(sigma))], minor=True)
    ax.tick_params(which="minor", length=2)


def point_position(scale: float, z: float, result: NormalSweep) -> PointAt | None:
    """Where (scale, z) falls on the panels, in the cell coordinates they are drawn in (cell
    k spans k - 0.5 .. k + 0.5, log-spaced axes interpolated in log10): clamped to the map's
    edge when it falls outside; None when no row holds it (scale <= 0)."""
    if not (0 < scale < math.inf and 0 <= z < math.inf):
        return None
    xs = z_positions(result.z)
    y = _log_index(scale, result.sigma)
    if z == 0 and result.z[0] == 0:
        x = xs[0]
    else:
        first = 1 if result.z[0] == 0 else 0
        x = xs[first] + _log_index(z, result.z[first:]) if z > 0 else xs[0] - 0.5
    lo_x, hi_x = xs[0] - 0.5, xs[-1] + 0.5
    lo_y, hi_y = -0.5, len(result.sigma) - 0.5
    inside = lo_x <= x <= hi_x and lo_y <= y <= hi_y
    return PointAt(min(max(x, lo_x), hi_x), min(max(y, lo_y), hi_y), inside)


def _log_index(v: float, axis: Sequence[float]) -> float:
    """The fractional cell index of `v` on a log-spaced axis (beyond the ends, beyond)."""
    if len(axis) == 1:
        return 0.0 if v == axis[0] else (-math.inf if v < axis[0] else math.inf)
    lo, hi = math.log10(axis[0]), math.log10(axis[-1])
    return (math.log10(v) - lo) / ((hi - lo) / (len(axis) - 1))
