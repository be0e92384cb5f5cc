"""`compare_digits` and `recommend`."""

from __future__ import annotations

import math

import pytest

from gaussdiag.precision import (
    Better,
    CellClass,
    SidePrecision,
    SideQuantity,
    accurate_digits,
    compare_digits,
    recommend,
)
from gaussdiag.results import SideCost
from gaussdiag.vocab import SideName

from .refs import (
    F32,
)


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
