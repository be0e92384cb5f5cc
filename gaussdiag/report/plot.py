"""A PNG of a precision map (matplotlib, imported only here)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from gaussdiag.errors import UsageError
from gaussdiag.output import write_atomic
from gaussdiag.precision.cells import CellClass
from gaussdiag.precision.mvn import MvnSweep
from gaussdiag.precision.normal import NormalSweep

_NO_VALUE = (CellClass.OVERFLOW, CellClass.UNDEFINED, CellClass.FACTORIZATION_FAILED)


def write_plot(result: NormalSweep | MvnSweep, path: Path) -> None:
    """A PNG of the digits map (matplotlib, imported only here)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError(
            f"--plot {path}: matplotlib is not installed; install gaussdiag[plot] "
            "(pip install 'gaussdiag[plot]') or leave out --plot"
        ) from None
    import io

    import numpy as np

    if isinstance(result, NormalSweep):
        n = len(result.quantities)
        fig, axes = plt.subplots(1, n, figsize=(5 * n, 4.5), squeeze=False,
                                 layout="constrained")
        z_pos = [math.log10(v) if v > 0 else math.log10(result.z[1]) - 1 for v in result.z]
        s_pos = [math.log10(v) for v in result.sigma]
        for ax, qm in zip(axes[0], result.quantities, strict=True):
            data = qm.digits
            im = ax.pcolormesh(_edges(z_pos), _edges(s_pos), data, cmap="RdYlGn", vmin=0,
                               vmax=result.precision_digits, shading="flat")
            bad = np.isin(qm.codes, [c.code for c in _NO_VALUE])
            zz, ss = np.meshgrid(z_pos, s_pos)
            ax.scatter(zz[bad], ss[bad], marker="x", color="k", s=10, label="no value")
            ax.set_title(f"{qm.name} ({result.dtype.value})")
            ax.set_xlabel("log10 z  (first column: z = 0)")
            ax.set_ylabel("log10 scale")
        fig.colorbar(im, ax=axes[0].tolist(), label="digits of agreement with float64")
    else:
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(result.lines) + 1.5),
                               layout="constrained")
        data = np.array([ln.digits for ln in result.lines], dtype=float)
        c_pos = [math.log10(c) for c in result.condition]
        im = ax.pcolormesh(_edges(c_pos), np.arange(len(result.lines) + 1), data,
                           cmap="RdYlGn", vmin=0, vmax=result.precision_digits)
        ax.set_yticks(np.arange(len(result.lines)) + 0.5,
                      [f"{ln.param.value} {ln.name}" for ln in result.lines], fontsize=7)
        ax.invert_yaxis()  # first parameterization on top, as in the terminal
        ax.set_xlabel("log10 condition number")
        ax.set_title(f"MultivariateNormal dim {result.dim}, {result.dtype.value}; "
                     "blank: factorization failed")
        fig.colorbar(im, ax=ax, label="digits of agreement")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_atomic(path, buf.getvalue())


def _edges(centers: Sequence[float]) -> list[float]:
    """Cell edges for pcolormesh from (possibly uneven) cell centers."""
    if len(centers) == 1:
        return [centers[0] - 0.5, centers[0] + 0.5]
    mids = [(a + b) / 2 for a, b in zip(centers, centers[1:], strict=False)]
    return [2 * centers[0] - mids[0], *mids, 2 * centers[-1] - mids[-1]]
