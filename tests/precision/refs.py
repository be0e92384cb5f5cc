"""Independent references shared by the precision tests: closed forms in float64 with plain
Python floats, mpmath at 50 digits where float64 itself is in doubt, one scalar float32 torch
evaluation the way a user writes it, and the grids and specs the tests use."""

from __future__ import annotations

import math
from pathlib import Path

import mpmath
import numpy as np
import pytest
import torch

from gaussdiag.cli import main
from gaussdiag.frontends.yaml.run import bind
from gaussdiag.frontends.yaml.spec import load_spec
from gaussdiag.pipeline import Options
from gaussdiag.precision import CellClass, SpecPrecision, check_spec, make_axis, precision_digits
from gaussdiag.tolerance import cell_tol
from gaussdiag.vocab import DType

F32 = DType.FLOAT32
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


# ---- independent references ------------------------------------------------------------------


def f32(v: float) -> float:
    """v as float32 holds it, back in float64."""
    return float(np.float32(v))


def normal_closed_form(loc: float, scale: float, x: float) -> tuple[float, float, float]:
    """log_prob, d/dloc, d/dscale in float64 from the textbook formulas."""
    d = x - loc
    return (-(d * d) / (2 * scale * scale) - math.log(scale) - LOG_SQRT_2PI,
            d / scale**2,
            (d * d - scale * scale) / scale**3)


def normal_mp(loc: float, scale: float, x: float) -> tuple[mpmath.mpf, ...]:
    """The same formulas at 50 significant digits."""
    with mpmath.workdps(50):
        lo, s, xx = mpmath.mpf(loc), mpmath.mpf(scale), mpmath.mpf(x)
        d = xx - lo
        return (-(d * d) / (2 * s * s) - mpmath.log(s) - mpmath.log(mpmath.sqrt(2 * mpmath.pi)),
                d / s**2, (d * d - s * s) / s**3)


def torch_f32(loc: float, scale: float, x: float) -> tuple[float, float, float]:
    """One scalar float32 evaluation, the way the thread's user writes it."""
    lo = torch.tensor(loc, dtype=torch.float32, requires_grad=True)
    sc = torch.tensor(scale, dtype=torch.float32, requires_grad=True)
    lp = torch.distributions.Normal(lo, sc, validate_args=False).log_prob(
        torch.tensor(x, dtype=torch.float32))
    lp.backward()
    assert lo.grad is not None and sc.grad is not None
    return float(lp.detach()), float(lo.grad), float(sc.grad)


def expected_digits(low: float, ref: float, dtype: DType = F32) -> float:
    err = abs(low - ref)
    if err == 0:
        return precision_digits(dtype)
    if ref == 0:
        return 0.0
    return min(precision_digits(dtype), max(0.0, -math.log10(err / abs(ref))))


def expected_class(low: float, ref: float, dtype: DType = F32) -> CellClass:
    if not math.isfinite(low):
        return CellClass.OVERFLOW
    if abs(low - ref) > cell_tol(dtype) * abs(ref):
        return CellClass.INACCURATE
    return CellClass.LARGE_BUT_CORRECT if abs(ref) >= 1e4 else CellClass.ACCURATE


SIGMA = make_axis("sigma", 1e-6, 1e6, 5)           # 1e-6, 1e-3, 1, 1e3, 1e6
Z = make_axis("z", 1e-2, 1e18, 6, zero=True)        # 0, 1e-2, 1e2, 1e6, 1e10, 1e14, 1e18

COND = make_axis("cond", 1.0, 1e16, 17)

ROOT = Path(__file__).resolve().parents[2]
ILL = ROOT / "configs" / "ill_conditioned_covariance.yaml"
TRIL = ROOT / "configs" / "scale_tril_vs_covariance.yaml"


def spec_check(path: Path) -> SpecPrecision:
    # One timing run: these tests check digits, not timings.
    return check_spec(bind(load_spec(str(path)), Options()), F32)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["precision-check", *args])
    out, err = capsys.readouterr()
    return code, out, err
