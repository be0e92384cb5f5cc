"""Tests of `gaussdiag.precision` and the `precision-check` command.

References are independent of the code under test: closed forms for Normal log_prob and its
gradients evaluated in float64 with plain Python floats, mpmath at 50 digits where float64
itself is in doubt, `torch.linalg.cholesky_ex` for where a float32 Cholesky fails, and
torch's own float64 autograd for the MVN closed forms.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest
import torch

from gaussdiag.cli import main
from gaussdiag.precision import (
    TIE_DIGITS,
    TOLERANCES,
    Better,
    CellClass,
    MvnParam,
    ScaleParam,
    SidePrecision,
    SideQuantity,
    SpecPrecision,
    accurate_digits,
    check_point,
    check_spec,
    compare_digits,
    describe_region,
    make_axis,
    mvn_matrices,
    parse_point,
    precision_digits,
    recommend,
    sweep_mvn,
    sweep_normal,
)
from gaussdiag.report_precision import render_mvn, render_normal, render_point, render_spec
from gaussdiag.results import SideCost
from gaussdiag.spec import load_spec
from gaussdiag.vocab import DType, SideName

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
    eps = torch.finfo(torch.float32).eps
    if abs(low - ref) > TOLERANCES[dtype].scalar * eps * abs(ref):
        return CellClass.INACCURATE
    return CellClass.LARGE_BUT_CORRECT if abs(ref) >= 1e4 else CellClass.ACCURATE


# ---- the Normal sweep against closed forms ---------------------------------------------------

SIGMA = make_axis("--sigma", 1e-6, 1e6, 5)           # 1e-6, 1e-3, 1, 1e3, 1e6
Z = make_axis("--z", 1e-2, 1e18, 6, zero=True)        # 0, 1e-2, 1e2, 1e6, 1e10, 1e14, 1e18


@pytest.fixture(scope="module")
def sweep32() -> object:
    return sweep_normal(F32, ScaleParam.SCALE, SIGMA, Z)


CELLS = [  # (sigma index, z index, why)
    pytest.param(2, 0, id="sigma=1,z=0"),
    pytest.param(0, 1, id="tiny-sigma,z=0.01:grad-large"),
    pytest.param(1, 2, id="sigma=1e-3,z=100"),
    pytest.param(2, 3, id="sigma=1,z=1e6:log_prob-large"),
    pytest.param(4, 3, id="sigma=1e6,z=1e6"),
    pytest.param(0, 5, id="sigma=1e-6,z=1e14:grad[scale]-intermediate-overflow"),
    pytest.param(0, 4, id="sigma=1e-6,z=1e10"),
    pytest.param(4, 5, id="sigma=1e6,z=1e14:x-loc-squared-overflows"),
    pytest.param(2, 6, id="sigma=1,z=1e18"),
]


@pytest.mark.parametrize(("i", "j"), CELLS)
def test_sweep_cell_matches_closed_form(sweep32: object, i: int, j: int) -> None:
    s = sweep32
    sigma, z = SIGMA.values()[i], Z.values()[j]
    scale32, x32 = f32(sigma), f32(z * sigma)
    refs = normal_closed_form(0.0, scale32, x32)
    lows = torch_f32(0.0, scale32, x32)
    for q, low, ref in zip(s.quantities, lows, refs, strict=True):  # type: ignore[attr-defined]
        ctx = f"{q.name} at sigma={sigma:g}, z={z:g}: float32 {low!r}, closed form {ref!r}"
        cls = expected_class(low, ref)
        assert q.classes[i][j] is cls, ctx
        if cls is not CellClass.OVERFLOW:
            assert q.digits[i][j] == pytest.approx(expected_digits(low, ref), abs=0.05), ctx


def test_overflow_cells_are_finite_in_float64(sweep32: object) -> None:
    """sigma = 1e-6, z = 1e14: d/dscale = z^2/sigma = 1e34 fits in float32, but torch's
    backward forms z^2/(4 sigma^2) = 2.5e39 on the way, so float32 gives inf: overflow."""
    q = sweep32.quantities[2]  # type: ignore[attr-defined]
    assert q.classes[0][5] is CellClass.OVERFLOW
    assert math.isfinite(q.reference[0][5]) and abs(q.reference[0][5]) < 3.4e38
    assert any("intermediate overflows" in f.text for f in sweep32.findings  # type: ignore[attr-defined]
               if f.quantity == "grad[scale]" and f.cell_class is CellClass.OVERFLOW)


def test_reference_is_float64_at_rounded_inputs() -> None:
    """The reference uses the float32-rounded inputs: at sigma = 0.1 the rounding of scale
    alone moves grad[loc] by ~1e-8 relative, yet the cell has full digits."""
    r = check_point(F32, ScaleParam.SCALE, parse_point("scale=0.1,x=0.3", ScaleParam.SCALE))
    g = r.quantities[1]
    s32, x32 = f32(0.1), f32(0.3)
    assert g.reference == pytest.approx(x32 / s32**2, rel=1e-14)
    assert g.reference_exact == pytest.approx(0.3 / 0.01, rel=1e-14)


@pytest.mark.parametrize(("loc", "scale", "x", "quantity"), [
    # log_prob crosses 0 where z^2/2 = -log(scale) - log(sqrt(2 pi)): float64 itself cancels
    pytest.param(0.0, 1e-3, 3.4608e-3, 0, id="log_prob-near-zero-crossing"),
    # grad[scale] vanishes at z = 1: the reference is the difference of equal terms
    pytest.param(0.0, 1e9, 1.0000001e9, 2, id="grad[scale]-near-z=1"),
    pytest.param(1e3, 1e-2, 1e3 + 5e-2, 1, id="grad[loc]-offset-loc"),
])
def test_point_against_mpmath_where_float64_is_in_doubt(loc: float, scale: float, x: float,
                                                        quantity: int) -> None:
    r = check_point(F32, ScaleParam.SCALE, parse_point(f"loc={loc!r},scale={scale!r},x={x!r}",
                                                       ScaleParam.SCALE))
    q = r.quantities[quantity]
    mp_ref = normal_mp(f32(loc), f32(scale), f32(x))[quantity]
    ctx = f"{q.name} at loc={loc}, scale={scale}, x={x}: float64 {q.reference!r}, mp {mp_ref}"
    # float64 is good enough as a reference here: at least 9 digits beyond float32's 7.2
    ref_err = abs(mpmath.mpf(q.reference) - mp_ref) / abs(mp_ref)
    assert ref_err < 1e-9, ctx
    want = expected_digits(q.low, float(mp_ref))
    assert q.digits == pytest.approx(want, abs=0.05), ctx


def test_cancellation_at_z_equal_1_is_flagged_as_such() -> None:
    """At z = 1 exactly the true grad[scale] is 0 and float32 returns round-off of 1/sigma:
    inaccurate in relative terms, and the finding says it is cancellation."""
    s = sweep_normal(F32, ScaleParam.SCALE, make_axis("--sigma", 1e-10, 1e10, 21),
                     make_axis("--z", 1e-1, 1e1, 3, zero=True))
    gs = s.quantities[2]
    flagged = [(i, j) for i, row in enumerate(gs.classes) for j, c in enumerate(row)
               if c is CellClass.INACCURATE]
    assert flagged and all(s.z[j] == 1.0 for _, j in flagged)
    assert all(gs.cancellation[i][j] for i, j in flagged)
    (f,) = [f for f in s.findings if f.quantity == "grad[scale]"
            and f.cell_class is CellClass.INACCURATE]
    assert "at z = 1" in f.text and "cancellation" in f.text


@pytest.mark.parametrize("param", list(ScaleParam), ids=lambda p: p.value)
def test_every_param_gradients_are_wrt_raw(param: ScaleParam) -> None:
    """grad[raw] = grad[scale] * dscale/draw, with the closed form dscale/draw per param."""
    s = sweep_normal(F32, param, make_axis("--sigma", 1e-3, 1e3, 3),
                     make_axis("--z", 1e-1, 1e1, 3, zero=True))
    assert [q.name for q in s.quantities] == ["log_prob", "grad[loc]", f"grad[{param.raw_name}]"]
    i, j = 0, 3                 # sigma = 1e-3, z = 10
    sigma = s.sigma[i]
    dsd = {ScaleParam.SCALE: 1.0, ScaleParam.SOFTPLUS: -math.expm1(-sigma),
           ScaleParam.LOG: sigma}[param]
    want = normal_closed_form(0.0, sigma, s.z[j] * sigma)[2] * dsd
    assert s.quantities[2].reference[i][j] == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("dtype", [DType.FLOAT16, DType.BFLOAT16], ids=lambda d: d.value)
def test_half_dtypes(dtype: DType) -> None:
    s = sweep_normal(dtype, ScaleParam.SCALE, make_axis("--sigma", 1e-12, 1e12, 9),
                     make_axis("--z", 1e-4, 1e20, 9, zero=True))
    classes = {c for q in s.quantities for row in q.classes for c in row}
    assert CellClass.ACCURATE in classes and CellClass.OVERFLOW in classes
    if dtype is DType.FLOAT16:
        # 1e-12 rounds to 0 in float16: the sigma the dtype holds is <= 0
        assert all(c is CellClass.UNDEFINED for c in s.quantities[0].classes[0])
    digits = [d for q in s.quantities for row in q.digits for d in row if not math.isnan(d)]
    assert max(digits) == pytest.approx(precision_digits(dtype))


# ---- the thread's examples -------------------------------------------------------------------


def test_thread_example_1_tiny_sigma_gradients_are_large_but_correct() -> None:
    r = check_point(F32, ScaleParam.SCALE, parse_point("loc=0,scale=0.01,x=10",
                                                       ScaleParam.SCALE))
    by = {q.name: q for q in r.quantities}
    assert by["grad[loc]"].cell_class is CellClass.LARGE_BUT_CORRECT
    assert by["grad[scale]"].cell_class is CellClass.LARGE_BUT_CORRECT
    assert by["grad[loc]"].low == pytest.approx(1e5, rel=1e-6)      # (x - loc)/scale^2
    assert by["grad[scale]"].low == pytest.approx(1e8, rel=1e-6)    # (d^2 - s^2)/s^3
    assert min(by[n].digits for n in by) >= accurate_digits(F32)
    text = " ".join(r.advice)
    for phrase in ("correct to float32 precision", "not round-off", "softplus", "lower bound",
                   "clip"):
        assert phrase in text, text


def test_thread_example_2_zero_sigma_is_undefined_and_explained() -> None:
    r = check_point(F32, ScaleParam.SCALE, parse_point("loc=0,scale=0,x=1", ScaleParam.SCALE))
    assert all(q.cell_class is CellClass.UNDEFINED for q in r.quantities)
    assert r.torch_behavior is not None
    assert "GreaterThan" in r.torch_behavior.validate_error
    assert math.isnan(dict(r.torch_behavior.unvalidated)["log_prob"])
    text = " ".join(r.advice)
    assert "validate_args=True" in text and "ValueError" in text
    assert "validate_args=False" in text and "nan" in text


def test_thread_example_3_softplus() -> None:
    """The thread's softplus: rho = 1 (scale = softplus(1) = 1.31), x = 10: moderate, accurate;
    the advice says what softplus does and does not change."""
    r = check_point(F32, ScaleParam.SOFTPLUS, parse_point("loc=0,rho=1,x=10",
                                                          ScaleParam.SOFTPLUS))
    assert r.scale == pytest.approx(math.log1p(math.e))
    assert {q.cell_class for q in r.quantities} == {CellClass.ACCURATE}
    grad_rho = next(q for q in r.quantities if q.name == "grad[rho]")
    d, s = 10.0, r.scale
    assert grad_rho.reference == pytest.approx((d * d - s * s) / s**3 / (1 + math.exp(-1)),
                                               rel=1e-6)
    text = " ".join(r.advice)
    assert "nothing to fix" in text and "softplus(rho)" in text and "plain scale" in text


def test_softplus_at_tiny_sigma_rescales_but_stays_large() -> None:
    r = check_point(F32, ScaleParam.SOFTPLUS, parse_point("scale=0.01,x=10",
                                                          ScaleParam.SOFTPLUS))
    g = next(q for q in r.quantities if q.name == "grad[rho]")
    assert g.cell_class is CellClass.LARGE_BUT_CORRECT
    assert g.reference == pytest.approx(1e8 * -math.expm1(-0.01), rel=1e-5)


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("loc=0,scale=0.01", "x is missing", id="no-x"),
    pytest.param("x=1", "scale is missing", id="no-scale"),
    pytest.param("scale=1,x", "expected key=value", id="no-equals"),
    pytest.param("scael=1,x=1", "did you mean 'scale'", id="typo"),
    pytest.param("scale=a,x=1", "is not a number", id="not-a-number"),
    pytest.param("scale=1,x=nan", "must be finite", id="nan"),
    pytest.param("scale=1,scale=2,x=1", "given twice", id="duplicate"),
    pytest.param("rho=1,x=1", "needs --param softplus", id="rho-without-softplus"),
])
def test_bad_point(text: str, message: str) -> None:
    from gaussdiag.errors import UsageError

    with pytest.raises(UsageError, match=message):
        parse_point(text, ScaleParam.SCALE)


# ---- MVN -------------------------------------------------------------------------------------

COND = make_axis("--cond", 1.0, 1e16, 17)


@pytest.fixture(scope="module")
def mvn32() -> object:
    return sweep_mvn(F32, 4, COND)


def test_mvn_matrices_are_what_they_claim() -> None:
    case = mvn_matrices(4, COND.values())
    for k, cond in enumerate(COND.values()[:9]):      # float64 eigvalsh is reliable here
        ev = torch.linalg.eigvalsh(case.cov[k])
        assert float(ev[-1] / ev[0]) == pytest.approx(cond, rel=1e-6)
        assert torch.allclose(case.tril[k] @ case.tril[k].T, case.cov[k], rtol=0, atol=1e-14)
        assert torch.allclose(case.cov[k] @ case.prec[k], torch.eye(4, dtype=torch.float64),
                              atol=1e-8 * cond)
    assert torch.equal(case.tril, torch.tril(case.tril))


@pytest.mark.parametrize("param", list(MvnParam), ids=lambda p: p.value)
def test_mvn_failures_match_cholesky_ex(mvn32: object, param: MvnParam) -> None:
    """Where the sweep says factorization-failed is exactly where float32 cholesky_ex of the
    same float32 matrix reports an error (torch factorizes a precision matrix flipped)."""
    case = mvn_matrices(4, COND.values())
    line = next(ln for ln in mvn32.lines if ln.param is param)  # type: ignore[attr-defined]
    failed = [c is CellClass.FACTORIZATION_FAILED for c in line.classes]
    if param is MvnParam.SCALE_TRIL:
        assert not any(failed)
        return
    m = case.cov if param is MvnParam.COVARIANCE_MATRIX else case.prec.flip(-2, -1)
    info = torch.linalg.cholesky_ex(m.to(torch.float32)).info
    want = [bool(v) for v in info.ne(0).tolist()]
    assert failed == want, f"{param.value}: conditions {COND.values()}"
    assert any(want), "the sweep should reach a failing condition number"
    first = COND.values()[want.index(True)]
    (f,) = [f for f in mvn32.findings  # type: ignore[attr-defined]
            if f.cell_class is CellClass.FACTORIZATION_FAILED and f.quantity == param.value]
    assert f"first at cond = {first:.0e}".replace("e+", "e").replace("e0", "e") in f.text


@pytest.mark.parametrize("param", list(MvnParam), ids=lambda p: p.value)
def test_mvn_closed_form_matches_float64_autograd(param: MvnParam) -> None:
    """The closed-form reference agrees with torch's own float64 autograd at cond 1e3."""
    from gaussdiag.precision import _mvn_reference

    case = mvn_matrices(3, [1e3])
    r = (case.u * case.eigs.sqrt()) @ case.q.T
    ref = _mvn_reference(case, r)
    mat = {MvnParam.COVARIANCE_MATRIX: case.cov, MvnParam.SCALE_TRIL: case.tril,
           MvnParam.PRECISION_MATRIX: case.prec}[param][0].clone().requires_grad_(True)
    loc = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    lp = torch.distributions.MultivariateNormal(loc, validate_args=False,
                                                **{param.value: mat}).log_prob(r[0])
    g_loc, g_m = torch.autograd.grad(lp, [loc, mat])
    assert float(lp.detach()) == pytest.approx(float(ref["log_prob"][0]), rel=1e-12)
    assert torch.allclose(g_loc, ref["grad[loc]"][0], rtol=1e-10)
    assert torch.allclose(g_m, ref[f"grad[{param.value}]"][0], rtol=1e-9, atol=1e-9)


