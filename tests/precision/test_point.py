"""`parse_point` and `check_point`: float64 and mpmath references, the thread's examples."""

from __future__ import annotations

import math

import mpmath
import pytest

from gaussdiag.precision import (
    CellClass,
    InputError,
    ScaleParam,
    accurate_digits,
    check_point,
    parse_point,
)

from .refs import (
    F32,
    expected_digits,
    f32,
    normal_mp,
)


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


@pytest.mark.parametrize(("param", "point", "bound"), [
    pytest.param(ScaleParam.SOFTPLUS, "loc=0,rho=-5,x=10", "1e-3 + softplus(rho)", id="softplus"),
    pytest.param(ScaleParam.LOG, "loc=0,log_scale=-5,x=10", "1e-3 + exp(log_scale)", id="log"),
])
def test_large_gradient_advice_offers_no_parameterization_already_in_use(
        param: ScaleParam, point: str, bound: str) -> None:
    """With scale already computed through softplus or exp, the advice for a large gradient
    does not tell the user to parameterize scale that way; it offers the lower bound (over
    their own parameter) and clipping. With a plain scale it does offer the
    parameterization."""
    r = check_point(F32, param, parse_point(point, param))
    assert any(q.cell_class is CellClass.LARGE_BUT_CORRECT for q in r.quantities)
    text = " ".join(r.advice)
    assert "parameterize scale as" not in text, text
    assert bound in text and "clip" in text, text
    plain = check_point(F32, ScaleParam.SCALE, parse_point(f"loc=0,scale={r.scale!r},x=10",
                                                           ScaleParam.SCALE))
    assert "parameterize scale as softplus(rho)" in " ".join(plain.advice)


def test_underflowed_softplus_gets_a_lower_bound_not_softplus_again() -> None:
    r = check_point(F32, ScaleParam.SOFTPLUS, parse_point("loc=0,rho=-1000,x=1",
                                                          ScaleParam.SOFTPLUS))
    assert r.scale == 0 and r.torch_behavior is not None
    text = " ".join(r.advice)
    assert "by construction" not in text and "1e-3 + softplus(rho)" in text, text


def test_sigma_is_scale() -> None:
    """The sweep's own options say sigma (`--sigma-lo`): `sigma=` at a point is `scale=`, and
    the point is the same as with `scale=`."""
    by_sigma = parse_point("loc=0,sigma=0.01,x=10", ScaleParam.SCALE)
    assert by_sigma == parse_point("loc=0,scale=0.01,x=10", ScaleParam.SCALE)
    assert (by_sigma.raw_key, by_sigma.raw) == ("scale", 0.01)
    assert check_point(F32, ScaleParam.SCALE, by_sigma).scale == 0.01


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("loc=0,scale=0.01", "x is missing", id="no-x"),
    pytest.param("x=1", "scale is missing", id="no-scale"),
    pytest.param("scale=1,x", "expected key=value", id="no-equals"),
    pytest.param("scael=1,x=1", "did you mean 'scale'", id="typo"),
    pytest.param("scale=a,x=1", "is not a number", id="not-a-number"),
    pytest.param("scale=1,x=nan", "must be finite", id="nan"),
    pytest.param("scale=1,scale=2,x=1", "given twice", id="duplicate"),
    pytest.param("rho=1,x=1", "needs param softplus", id="rho-without-softplus"),
    pytest.param("sigma=1,scale=2,x=1", "sigma= and scale= both give scale", id="sigma-and-scale"),
    pytest.param("sigam=1,x=1", "did you mean 'sigma'", id="sigma-typo"),
])
def test_bad_point(text: str, message: str) -> None:
    """The core's errors name its inputs (`point`, `param`), never a command-line option."""
    with pytest.raises(InputError, match=message) as info:
        parse_point(text, ScaleParam.SCALE)
    assert str(info.value).startswith("point: ") and "--" not in str(info.value)
    assert info.value.worded({"point": "--point", "param": "--param"}).startswith("--point: ")
