"""A PNG of a precision map: `write_plot` builds the figure and writes it through `output`.

The figures themselves are built by `plot_normal` and `plot_mvn` as matplotlib `Figure`
objects (no pyplot, so no global state and nothing to close); matplotlib is imported only
when a plot is asked for.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from gaussdiag.errors import UsageError
from gaussdiag.output import write_atomic
from gaussdiag.precision.mvn import MvnSweep
from gaussdiag.precision.normal import NormalSweep
from gaussdiag.precision.point import PointResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 110


def figure(result: NormalSweep | MvnSweep, point: PointResult | None = None) -> Figure:
    """The figure of a sweep, built but not written; a Normal map marks `point`'s cell."""
    from gaussdiag.report.plot_mvn import mvn_figure
    from gaussdiag.report.plot_normal import normal_figure

    if isinstance(result, NormalSweep):
        return normal_figure(result, point)
    return mvn_figure(result)


def write_plot(result: NormalSweep | MvnSweep, path: Path,
               point: PointResult | None = None) -> None:
    """Write the figure of a sweep to `path` as a PNG (a Normal map with `point` marked)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(
            f"--plot {path}: matplotlib is not installed; install gaussdiag[plot] "
            "(pip install 'gaussdiag[plot]') or leave out --plot"
        ) from None
    buf = io.BytesIO()
    figure(result, point).savefig(buf, format="png", dpi=DPI)
    write_atomic(path, buf.getvalue())