def test_scale_tril_is_the_robust_choice(mvn32: object) -> None:
    last = mvn32.findings[-1]  # type: ignore[attr-defined]
    assert "most robust" in last.text and "scale_tril" in last.text
    tril_lp = next(ln for ln in mvn32.lines  # type: ignore[attr-defined]
                   if ln.param is MvnParam.SCALE_TRIL and ln.name == "log_prob")
    assert all(not math.isnan(d) for d in tril_lp.digits)


# ---- regions, vocabulary, renderers ----------------------------------------------------------

S5, Z5 = (1.0, 2.0, 3.0), (0.0, 1.0, 2.0, 3.0)


@pytest.mark.parametrize(("mask", "text"), [
    pytest.param([[0, 0, 1, 1]] * 3, "for z >= 2", id="suffix"),
    pytest.param([[0, 0, 0, 1], [0, 0, 1, 1], [0, 1, 1, 1]],
                 "for z >= 1 at sigma = 3, up to z >= 3 at sigma = 1", id="moving-suffix"),
    pytest.param([[1, 1, 0, 0]] * 3, "for z <= 1", id="prefix"),
    pytest.param([[0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]], "at z = 1 for sigma in [1, 2]",
                 id="column"),
    pytest.param([[1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]], "scattered", id="scattered"),
])
def test_describe_region(mask: list[list[int]], text: str) -> None:
    assert text in describe_region([[bool(v) for v in r] for r in mask], S5, Z5)


