"""Tolerances and the persistence test of spec-v1's Thresholds section, in one place.

tol(dtype) = EPS_FACTOR[dtype] x finfo(dtype).eps: `agree` means every diff within it, with no
conditioning allowance. kappa >= 1, the estimated conditioning, widens only two tests:
a quantity *persists* when d[float64] > PERSIST_SHRINK x max(d[low], tol(low) x kappa), and
the search accepts a transform within search_tol(kappa) = tol(float64) x kappa.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from gaussdiag.vocab import DType

# finfo(dtype).eps, written out so this module needs no torch (values from torch.finfo).
EPS: dict[DType, float] = {
    DType.BFLOAT16: 2.0**-7,
    DType.FLOAT16: 2.0**-10,
    DType.FLOAT32: 2.0**-23,
    DType.FLOAT64: 2.0**-52,
}

# finfo(dtype).max, written out as EPS is.
DTYPE_MAX: dict[DType, float] = {
    DType.FLOAT16: 65504.0, DType.BFLOAT16: 3.3895313892515355e38,
    DType.FLOAT32: 3.4028234663852886e38, DType.FLOAT64: 1.7976931348623157e308,
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

# precision-check's cell tolerance, in units of eps, per low dtype (float64 is the reference
# and has no entry): a quantity is accurate when its relative error (normwise for vectors and
# matrices) is at most CELL_FACTOR x eps, i.e. when it keeps at least -log10(CELL_FACTOR x eps)
# digits. One threshold for every map, point and spec check, whatever the dimension: "5.5
# digits" must read the same in the Normal map, the MVN sweep and a spec's sides (a threshold
# scaled by the MVN's dim fell to 0 digits in float16 at dim 64 and called every cell accurate;
# what the dimension costs shows as digits lost, which is what the sweep is for).
# One value of the sweep is one log_prob (~6 rounded operations) or one autograd gradient (~8),
# not the reductions `compare` sums over, so it gets a tighter budget than EPS_FACTOR.
CELL_FACTOR: dict[DType, float] = {
    # 16 eps (3 bits) leaves room for that chain and a factor-2 amplification in the final
    # subtraction, and no more: a loss of a 4th bit is a real loss of accuracy.
    DType.FLOAT32: 16.0,
    # Same operation count; CPU half-precision kernels round every intermediate to the storage
    # type just like float32 does, so the budget in ulps is the same.
    DType.FLOAT16: 16.0,
    # bfloat16 has 8 significand bits; 16 eps would already be 12% and call everything below
    # one digit accurate, so keep 4 eps (2 bits) of the 8.
    DType.BFLOAT16: 4.0,
}

# A reparameterization candidate "changes" a param only if it moves it by more than this many
# float64 tolerances (spec-v1: beyond tol(float64)) at the jittered point.
CHANGE_FACTOR = 1.0


# A value or gradient this large is "large": a gradient of 1e4 with a typical learning rate of
# 1e-3 moves a parameter by 10 in one step, beyond the scale most parameters live on, so
# training blows up although every digit is right. It tells `large-but-correct` from plain
# accurate, in precision-check's cells and in compare's words alike.
LARGE_MAGNITUDE = 1e4


# ---- judgements around the verdict ---------------------------------------------------------

# Two sides tie on a quantity when their digits differ by at most this: 0.3 digits is a
# factor of 2 in the error, about what the order of a reduction alone can change. Read by
# compare's round-off blame and precision-check's recommendation alike.
TIE_DIGITS = 0.3

# A side is cheaper only when the other takes at least this many times its time (or memory):
# the median of a small spec's warm timings (`gaussdiag.engine.cost`) still varies by 10-20% between
# runs.
COST_RATIO = 1.25

# An inaccurate precision-check cell counts as cancellation when its value is smaller than
# this fraction of the terms it is computed from and its absolute error is within tolerance of
# those terms: the low dtype did as well as its precision allows, and the lost digits are the
# conditioning of the formula (round-off), not a bug.
CANCELLATION_RATIO = 1e-2

# Matrices up to this size get exact float64 eigenvalues (kappa, the singular-covariance
# rule); above it the eigenvalues cost more than the diagnosis itself, and a cheaper bound
# from the Cholesky factor stands in.
EXACT_EIGEN_MAX = 512

# Largest dimension up to which the search's full-size confirmation also runs a backward
# pass: above it a float64 backward through an n x n Cholesky factor costs about half the
# whole diagnosis, and the gradients were already checked on the slice.
CONFIRM_GRADS_MAX = 1024

# The scale candidate's fitted number counts as a simple number (2, 1/2, -1, a size) when it
# is within this relative distance of it: an exact scale fits to float64's last digits in a
# few secant steps, and an inexact one misses by far more.
SCALE_MATCH = 1e-6

# A training gap "grows exponentially" (an unstable problem) when the low dtype's gap grows
# by more than 2% a step on average and spans more than two orders of magnitude over the run:
# round-off that merely accumulates grows like sqrt(steps) or linearly, far slower. Judged
# only on runs of at least GROWTH_MIN_STEPS steps, below which a fitted rate is noise.
GROWTH_RATE = 1.02
GROWTH_SPAN = 100.0
GROWTH_MIN_STEPS = 10

# precision-check describes a region as a band of z per sigma row when the gaps inside the
# rows' spans are at most this fraction of the region (a stray cell of another class does not
# hide the band).
BAND_GAP_FRACTION = 0.1


# ---- switches (gaussdiag/attribute/switch_rules.py) ------------------------------------------

# TF32 keeps float32's 8-bit exponent and rounds the significand to 10 explicit bits before a
# CUDA matmul or convolution multiplies: its eps is 2**-10, as float16's.
TF32_EPS = 2.0**-10

# A precision switch (tf32, autocast) is round-off when its float32 run's error against float64
# is at most SWITCH_FACTOR x eps(format) x kappa beyond the error the same side's float32 run
# has without it: the same few dozen roundings as tol, in the switch's format, widened by the
# conditioning as persistence is. Beyond that the switch changed more than rounding.
SWITCH_FACTOR = 64.0


def precision_digits(dtype: DType) -> float:
    """Decimal digits the dtype can hold: -log10 of half its eps (7.22 for float32)."""
    return -math.log10(EPS[dtype] / 2)


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


def relation_tol(kappa: float) -> float:
    """What a relation between the sides of a mismatch (a factor, an offset, a term of the
    point, ...: attribute/relations.py) must hold within at both points, relative to each
    quantity's size, and what a closed form must then still meet: the search's standard,
    so a relation is no less established than a reparameterization."""
    return search_tol(kappa)


def cell_tol(dtype: DType) -> float:
    """precision-check's relative tolerance for one quantity, the same for scalars, vectors
    and matrices; KeyError for float64, which is the reference."""
    return CELL_FACTOR[dtype] * EPS[dtype]


def accurate_digits(dtype: DType) -> float:
    """The digits threshold equivalent to `cell_tol`: a quantity that keeps at least this
    many digits is accurate, in every precision-check map, point and spec check."""
    return -math.log10(cell_tol(dtype))


def switch_explained(eps: float, kappa: float) -> float:
    """What a precision switch's arithmetic explains: SWITCH_FACTOR x eps x kappa (64 x 2**-10
    x kappa for TF32, 64 x 2**-7 x kappa for bfloat16 autocast)."""
    return SWITCH_FACTOR * eps * max(kappa, 1.0)


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
