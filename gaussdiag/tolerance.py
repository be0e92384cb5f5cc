"""Tolerances and the persistence test of spec-v1's Thresholds section, in one place.

tol(dtype) = EPS_FACTOR[dtype] x finfo(dtype).eps: `agree` means every diff within it, with no
conditioning allowance. kappa >= 1, the estimated conditioning, widens only two tests:
a quantity *persists* when d[float64] > PERSIST_SHRINK x max(d[low], tol(low) x kappa), and
the search accepts a transform within search_tol(kappa) = tol(float64) x kappa.
"""

from __future__ import annotations

from collections.abc import Mapping

from gaussdiag.vocab import DType

# finfo(dtype).eps, written out so this module needs no torch (values from torch.finfo).
EPS: dict[DType, float] = {
    DType.BFLOAT16: 2.0**-7,
    DType.FLOAT16: 2.0**-10,
    DType.FLOAT32: 2.0**-23,
    DType.FLOAT64: 2.0**-52,
}

# Tolerance in units of eps, per dtype. 64 (spec-v1) absorbs the few dozen roundings of a
# log-density and its reductions (sums over an event or a batch of 64) without hiding a factor
# of two; the same factor for every dtype keeps "agree" comparable across precisions.
EPS_FACTOR: dict[DType, float] = {
    DType.BFLOAT16: 64.0,
    DType.FLOAT16: 64.0,
    DType.FLOAT32: 64.0,
    DType.FLOAT64: 64.0,
}

# Round-off shrinks by roughly eps64/eps32 ~ 1e-9 when the precision goes up; a bug does not
# shrink at all. Three orders of magnitude (spec-v1) separates the two with a wide margin.
PERSIST_SHRINK = 1e-3

# A reparameterization candidate "changes" a param only if it moves it by more than this many
# float64 tolerances (spec-v1: beyond tol(float64)) at the jittered point.
CHANGE_FACTOR = 1.0


def tol(dtype: DType) -> float:
    """64 eps of `dtype`: a few dozen roundings, whatever the conditioning."""
    return EPS_FACTOR[dtype] * EPS[dtype]


def explained(dtype: DType, kappa: float) -> float:
    """tol(dtype) x kappa: the gap conditioning can account for in `dtype` (the persistence
    test's floor, and what a round-off report measures its gap against)."""
    return tol(dtype) * max(kappa, 1.0)


def search_tol(kappa: float) -> float:
    """What the search accepts in float64: tol(float64) x kappa (an ill-conditioned problem
    legitimately leaves larger float64 diffs)."""
    return explained(DType.FLOAT64, kappa)


def low_dtype(dtypes: list[DType]) -> DType:
    return min(dtypes, key=lambda d: d.rank)


def within(diff: Mapping[DType, float]) -> bool:
    """Every diff within tol in its own dtype (the `agree` test): no kappa."""
    return all(d <= tol(dt) for dt, d in diff.items())


def persists(diff: Mapping[DType, float], kappa: float) -> bool:
    """The float64 diff did not shrink by PERSIST_SHRINK below what the low dtype shows or can
    resolve at this conditioning. With float64 alone there is nothing to shrink from:
    persisting is exceeding what the search accepts."""
    d64 = diff[DType.FLOAT64]
    low = low_dtype(list(diff))
    if low is DType.FLOAT64:
        return d64 > search_tol(kappa)
    return d64 > PERSIST_SHRINK * max(diff[low], explained(low, kappa))


def shrink(diff: Mapping[DType, float]) -> float | None:
    """d[low] / d[float64]: how much going to float64 shrank the diff (None when undefined)."""
    low = low_dtype(list(diff))
    d64 = diff[DType.FLOAT64]
    if low is DType.FLOAT64 or diff[low] == 0:
        return None
    return float("inf") if d64 == 0 else diff[low] / d64