@pytest.mark.parametrize("cls", list(CellClass), ids=lambda c: c.value)
def test_every_class_renders(cls: CellClass) -> None:
    from gaussdiag.precision import _CLASS_PHRASES
    from gaussdiag.report_precision import _cell

    text, style = _cell(5.0, cls, 5.7, 7.2)
    assert len(text) == 3 and style
    assert _CLASS_PHRASES[cls]


def test_float64_is_not_a_low_dtype() -> None:
    assert DType.FLOAT64 not in TOLERANCES
    assert set(TOLERANCES) == set(DType) - {DType.FLOAT64}


def test_renderers_are_plain_text_without_a_terminal(sweep32: object, mvn32: object) -> None:
    from rich.console import Console

    r = check_point(F32, ScaleParam.SCALE, parse_point("scale=0.01,x=10", ScaleParam.SCALE))
    for view in (render_normal(sweep32, plain=True), render_mvn(mvn32, plain=True),  # type: ignore[arg-type]
                 render_point(r, plain=True)):
        console = Console(width=120, force_terminal=False, record=True)
        with console.capture() as cap:
            console.print(view, soft_wrap=True)
        out = cap.get()
        assert "\x1b[" not in out and out.strip()


# ---- the command -----------------------------------------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["precision-check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_quick(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "--quick")
    assert code == 0, err
    for word in ("log_prob", "grad[loc]", "grad[scale]", "findings", "overflows"):
        assert word in out


