"""`sweep_normal` against closed forms evaluated at the float32-rounded inputs."""

from __future__ import annotations

import math

import pytest

from gaussdiag.precision import (
    CellClass,
    NormalSweep,
    ScaleParam,
    make_axis,
    precision_digits,
    sweep_normal,
)
from gaussdiag.vocab import DType

from .refs import (
    F32,
    SIGMA,
    Z,
    expected_class,
    expected_digits,
    f32,
    normal_closed_form,
    torch_f32,
)

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
def test_sweep_cell_matches_closed_form(sweep32: NormalSweep, i: int, j: int) -> None:
    s = sweep32
    sigma, z = SIGMA.values()[i], Z.values()[j]
    scale32, x32 = f32(sigma), f32(z * sigma)
    refs = normal_closed_form(0.0, scale32, x32)
    lows = torch_f32(0.0, scale32, x32)
    for q, low, ref in zip(s.quantities, lows, refs, strict=True):
        ctx = f"{q.name} at sigma={sigma:g}, z={z:g}: float32 {low!r}, closed form {ref!r}"
        cls = expected_class(low, ref)
        assert q.classes[i][j] is cls, ctx
        if cls is not CellClass.OVERFLOW:
            assert q.digits[i][j] == pytest.approx(expected_digits(low, ref), abs=0.05), ctx


def test_overflow_cells_are_finite_in_float64(sweep32: NormalSweep) -> None:
    """sigma = 1e-6, z = 1e14: d/dscale = z^2/sigma = 1e34 fits in float32, but torch's
    backward forms z^2/(4 sigma^2) = 2.5e39 on the way, so float32 gives inf: overflow."""
    q = sweep32.quantities[2]
    assert q.classes[0][5] is CellClass.OVERFLOW
    assert math.isfinite(q.reference[0][5]) and abs(q.reference[0][5]) < 3.4e38
    assert any("intermediate overflows" in f.text for f in sweep32.findings
               if f.quantity == "grad[scale]" and f.cell_class is CellClass.OVERFLOW)


def test_cancellation_at_z_equal_1_is_flagged_as_such() -> None:
    """At z = 1 exactly the true grad[scale] is 0 and float32 returns round-off of 1/sigma:
    inaccurate in relative terms, and the finding says it is cancellation."""
    s = sweep_normal(F32, ScaleParam.SCALE, make_axis("sigma", 1e-10, 1e10, 21),
                     make_axis("z", 1e-1, 1e1, 3, zero=True))
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
    s = sweep_normal(F32, param, make_axis("sigma", 1e-3, 1e3, 3),
                     make_axis("z", 1e-1, 1e1, 3, zero=True))
    assert [q.name for q in s.quantities] == ["log_prob", "grad[loc]", f"grad[{param.raw_name}]"]
    i, j = 0, 3                 # sigma = 1e-3, z = 10
    sigma = s.sigma[i]
    dsd = {ScaleParam.SCALE: 1.0, ScaleParam.SOFTPLUS: -math.expm1(-sigma),
           ScaleParam.LOG: sigma}[param]
    want = normal_closed_form(0.0, sigma, s.z[j] * sigma)[2] * dsd
    assert s.quantities[2].reference[i][j] == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("dtype", [DType.FLOAT16, DType.BFLOAT16], ids=lambda d: d.value)
def test_half_dtypes(dtype: DType) -> None:
    s = sweep_normal(dtype, ScaleParam.SCALE, make_axis("sigma", 1e-12, 1e12, 9),
                     make_axis("z", 1e-4, 1e20, 9, zero=True))
    classes = {c for q in s.quantities for row in q.classes for c in row}
    assert CellClass.ACCURATE in classes and CellClass.OVERFLOW in classes
    if dtype is DType.FLOAT16:
        # 1e-12 rounds to 0 in float16: the sigma the dtype holds is <= 0
        assert all(c is CellClass.UNDEFINED for c in s.quantities[0].classes[0])
    digits = [d for q in s.quantities for row in q.digits for d in row if not math.isnan(d)]
    assert max(digits) == pytest.approx(precision_digits(dtype))


def test_progress_callback_reports_every_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    import gaussdiag.precision.normal as pc

    monkeypatch.setattr(pc, "CHUNK_CELLS", 10)        # 2 rows of 5 cells per chunk
    calls: list[tuple[int, int]] = []
    whole = sweep_normal(F32, ScaleParam.SCALE, make_axis("sigma", 1e-3, 1e3, 7),
                         make_axis("z", 1.0, 10.0, 4, zero=True),
                         progress=lambda done, total: calls.append((done, total)))
    assert calls == [(10, 35), (20, 35), (30, 35), (35, 35)]
    monkeypatch.setattr(pc, "CHUNK_CELLS", 1 << 18)
    one = sweep_normal(F32, ScaleParam.SCALE, make_axis("sigma", 1e-3, 1e3, 7),
                       make_axis("z", 1.0, 10.0, 4, zero=True))
    for a, b in zip(whole.quantities, one.quantities, strict=True):
        assert a.classes == b.classes      # chunking changes nothing but the pacing
