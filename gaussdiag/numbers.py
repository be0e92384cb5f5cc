"""The one number formatter: every figure a report or a sentence of the core shows goes
through here, so a diff, a ratio, a size or a JSON value is written the same way everywhere.

    number(x)       3 significant digits for tables ('-' for none): 0.154, 2.50e-08
    number(x, 4)    the same with 4 digits
    sentence(x)     a short number for prose: 1e-12, 2.5e19, 0.01, 1000
    size(n)         bytes in binary units: 512 B, 1.4 KiB
    json_number(x)  a float JSON can hold; 'nan' / 'inf' / '-inf' as strings
"""

from __future__ import annotations

import math


def number(x: float | None, digits: int = 3) -> str:
    """`x` in `digits` significant digits; fixed point from 1e-3 to 1e4, else exponent."""
    if x is None:
        return "-"
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf"  # diffs and ratios are never negative
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.{digits}g}"
    return f"{x:.{digits - 1}e}"


def sentence(x: float) -> str:
    """A short number for sentences: 4 significant digits in fixed point, else one decimal of
    mantissa with the trailing zeros dropped (1e-12, 2.5e19)."""
    x = float(x)  # numpy scalars print the same once they are Python floats
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.4g}"
    mant, exp = f"{x:.1e}".split("e")
    return f"{mant.rstrip('0').rstrip('.')}e{int(exp)}"


def size(n: int | None) -> str:
    """A byte count: whole bytes below 1 KiB, else one decimal of KiB, MiB or GiB."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def json_number(x: float) -> float | str:
    """`x` itself when finite; JSON has no NaN or infinity, so those become strings."""
    return x if math.isfinite(x) else str(x)