def test_cli_point(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "--point", "loc=0,scale=0.01,x=10")
    assert code == 0, err
    assert "large-but-correct" in out and "not round-off" in out


def test_cli_json_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "--quick", "--param", "log", "--json", "-")
    assert code == 0, err
    data = json.loads(out)
    assert {"dtype", "param", "axes", "quantities", "findings"} <= set(data)
    assert data["dtype"] == "float32" and data["param"] == "log"
    grid = data["quantities"]["grad[log_scale]"]
    assert len(grid["digits"]) == len(data["axes"]["sigma"])
    assert len(grid["class"][0]) == len(data["axes"]["z"])
    assert {c for row in grid["class"] for c in row} <= {c.value for c in CellClass}


def test_cli_point_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "--point", "scale=0,x=1", "--json", "-")
    assert code == 0, err
    data = json.loads(out)
    assert {"point", "quantities", "advice"} <= set(data)
    q = data["quantities"][0]
    assert set(q) >= {"name", "value", "digits", "class"}
    assert q["class"] == "undefined" and q["value"]["float32"] == "nan"


def test_cli_json_file_and_mvn(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    code, out, err = run_cli(capsys, "--dist", "mvn", "--quick", "--json", str(target))
    assert code == 0, err
    assert "factorization failed" in out
    data = json.loads(target.read_text())
    assert data["axes"]["condition"][0] == 1.0
    assert "factorization-failed" in data["quantities"]["covariance_matrix"]["log_prob"]["class"]
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temp file left behind


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(["--sigma-n", "-3"], "--sigma-n must be between", id="negative-grid"),
    pytest.param(["--z-n", "1"], "--z-n must be between", id="grid-of-one"),
    pytest.param(["--sigma-lo", "10", "--sigma-hi", "1"], "must be below", id="lo>=hi"),
    pytest.param(["--z-lo", "0"], "must be > 0", id="z-lo-zero"),
    pytest.param(["--dtype", "float64"], "the reference is float64", id="float64"),
    pytest.param(["--point", "scale=1"], "x is missing", id="bad-point"),
    pytest.param(["--dist", "mvn", "--dim", "0"], "--dim must be", id="dim-0"),
    pytest.param(["--json", "/nonexistent-dir/x.json", "--quick"], "does not exist",
                 id="json-folder-missing"),
    pytest.param(["--dist", "mvn", "--point", "scale=1,x=1"], "does not combine",
                 id="point-with-mvn"),
    pytest.param(["--point", "scale=1,x=1", "--plot", "p.png"], "leave it out with --point",
                 id="point-with-plot"),
    pytest.param(["configs/mvn_diag_fixed.yaml", "--point", "scale=1,x=1"],
                 "--point shapes the built-in sweep", id="spec-with-point"),
    pytest.param(["configs/mvn_diag_fixed.yaml", "--dist", "normal"],
                 "--dist shapes the built-in sweep", id="spec-with-dist"),
    pytest.param(["configs/mvn_diag_fixed.yaml", "--quick", "--sigma-n", "5"],
                 "leave out --sigma-n, --quick", id="spec-with-grid"),
    pytest.param(["--device", "cpu", "--quick"], "--device applies to SPEC files",
                 id="device-without-spec"),
    pytest.param(["configs/mvn_diag_fixed.yaml", "--dtype", "float64"],
                 "the reference is float64", id="spec-float64"),
    pytest.param(["configs/mvn_diag_fixed.yaml", "--device", "cuda:99"],
                 "configs/mvn_diag_fixed.yaml: device 'cuda:99' requested", id="absent-device"),
    pytest.param(["configs/no_such_spec.yaml"], "file not found", id="spec-missing"),
])
def test_cli_bad_options_exit_2(capsys: pytest.CaptureFixture[str], args: list[str],
                                message: str) -> None:
    code, out, err = run_cli(capsys, *args)
    assert code == 2, (args, out, err)
    assert message in err and err.count("\n") == 1


