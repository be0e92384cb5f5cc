"""Which side of a spec keeps more low-dtype digits of each quantity, and the side to use
on accuracy and cost (the rules are in `recommend`'s docstring)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from gaussdiag.precision.cells import CellClass
from gaussdiag.precision.sides import SidePrecision
from gaussdiag.tolerance import COST_RATIO, TIE_DIGITS
from gaussdiag.vocab import DType, SideName, Vocab


class Better(Vocab):
    """Which side of a spec keeps more low-dtype digits of one quantity."""

    A = "a"
    B = "b"
    TIE = "tie"
    NEITHER = "neither"


@dataclass(frozen=True)
class Recommendation:
    """The side to use (None: neither, or either) and why, in one sentence."""

    side: SideName | None
    text: str


def compare_digits(a: float, b: float) -> Better:
    """The side with more digits, `tie` within `TIE_DIGITS`; a quantity a side cannot give
    (NaN digits: undefined or overflow) loses to one it can; `neither` when both lack it."""
    if math.isnan(a) and math.isnan(b):
        return Better.NEITHER
    if math.isnan(a) or math.isnan(b):
        return Better.B if math.isnan(a) else Better.A
    if abs(a - b) <= TIE_DIGITS:
        return Better.TIE
    return Better.A if a > b else Better.B


def _ratio(x: float | None, y: float | None) -> float | None:
    """x / y for costs; None when either is unknown, inf when only y is 0."""
    if x is None or y is None:
        return None
    if y == 0:
        return 1.0 if x == 0 else math.inf
    return x / y


def _cost_phrase(me: SidePrecision, other: SidePrecision) -> tuple[bool | None, str]:
    """Whether `me` is clearly cheaper (True), clearly dearer (False) or neither (None) than
    `other`, time first then memory, and the words for it."""
    if me.cost is None or other.cost is None:
        return None, ""
    o = other.side.value
    t = _ratio(me.cost.seconds, other.cost.seconds)
    m = _ratio(me.cost.memory_bytes, other.cost.memory_bytes)
    if t is not None and t >= COST_RATIO:
        return False, f"{t:.1f}x the time of {o}"
    if t is not None and t <= 1 / COST_RATIO:
        return True, f"{1 / t:.1f}x faster than {o}" if t > 0 else f"faster than {o}"
    if m is not None and m >= COST_RATIO:
        return False, (f"{m:.1f}x the memory of {o}" if math.isfinite(m) else
                       f"more memory than {o}") + " at about the same time"
    if m is not None and m <= 1 / COST_RATIO:
        return True, (f"{1 / m:.1f}x less memory than {o}" if m > 0 else
                      f"less memory than {o}") + " at about the same time"
    return None, f"about the same cost as {o}"


def _cheaper(a: SidePrecision, b: SidePrecision
             ) -> tuple[SidePrecision, SidePrecision, str] | None:
    """The clearly cheaper side, the other, and the words for how much (None: neither)."""
    cheap, _ = _cost_phrase(a, b)
    if cheap is None:
        return None
    pick, other = (a, b) if cheap else (b, a)
    return pick, other, _cost_phrase(pick, other)[1]


def recommend(a: SidePrecision, b: SidePrecision, better: Sequence[tuple[str, Better]],
              dtype: DType) -> Recommendation:
    """One side on accuracy and cost. Rules, first match wins:

    1. Neither side gives every quantity in the low dtype: no recommendation.
    2. One side gives every quantity and the other does not (a broken constraint, an
       overflow, a missing gradient): the one that does.
    3. Both keep every quantity accurate: accuracy is a wash, so the clearly cheaper side
       (time by `COST_RATIO`, then memory), else the one with more digits in its worst
       quantity, else either.
    4. Otherwise the side with more digits in its worst quantity (beyond `TIE_DIGITS`), then
       the side that keeps more digits in more quantities, then the cheaper side, else either.
    """
    d = dtype.value
    if not a.complete and not b.complete:
        return Recommendation(None, f"neither side gives every quantity in {d}: "
                              + "; ".join(_incomplete(s) for s in (a, b)))
    if a.complete != b.complete:
        good, bad = (a, b) if a.complete else (b, a)
        return Recommendation(good.side, f"use {good.side.value}: {_incomplete(bad)}")
    gap = a.worst - b.worst
    lead = SideName.A if gap > 0 else SideName.B
    if a.all_correct and b.all_correct:
        if (found := _cheaper(a, b)) is not None:
            pick, other, words = found
            return Recommendation(pick.side, f"use {pick.side.value}: both keep every quantity "
                                  f"accurate in {d}, and {pick.side.value} costs less "
                                  f"({words})")
        if abs(gap) > TIE_DIGITS:
            return Recommendation(lead, f"use {lead.value}: both keep every quantity accurate "
                                  f"in {d} at about the same cost; {lead.value} keeps "
                                  f"{abs(gap):.1f} more digits in its worst quantity")
        return Recommendation(None, f"either: both keep every quantity accurate in {d}, at "
                              "about the same cost")
    if abs(gap) > TIE_DIGITS:
        pick = a if lead is SideName.A else b
        other = b if pick is a else a
        return Recommendation(lead, f"use {lead.value}: its worst quantity keeps "
                              f"{pick.worst:.1f} digits in {d}, {other.side.value}'s "
                              f"{other.worst:.1f}" + _cost_tail(pick, other))
    wins = {s: sum(v is Better(s.value) for _, v in better) for s in SideName}
    if wins[SideName.A] != wins[SideName.B]:
        side = max(SideName, key=wins.__getitem__)
        pick = a if side is SideName.A else b
        other = b if pick is a else a
        return Recommendation(side, f"use {side.value}: it keeps more digits in "
                              f"{wins[side]} of {len(better)} quantities "
                              f"({other.side.value} in {wins[other.side]})"
                              + _cost_tail(pick, other))
    if (found := _cheaper(a, b)) is not None:
        pick, other, words = found
        return Recommendation(pick.side, f"use {pick.side.value}: the sides keep about as "
                              f"many digits in {d}, and {pick.side.value} costs less "
                              f"({words})")
    return Recommendation(None, f"either: the sides keep about as many digits in {d}, at "
                          "about the same cost")


def _cost_tail(pick: SidePrecision, other: SidePrecision) -> str:
    cheap, words = _cost_phrase(pick, other)
    if cheap is None:
        return f", at {words}" if words else ""
    return f", and it is also cheaper ({words})" if cheap else f", at {words}"


_LOST_WHY = {CellClass.UNDEFINED: "no gradient, or no finite float64 value",
             CellClass.OVERFLOW: "overflows"}


def _incomplete(side: SidePrecision) -> str:
    if side.failed_in is not None:
        return f"{side.side.value} breaks a constraint in {side.failed_in}"
    lost = [f"{q.name} ({_LOST_WHY.get(q.cell_class, q.cell_class.value)})"
            for q in side.quantities if math.isnan(q.digits)]
    return f"{side.side.value} loses " + ", ".join(lost)
