"""Precision checks: where a low dtype breaks, and whether a huge gradient is wrong or just huge.

Each job returns frozen data and never prints:

* `sweep_normal` (`normal`) maps `Normal.log_prob` and its gradients over sigma x z;
  `normal_findings` (`findings`) names each region in words.
* `check_point` (`point`) evaluates one (loc, scale, x) in both dtypes and says what it means.
* `sweep_mvn` (`mvn`) maps `MultivariateNormal` over the covariance condition number.
* `check_spec` (`spec_check`) evaluates each side of a spec in the low dtype against itself in
  float64; `recommend` picks a side on accuracy and cost; `gate` is the CI gate on the result.

Cell classes and digits are defined in `cells`. torch and numpy are imported inside the
functions that compute, so importing this package is cheap.
"""

from gaussdiag.attribute.accuracy import digits as side_digits
from gaussdiag.numbers import sentence as fmt
from gaussdiag.precision.cells import (
    CELL_CLASSES,
    LOW_DTYPES,
    Axis,
    CellClass,
    InputError,
    ProgressCallback,
    QuantityMap,
    check_low_dtype,
    make_axis,
)
from gaussdiag.precision.findings import Finding, describe_region, normal_findings
from gaussdiag.precision.gate import Gate, gate
from gaussdiag.precision.mvn import MvnLine, MvnParam, MvnSweep, mvn_matrices, sweep_mvn
from gaussdiag.precision.normal import NormalSweep, sweep_normal
from gaussdiag.precision.point import (
    PointQuantity,
    PointResult,
    PointSpec,
    TorchBehavior,
    check_point,
    parse_point,
)
from gaussdiag.precision.recommend import (
    Better,
    Recommendation,
    compare_digits,
    recommend,
)
from gaussdiag.precision.sides import SidePrecision, SideQuantity
from gaussdiag.precision.spec_check import SpecPrecision, check_spec
from gaussdiag.tolerance import LARGE_MAGNITUDE, TIE_DIGITS, accurate_digits, precision_digits
from gaussdiag.vocab import ScaleParam, SweepDist

__all__ = [
    "CELL_CLASSES", "LARGE_MAGNITUDE", "LOW_DTYPES", "TIE_DIGITS", "Axis", "Better",
    "CellClass", "Finding", "Gate", "InputError", "MvnLine", "MvnParam", "MvnSweep", "NormalSweep",
    "PointQuantity", "PointResult", "PointSpec", "ProgressCallback", "QuantityMap",
    "Recommendation", "ScaleParam", "SidePrecision", "SideQuantity", "SpecPrecision",
    "SweepDist", "TorchBehavior", "accurate_digits", "check_low_dtype", "check_point",
    "check_spec", "compare_digits", "describe_region", "fmt", "gate", "make_axis", "mvn_matrices",
    "normal_findings", "parse_point", "precision_digits", "recommend", "side_digits",
    "sweep_mvn", "sweep_normal",
]
