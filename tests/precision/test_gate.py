"""`gate`: the fewest digits kept in the low dtype and the invalid sides, for --fail-under."""

from __future__ import annotations

import math

import pytest

from gaussdiag.precision import CellClass, SidePrecision, SideQuantity, SpecPrecision, gate
from gaussdiag.precision.recommend import Recommendation
from gaussdiag.vocab import DType, Mode, SideName

from .refs import ROOT, spec_check


def _side(name: SideName, digits: list[float], failed: bool = False) -> SidePrecision:
    qs = tuple(SideQuantity(f"q{i}", d, CellClass.OVERFLOW if math.isnan(d) else
                            CellClass.ACCURATE, 1.0) for i, d in enumerate(digits))
    return SidePrecision(name, name.value, qs, None, "float64" if failed else None)


def _result(a: SidePrecision, b: SidePrecision, file: str = "s.yaml") -> SpecPrecision:
    return SpecPrecision(file, "s", DType.FLOAT32, Mode.LOG_PROB, "cpu", (a, b), (),
                         Recommendation(None, ""), 7.2, 5.7)


@pytest.mark.parametrize(("a", "b", "fewest", "where", "fails_at_5"), [
    pytest.param([7.0, 6.0], [5.5, 7.2], 5.5, "s.yaml: side b q0", False, id="above"),
    pytest.param([7.0, 4.9], [6.0], 4.9, "s.yaml: side a q1", True, id="below"),
    pytest.param([math.nan, 7.0], [7.0], 0.0, "s.yaml: side a q0", True, id="overflow-keeps-0"),
])
def test_fewest_digits(a: list[float], b: list[float], fewest: float, where: str,
                       fails_at_5: bool) -> None:
    g = gate([_result(_side(SideName.A, a), _side(SideName.B, b))])
    assert (g.fewest, g.where, g.invalid) == (fewest, where, ())
    assert g.fails(5.0) is fails_at_5
    assert not g.fails()                        # no threshold, no invalid side: passes


def test_invalid_side_always_fails() -> None:
    g = gate([_result(_side(SideName.A, [math.nan], failed=True), _side(SideName.B, [7.0]))])
    assert g.invalid == ("s.yaml: side a",) and g.fewest == 7.0
    assert g.fails() and g.fails(0.0)


def test_gate_over_several_specs_takes_the_worst() -> None:
    good = _result(_side(SideName.A, [7.0]), _side(SideName.B, [6.5]), "good.yaml")
    poor = _result(_side(SideName.A, [3.0]), _side(SideName.B, [6.5]), "poor.yaml")
    g = gate([good, poor])
    assert g.fewest == 3.0 and g.where == "poor.yaml: side a q0"


def test_gate_on_a_real_broken_constraint() -> None:
    r = spec_check(ROOT / "configs" / "covariance_not_pd.yaml")
    g = gate([r])
    assert g.invalid == (f"{r.file}: side a",) and g.fails()
    b = r.side(SideName.B)
    assert g.fewest == min(0.0 if math.isnan(q.digits) else q.digits for q in b.quantities)