def test_cli_unknown_dtype_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "--dtype", "float8")
    assert code == 2, err


def test_cli_plot_without_matplotlib(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        code, _, err = run_cli(capsys, "--quick", "--plot", str(tmp_path / "m.png"))
        assert code == 2 and "install gaussdiag[plot]" in err
    else:
        code, _, err = run_cli(capsys, "--quick", "--plot", str(tmp_path / "m.png"))
        assert code == 0, err
        assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"


def test_help_does_not_import_torch() -> None:
    """`precision-check --help` answers without importing torch (or numpy)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c",
         "import sys; from gaussdiag.cli import main; "
         "sys.exit(main(['precision-check', '--help']))"],
        capture_output=True, text=True, env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "precision-check" in proc.stdout
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "torch" not in imported and "numpy" not in imported


def test_progress_callback_reports_every_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    import gaussdiag.precision as pc

    monkeypatch.setattr(pc, "CHUNK_CELLS", 10)        # 2 rows of 5 cells per chunk
    calls: list[tuple[int, int]] = []
    whole = sweep_normal(F32, ScaleParam.SCALE, make_axis("--sigma", 1e-3, 1e3, 7),
                         make_axis("--z", 1.0, 10.0, 4, zero=True),
                         progress=lambda done, total: calls.append((done, total)))
    assert calls == [(10, 35), (20, 35), (30, 35), (35, 35)]
    monkeypatch.setattr(pc, "CHUNK_CELLS", 1 << 18)
    one = sweep_normal(F32, ScaleParam.SCALE, make_axis("--sigma", 1e-3, 1e3, 7),
                       make_axis("--z", 1.0, 10.0, 4, zero=True))
    for a, b in zip(whole.quantities, one.quantities, strict=True):
        assert a.classes == b.classes      # chunking changes nothing but the pacing


def test_progress_bar_only_on_a_terminal_and_for_big_grids() -> None:
    import io

    from rich.console import Console

    from gaussdiag.report_precision import PROGRESS_MIN_CELLS, progress_bar

    pipe = Console(file=io.StringIO(), force_terminal=False)
    with progress_bar(pipe, 10 * PROGRESS_MIN_CELLS) as cb:
        assert cb is None
    tty = Console(file=io.StringIO(), force_terminal=True)
    with progress_bar(tty, PROGRESS_MIN_CELLS - 1) as cb:
        assert cb is None
    with progress_bar(tty, PROGRESS_MIN_CELLS) as cb:
        assert cb is not None
        cb(PROGRESS_MIN_CELLS, PROGRESS_MIN_CELLS)


# ---- SPEC files: each side against its own float64 -------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
ILL = ROOT / "configs" / "ill_conditioned_covariance.yaml"
TRIL = ROOT / "configs" / "scale_tril_vs_covariance.yaml"


def _spec_check(path: Path) -> SpecPrecision:
    # One timing run: these tests check digits, not timings.
    return check_spec(load_spec(str(path)), F32, repeats=1)


@pytest.fixture(scope="module")
def ill32() -> SpecPrecision:
    return _spec_check(ILL)


@pytest.fixture(scope="module")
def tril32() -> SpecPrecision:
    return _spec_check(TRIL)


def _digits_by_hand(low: torch.Tensor, ref: torch.Tensor) -> float:
    """-log10(max|low - ref| / max(max|low|, max|ref|)), capped at float32's 7.22 digits."""
    lo, rf = low.detach().double(), ref.detach().double()
    rel = float((lo - rf).abs().max()) / max(float(lo.abs().max()), float(rf.abs().max()))
    cap = -math.log10(2.0**-24)
    return cap if rel == 0 else min(cap, max(0.0, -math.log10(rel)))


def _ill_conditioned_by_hand() -> dict[str, dict[str, float]]:
    """The config's two log_probs written out in torch, float32 against float64: P and the
    input y (seed 4: y is the generator's first draw, N(0, 0.5^2) of shape 64 x 4)."""
    P64 = torch.tensor([[500000.5, 499999.5, 0.0, 0.0], [499999.5, 500000.5, 0.0, 0.0],
                        [0.0, 0.0, 2.0, 0.5], [0.0, 0.0, 0.5, 1.0]], dtype=torch.float64)
    y64 = torch.randn(64, 4, dtype=torch.float64,
                      generator=torch.Generator().manual_seed(4)) * 0.5
    out: dict[str, dict[str, float]] = {}
    for side in ("a", "b"):
        runs = {}
        for dt in (torch.float32, torch.float64):
            P = P64.to(dt).requires_grad_(True)
            loc = torch.zeros(4, dtype=dt, requires_grad=True)
            if side == "a":
                mvn = torch.distributions.MultivariateNormal(
                    loc, covariance_matrix=torch.linalg.inv(P))
            else:
                mvn = torch.distributions.MultivariateNormal(loc, precision_matrix=P)
            lp = mvn.log_prob(y64.to(dt))
            g_loc, g_p = torch.autograd.grad(lp.sum(), [loc, P])
            runs[dt] = {"log_prob": lp, "grad[loc]": g_loc, "grad[P]": g_p}
        out[side] = {name: _digits_by_hand(runs[torch.float32][name], runs[torch.float64][name])
                     for name in runs[torch.float32]}
    return out


def test_ill_conditioned_precision_side_keeps_more_float32_digits(
        ill32: SpecPrecision) -> None:
    """covariance_matrix=inverse(P) against precision_matrix=P at cond(P) = 1e6: the explicit
    inverse loses digits that the precision side keeps; the digits match a hand-written
    float32-vs-float64 torch computation of the same two log_probs."""
    ref = _ill_conditioned_by_hand()
    for side in ill32.sides:
        got = {q.name: q.digits for q in side.quantities}
        assert set(got) == set(ref[side.side.value])
        for name, digits in got.items():
            assert digits == pytest.approx(ref[side.side.value][name], abs=0.05), (
                side.side.value, name, got, ref)
    for name in ref["a"]:
        assert ref["b"][name] > ref["a"][name] + 1.0, (name, ref)   # the hand computation
    assert dict(ill32.better) == {"log_prob": Better.B, "grad[loc]": Better.B,
                                  "grad[P]": Better.B}
    assert ill32.recommendation.side is SideName.B
    a = ill32.side(SideName.A)
    assert all(q.cell_class is CellClass.INACCURATE for q in a.quantities)


def test_scale_tril_keeps_at_least_as_many_digits(tril32: SpecPrecision) -> None:
    a, b = tril32.sides
    assert "scale_tril" in a.label and "covariance_matrix" in b.label
    for (name, better), qa, qb in zip(tril32.better, a.quantities, b.quantities, strict=True):
        assert better in (Better.A, Better.TIE), (name, qa.digits, qb.digits)
        assert qa.digits >= qb.digits - TIE_DIGITS, (name, qa.digits, qb.digits)


def test_swapping_sides_swaps_the_answer(ill32: SpecPrecision, tmp_path: Path) -> None:
    text = ILL.read_text()
    swapped = tmp_path / "swapped.yaml"
    swapped.write_text(text.replace("\na:\n", "\nX:\n").replace("\nb:\n", "\na:\n")
                       .replace("\nX:\n", "\nb:\n"))
    r = _spec_check(swapped)
    flip = {Better.A: Better.B, Better.B: Better.A, Better.TIE: Better.TIE,
            Better.NEITHER: Better.NEITHER}
    assert r.better == tuple((n, flip[v]) for n, v in ill32.better)
    for mine, theirs in zip(r.sides, reversed(ill32.sides), strict=True):
        assert [q.digits for q in mine.quantities] == [q.digits for q in theirs.quantities]


def test_rsample_draws_share_their_noise_across_dtypes() -> None:
    """Each dtype draws its own random stream; the check rounds the float64 noise instead, so
    a side's float32 draws keep float32's digits (unrelated noise would keep none)."""
    r = _spec_check(ROOT / "configs" / "reparam_manual_vs_rsample.yaml")
    for side in r.sides:
        draws = side.quantities[0]
        assert draws.name == "draws"
        assert draws.digits > 6.0 and draws.cell_class is CellClass.ACCURATE, side


def test_broken_constraint_is_undefined_and_named() -> None:
    r = _spec_check(ROOT / "configs" / "covariance_not_pd.yaml")
    a = r.side(SideName.A)
    assert a.failed_in == "float64" and a.cost is None
    assert "PositiveDefinite" in (a.failure or "") and a.fix
    assert {q.cell_class for q in a.quantities} == {CellClass.UNDEFINED}
    assert all(v is Better.B for _, v in r.better)
    assert r.recommendation.side is SideName.B
    assert "a breaks a constraint in float64" in r.recommendation.text


@pytest.mark.parametrize(("a", "b", "better"), [
    pytest.param(5.0, 5.3, Better.TIE, id="tie-at-0.3"),
    pytest.param(5.0, 5.31, Better.B, id="b-beyond-0.3"),
    pytest.param(7.2, 2.0, Better.A, id="a"),
    pytest.param(math.nan, 0.0, Better.B, id="undefined-loses"),
    pytest.param(math.nan, math.nan, Better.NEITHER, id="neither"),
])
def test_compare_digits(a: float, b: float, better: Better) -> None:
    assert compare_digits(a, b) is better
    flipped = {Better.A: Better.B, Better.B: Better.A}.get(better, better)
    assert compare_digits(b, a) is flipped


def _side(name: SideName, digits: list[float], seconds: float = 1e-3,
          memory: int = 1000) -> SidePrecision:
    eps_tol = accurate_digits(F32)
    qs = tuple(SideQuantity(f"q{i}", d, CellClass.OVERFLOW if math.isnan(d) else
                            CellClass.ACCURATE if d >= eps_tol else CellClass.INACCURATE, 1.0)
               for i, d in enumerate(digits))
    return SidePrecision(name, name.value, qs, SideCost(name, F32, seconds, memory, "saved"))


@pytest.mark.parametrize(("a", "b", "side", "words"), [
    pytest.param(_side(SideName.A, [7.0, 6.5]), _side(SideName.B, [7.0, 6.9], seconds=3e-3),
                 SideName.A, "costs less (3.0x faster than b)", id="accurate-both-cheaper-a"),
    pytest.param(_side(SideName.A, [7.0, 6.5]), _side(SideName.B, [7.0, 6.9], memory=400),
                 SideName.B, "less memory", id="accurate-both-less-memory-b"),
    pytest.param(_side(SideName.A, [7.0, 6.0]), _side(SideName.B, [7.0, 6.9]),
                 SideName.B, "0.9 more digits", id="accurate-both-same-cost"),
    pytest.param(_side(SideName.A, [7.0, 7.0]), _side(SideName.B, [7.0, 6.9]),
                 None, "either", id="accurate-both-tie"),
    pytest.param(_side(SideName.A, [3.0, 6.0], seconds=1e-4), _side(SideName.B, [5.0, 5.0]),
                 SideName.B, "worst quantity keeps 5.0 digits", id="accuracy-over-cost"),
    pytest.param(_side(SideName.A, [4.0, 6.0, 6.0]), _side(SideName.B, [4.1, 5.0, 5.0]),
                 SideName.A, "2 of 3 quantities", id="more-wins"),
    pytest.param(_side(SideName.A, [math.nan, 7.0]), _side(SideName.B, [1.0, 1.0]),
                 SideName.B, "a loses q0 (overflows)", id="overflow-loses"),
    pytest.param(_side(SideName.A, [math.nan]), _side(SideName.B, [math.nan]),
                 None, "neither side", id="neither"),
])
def test_recommend(a: SidePrecision, b: SidePrecision, side: SideName | None,
                   words: str) -> None:
    better = [(qa.name, compare_digits(qa.digits, qb.digits))
              for qa, qb in zip(a.quantities, b.quantities, strict=True)]
    rec = recommend(a, b, better, F32)
    assert rec.side is side, rec.text
    assert words in rec.text, rec.text


@pytest.mark.parametrize("better", list(Better), ids=lambda b: b.value)
def test_every_better_renders(better: Better) -> None:
    from gaussdiag.report_precision import _better_cell

    assert _better_cell(better, 6.0, 2.0).startswith(better.value)


def test_spec_render_is_plain_text(ill32: SpecPrecision) -> None:
    from rich.console import Console

    console = Console(width=120, force_terminal=False, record=True)
    with console.capture() as cap:
        console.print(render_spec(ill32, plain=True), soft_wrap=True)
    out = cap.get()
    assert "\x1b[" not in out
    for word in ("a digits", "b digits", "better", "b (+4.7)", "cost of forward + backward",
                 "saved for backward", "recommendation: use b"):
        assert word in out, out


def test_cli_spec_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, str(ILL))
    assert code == 0, err
    assert "precision_matrix=P" in out and "recommendation: use b" in out


