"""The round-off verdict in words: how far the gap shrank in float64, against what the
conditioning explains, and which side loses more digits against its own float64 run (the same
per-side digits as `precision-check SPEC`); or, where the low dtype shows no gap at all and
only float64 does, that plainly."""

from __future__ import annotations

import math

from gaussdiag import tolerance as tl
from gaussdiag.attribute import accuracy
from gaussdiag.attribute.facts import Facts
from gaussdiag.results import Quantity, RoundOff
from gaussdiag.vocab import DType, SideName


def shrunk(facts: Facts, worst: Quantity, low: DType) -> tuple[str, str, RoundOff]:
    """The usual round-off: a `low` gap that shrinks in float64."""
    gap = worst.diff[low]
    text = (f"differences exceed tol in {low.value} but shrink in float64 ({worst.name}: "
            f"{gap:.3g} in {low.value}, {worst.diff[DType.FLOAT64]:.3g} in float64): "
            "floating-point round-off, not a bug")
    explained = tl.explained(low, facts.kappa)
    ratio = gap / explained
    text += (f". The gap is {ratio:.3g}x what the conditioning explains "
             f"(tol({low.value}) x kappa = {explained:.3g}, kappa {facts.kappa:.3g})")
    digits = side_digits(facts, low)
    worse = accuracy.worse_side(digits)
    fix = "nothing to fix in the parameterization"
    if low is not DType.FLOAT64:
        kept = ", ".join(f"{s.value} {d:.1f}" for s, d in digits.items() if not math.isnan(d))
        if worse is not None:
            text += (f"; side {worse.value} loses more digits against its own float64 run "
                     f"(digits kept in the worst quantity: {kept})")
            fix += (f"; if the {low.value} gap matters, rewrite side {worse.value} (prefer "
                    "better-conditioned forms: scale_tril over covariance_matrix, no explicit "
                    "inverse) or compute in float64")
        else:
            if kept:
                text += f"; both sides lose about as many digits ({kept})"
            fix += (f"; if the {low.value} gap matters, prefer better-conditioned forms "
                    "(scale_tril over covariance_matrix) or compute in float64")
    return text, fix, RoundOff(worst.name, low, gap, explained, ratio, digits, worse)


def float64_only(facts: Facts, off: list[Quantity], low: DType) -> tuple[str, str, RoundOff]:
    """Round-off where `low` shows no gap (every diff within its tol) and only float64 does:
    nothing persists, so the verdict stays, but no gap shrank either, and the words say so.
    The sides then differ below what `low` resolves (softplus is linear past 20)."""
    worst = max(off, key=lambda q: q.diff[DType.FLOAT64])
    gap = worst.diff[DType.FLOAT64]
    explained = tl.explained(DType.FLOAT64, facts.kappa)
    digits = side_digits(facts, low)
    text = (f"{low.value} shows no gap: every diff is within tol({low.value}) ({worst.name}: "
            f"{worst.diff[low]:.3g} in {low.value}); only float64 shows one ({gap:.3g}, "
            f"{gap / explained:.3g}x tol(float64) x kappa = {explained:.3g}, kappa "
            f"{facts.kappa:.3g}). The sides differ by less than {low.value} resolves, as where "
            "one side approximates (softplus is linear past its threshold of 20): invisible "
            f"at {low.value} precision, hence round-off, though no {low.value} gap shrank: the "
            "functions themselves differ that little")
    fix = (f"nothing to fix for {low.value} work; if float64 accuracy matters, find the "
           "approximation on one side (softplus's threshold, a clamp at a tiny value, a "
           "truncated series)")
    return text, fix, RoundOff(worst.name, DType.FLOAT64, gap, explained, gap / explained,
                               digits, accuracy.worse_side(digits))


def side_digits(facts: Facts, low: DType) -> dict[SideName, float]:
    """Each side's worst quantity, in digits its `low` run keeps against its own float64 run
    (accuracy.py, as `precision-check SPEC` computes them). NaN where unknown."""
    out = {s: math.nan for s in SideName}
    if low is DType.FLOAT64:
        return out
    for side, quantities in facts.side_accuracy(low).items():
        out[side] = accuracy.worst(quantities)
    return out
