"""tolerance.py against spec-v1's Thresholds, written out by hand: tol = 64 eps per dtype,
persistence d64 > 1e-3 x max(d_low, tol(low) x kappa), explained = tol(low) x kappa."""

from __future__ import annotations

import math

import pytest
import torch

from gaussdiag import tolerance as tl
from gaussdiag.vocab import DType

TORCH = {DType.FLOAT16: torch.float16, DType.BFLOAT16: torch.bfloat16,
         DType.FLOAT32: torch.float32, DType.FLOAT64: torch.float64}


@pytest.mark.parametrize("dtype", list(DType), ids=lambda d: d.value)
def test_tol_is_64_eps_of_torch_finfo(dtype: DType) -> None:
    eps = torch.finfo(TORCH[dtype]).eps
    assert tl.EPS[dtype] == eps
    assert tl.tol(dtype) == 64 * eps


@pytest.mark.parametrize("kappa", [0.5, 1.0, 3.0, 1e6])
def test_explained_is_tol_low_times_kappa_floored_at_1(kappa: float) -> None:
    eps32 = torch.finfo(torch.float32).eps
    assert tl.explained(DType.FLOAT32, kappa) == 64 * eps32 * max(kappa, 1.0)
    assert tl.search_tol(kappa) == 64 * torch.finfo(torch.float64).eps * max(kappa, 1.0)


@pytest.mark.parametrize(("d32", "d64", "kappa", "persists"), [
    (1e-3, 1e-3, 1.0, True),          # no shrink at all: a bug
    (1e-3, 1e-12, 1.0, False),        # shrank 1e9: round-off
    (1e-3, 1.01e-6, 1.0, True),       # just above 1e-3 x d32
    (1e-3, 0.99e-6, 1.0, False),      # just below
    (0.0, 1e-9, 1e6, False),          # 1e-3 x 64 eps32 x 1e6 ~ 7.6e-3 floor covers it
    (0.0, 1e-2, 1e6, True),
], ids=["no-shrink", "shrinks", "above-1e-3", "below-1e-3", "kappa-floor", "above-floor"])
def test_persists_formula(d32: float, d64: float, kappa: float, persists: bool) -> None:
    floor = 64 * torch.finfo(torch.float32).eps * kappa
    assert (d64 > 1e-3 * max(d32, floor)) is persists  # the closed form itself
    assert tl.persists({DType.FLOAT32: d32, DType.FLOAT64: d64}, kappa) is persists


def test_float64_alone_persists_beyond_search_tol() -> None:
    t = 64 * torch.finfo(torch.float64).eps
    assert tl.persists({DType.FLOAT64: 2 * t}, 1.0)
    assert not tl.persists({DType.FLOAT64: t / 2}, 1.0)
    assert not tl.persists({DType.FLOAT64: 2 * t}, 4.0)


def test_within_uses_no_kappa_and_each_dtypes_own_tol() -> None:
    t32, t64 = tl.tol(DType.FLOAT32), tl.tol(DType.FLOAT64)
    assert tl.within({DType.FLOAT32: t32, DType.FLOAT64: t64})
    assert not tl.within({DType.FLOAT32: t32 * 1.01, DType.FLOAT64: 0.0})


def test_shrink_is_low_over_float64() -> None:
    assert tl.shrink({DType.FLOAT32: 1e-4, DType.FLOAT64: 1e-13}) == pytest.approx(1e9)
    assert tl.shrink({DType.FLOAT32: 1e-4, DType.FLOAT64: 0.0}) == float("inf")
    assert tl.shrink({DType.FLOAT32: 0.0, DType.FLOAT64: 1e-13}) is None
    assert tl.shrink({DType.FLOAT64: 1e-13}) is None


@pytest.mark.parametrize("dtype", [DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16],
                         ids=lambda d: d.value)
def test_cell_tol_is_cell_factor_eps(dtype: DType) -> None:
    eps = torch.finfo(TORCH[dtype]).eps
    assert tl.cell_tol(dtype) == tl.CELL_FACTOR[dtype] * eps
    assert tl.accurate_digits(dtype) == pytest.approx(-math.log10(tl.CELL_FACTOR[dtype] * eps))
    with pytest.raises(KeyError):
        tl.cell_tol(DType.FLOAT64)