def test_cli_spec_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, str(ILL), "--json", "-")
    assert code == 0, err
    data = json.loads(out)
    assert {"spec", "dtype", "sides", "better", "recommendation"} <= set(data)
    assert data["spec"] == str(ILL) and data["dtype"] == "float32"
    assert set(data["sides"]) == {"a", "b"}
    for side in data["sides"].values():
        assert {"label", "cost", "quantities"} <= set(side)
        assert set(side["cost"]) >= {"seconds", "memory_bytes", "memory_kind"}
        assert [q["name"] for q in side["quantities"]] == ["log_prob", "grad[loc]", "grad[P]"]
        for q in side["quantities"]:
            assert set(q) >= {"name", "digits", "class"}
            assert q["class"] in {c.value for c in CellClass}
    assert data["better"] == {"log_prob": "b", "grad[loc]": "b", "grad[P]": "b"}
    assert data["recommendation"]["side"] == "b" and data["recommendation"]["text"]


def test_cli_several_specs_json_is_a_list(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    code, out, err = run_cli(capsys, str(ILL), str(TRIL), "--json", str(target))
    assert code == 0, err
    data = json.loads(target.read_text())
    assert [d["spec"] for d in data] == [str(ILL), str(TRIL)]
    assert "ill-conditioned-covariance" in out and "scale-tril-vs-covariance" in out


def test_cli_spec_error_exits_2_with_the_located_message(
        capsys: pytest.CaptureFixture[str]) -> None:
    bad = ROOT / "tests" / "specs" / "invalid" / "arg_list.yaml"
    expected = (bad.with_suffix(".expected")).read_text().strip()
    code, out, err = run_cli(capsys, str(ILL), str(bad))
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and "Traceback" not in err
    # the golden message names the file by its bare name; here it is the path given
    assert err.strip() == f"error: {bad.parent}/{expected}"
    assert out == ""        # nothing evaluated: every spec is read before any is run


def test_spec_error_does_not_import_torch(tmp_path: Path) -> None:
    bad = ROOT / "tests" / "specs" / "invalid" / "arg_list.yaml"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c",
         "import sys; from gaussdiag.cli import main; "
         f"sys.exit(main(['precision-check', {str(bad)!r}]))"],
        capture_output=True, text=True, env=env, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "torch" not in imported
