"""`safe_condition` and `eigenvalues`: exact on closed forms, unknown (never an exception) on
inf, nan, 1e308 entries, float16, non-square and indefinite input."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from gaussdiag.engine.conditioning import eigenvalues, safe_condition

F64 = torch.float64
INF, NAN = math.inf, math.nan


def _rotated(eigs: list[float], seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(len(eigs), len(eigs), dtype=F64, generator=g))
    return q @ torch.diag(torch.tensor(eigs, dtype=F64)) @ q.T


def test_diagonal_is_exact() -> None:
    assert safe_condition(torch.diag(torch.tensor([4.0, 0.5, 2.0], dtype=F64))) == 8.0


def test_rotated_matches_its_construction() -> None:
    # float64 eigenvalues of a matrix with cond 1e6 are good to about eps x cond = 2e-10
    got = safe_condition(_rotated([1.0, 1e-3, 1e-6]))
    assert got is not None and abs(got / 1e6 - 1) < 1e-6


@pytest.mark.parametrize(("matrix", "cond"), [
    ([[1e308, 0.0], [0.0, 1.0]], 1e308),
    ([[1e308, 5e307], [5e307, 1e308]], 3.0),   # eigenvalues 1.5e308 and 5e307
    ([[5e-324, 0.0], [0.0, 5e-324]], 1.0),     # subnormal
], ids=["huge_diagonal", "huge_dense", "subnormal"])
def test_extreme_magnitudes_are_exact(matrix: list[list[float]], cond: float) -> None:
    got = safe_condition(torch.tensor(matrix, dtype=F64))
    assert got is not None and abs(got / cond - 1) < 1e-12


def test_huge_dense_eigenvalues_come_back_scaled() -> None:
    e = eigenvalues(torch.tensor([[1e308, 5e307], [5e307, 1e308]], dtype=F64))
    assert e is not None
    assert abs(float(e[0]) / 5e307 - 1) < 1e-12 and abs(float(e[1]) / 1.5e308 - 1) < 1e-12


@pytest.mark.parametrize("bad", [INF, -INF, NAN])
def test_non_finite_entries_are_unknown(bad: float) -> None:
    m = torch.tensor([[1.0, 0.0], [0.0, bad]], dtype=F64)
    assert safe_condition(m) is None
    e = eigenvalues(m)
    assert e is not None and bool(e.isnan().all())


def test_scale_tril_overflowing_to_inf_is_unknown() -> None:
    tril = torch.tensor([[1e308, 0.0], [1e308, 1.0]], dtype=F64)
    assert safe_condition(tril @ tril.T) is None  # the product overflows to inf


def test_batch_keeps_the_good_rows() -> None:
    batch = torch.stack([torch.diag(torch.tensor([2.0, 1.0], dtype=F64)),
                         torch.tensor([[NAN, 0.0], [0.0, 1.0]], dtype=F64),
                         torch.diag(torch.tensor([9.0, 3.0], dtype=F64))])
    e = eigenvalues(batch)
    assert e is not None
    assert e[0].tolist() == [1.0, 2.0] and e[2].tolist() == [3.0, 9.0]
    assert bool(e[1].isnan().all())
    assert safe_condition(batch) is None  # one unknown makes the largest unknown
    assert safe_condition(batch[[0, 2]]) == 3.0  # the largest over the batch


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_low_precision_input_is_read_in_float64(dtype: torch.dtype) -> None:
    m = torch.diag(torch.tensor([8.0, 2.0, 1.0])).to(dtype)
    assert safe_condition(m) == 8.0


@pytest.mark.parametrize("matrix", [
    torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=F64),    # indefinite
    torch.zeros(3, 3, dtype=F64),                         # singular
    torch.ones(3, dtype=F64),                             # not a matrix
    torch.ones(2, 3, dtype=F64),                          # not square
    torch.ones(0, 0, dtype=F64),                          # empty
], ids=["indefinite", "zero", "vector", "non_square", "empty"])
def test_undefined_is_none(matrix: torch.Tensor) -> None:
    assert safe_condition(matrix) is None


def test_never_raises_on_nasty_entries() -> None:
    # every 2 x 2 symmetric matrix over the nastiest float64 values
    values = [0.0, -0.0, 1.0, -1.0, 5e-324, 1e308, -1e308, INF, -INF, NAN]
    for a, b, c in itertools.product(values, repeat=3):
        m = torch.tensor([[a, b], [b, c]], dtype=F64)
        got = safe_condition(m)
        assert got is None or (math.isfinite(got) and got >= 1.0), (a, b, c, got)
        assert eigenvalues(m) is not None
