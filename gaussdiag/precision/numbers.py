"""The one number formatter of precision-check's sentences and tables."""

from __future__ import annotations

import math


def fmt(v: float) -> str:
    """A short number for sentences: 1e-12, 2.5e19, 0.01, 1000."""
    v = float(v)  # numpy scalars print the same once they are Python floats
    if v == 0 or not math.isfinite(v):
        return str(v) if not math.isfinite(v) else "0"
    a = abs(v)
    if 1e-3 <= a < 1e4:
        return f"{v:.4g}"
    mant, exp = f"{v:.1e}".split("e")
    mant = mant.rstrip("0").rstrip(".")
    return f"{mant}e{int(exp)}"
