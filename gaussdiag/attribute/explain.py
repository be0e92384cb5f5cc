"""The words and side-by-side data a verdict comes with: the coincidence note, the moment
evidence, and the sentences on gradient flow, large-but-correct quantities and a training
gap's growth. (The parameterization's own words are in cause_words.py.)"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gaussdiag import tolerance as tl
from gaussdiag.attribute import accuracy
from gaussdiag.attribute.facts import Facts
from gaussdiag.attribute.quantities import normwise
from gaussdiag.engine.evaluate import moments
from gaussdiag.engine.failures import ConstraintFailure
from gaussdiag.numbers import sentence
from gaussdiag.results import Evidence, Trajectory
from gaussdiag.vocab import DType, Method, Mode, SideKind, SideName

if TYPE_CHECKING:
    import torch

    from gaussdiag.engine.problem import Problem


def coincidence(facts: Facts) -> tuple[str, tuple[Evidence, ...]] | None:
    """Values agree at the point but a gradient persists: do the values still agree at a
    jittered point? If not, they agreed by coincidence (std == 1 makes std == std**2): the note,
    and the log_prob at both points as evidence, labelled, so the difference shows."""
    qs = {q.name: q for q in facts.point_quantities}
    value = qs.get("log_prob")
    if value is None or value.persists or not any(q.persists for q in facts.point_quantities):
        return None
    a = facts.reference(SideName.A, jittered=True, grads=False)
    b = facts.reference(SideName.B, jittered=True, grads=False)
    if a is None or b is None:
        return None
    d = normwise(a.value, b.value)
    if d <= tl.search_tol(facts.kappa):
        return None
    point = facts.problem.phrases.point
    base = facts.problem.base
    special = [n for n in facts.problem.leaf_names
               if bool((base[n] == 1).all()) or bool((base[n] == 0).all())]
    why = ""
    if special:
        why = (f" ({', '.join(f'`{n}`' for n in special)} "
               f"{'is' if len(special) == 1 else 'are'} all ones or all zeros at {point}, "
               "where x, x**2, sqrt(x) and friends coincide)")
    note = (f"log_prob agrees at {point} only by coincidence{why}: at a jittered point "
            f"it differs by {d:.3g} in float64")
    evidence = [Evidence("log_prob at a jittered point", head(a.value), head(b.value), d)]
    pair = facts.pairs().get(DType.FLOAT64)
    if pair is not None:
        pa, pb = pair
        evidence.insert(0, Evidence(f"log_prob at {point}", head(pa.value),
                                    head(pb.value), normwise(pa.value, pb.value)))
    return note, tuple(evidence)


def moment_evidence(problem: Problem) -> list[Evidence]:
    try:
        ma, mb = moments(problem, SideName.A), moments(problem, SideName.B)
    except (ConstraintFailure, RuntimeError, ValueError):
        return []
    out = []
    for name in ("mean", "variance", "covariance_matrix"):
        if name in ma and name in mb and ma[name].shape == mb[name].shape:
            d = normwise(ma[name], mb[name])
            out.append(Evidence(name, head(ma[name]), head(mb[name]), d))
    return out


def head(t: torch.Tensor, n: int = 4) -> tuple[float, ...]:
    return tuple(float(x) for x in t.detach().double().flatten()[:n])


def gradient_flow(facts: Facts) -> str | None:
    """Which params the gradient reaches on each side, and through what (float64 runs)."""
    pair = facts.pairs().get(DType.FLOAT64)
    names = facts.problem.grad_names
    if pair is None or not names or facts.trains is not None:
        return None
    reach = {run.side: [n for n in names if run.grads.get(n) is not None] for run in pair}
    through = {s: _through(facts, s, bool(reach[s])) for s in SideName}
    a, b = reach[SideName.A], reach[SideName.B]
    none = [n for n in names if n not in a and n not in b]
    parts = []
    if a == b and a:
        how = (through[SideName.A] if through[SideName.A] == through[SideName.B] else
               f"side a {through[SideName.A]}, side b {through[SideName.B]}")
        parts.append(f"the gradient reaches {_names(a)} on both sides ({how})")
    elif a or b:
        parts.append("the gradient reaches " + " and ".join(
            f"{_names(reach[s]) if reach[s] else 'no param'} on side {s.value} ({through[s]})"
            for s in SideName))
    if none:
        parts.append(f"no gradient reaches {_names(none)} on either side")
    return "; ".join(parts) or None


def _through(facts: Facts, side: SideName, reached: bool) -> str:
    kind = facts.problem.kind(side)
    if facts.problem.mode is Mode.RSAMPLE:
        if facts.problem.method(side) is Method.SAMPLE:
            return "sample(): no gradient through the draws"
        if not reached and facts.problem.params_used(side, leaves_only=True):
            # uses params, yet no gradient reaches them: the draws are not reparameterized
            return "draws without gradient: sample(), or a detach"
        return "reparameterized draws"
    return "a hand-written log_prob" if kind is SideKind.LOG_PROB else "log_prob"


def _names(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]


def growth_note(trajectories: Sequence[Trajectory]) -> str | None:
    """In words: does the low dtype's training gap grow exponentially (an unstable problem),
    or does round-off merely accumulate? None for runs too short to tell."""
    low = next((tr for tr in trajectories if tr.dtype is not DType.FLOAT64), None)
    if low is None or low.growth is None or len(low.gaps) < tl.GROWTH_MIN_STEPS:
        return None
    nonzero = [g for g in low.gaps if g > 0 and math.isfinite(g)]
    if (low.growth > tl.GROWTH_RATE and nonzero
            and max(nonzero) / min(nonzero) > tl.GROWTH_SPAN):
        return (f"the {low.dtype.value} gap grows about x{low.growth:.3g} per step: "
                "exponential growth of round-off means the training dynamics amplify tiny "
                "differences (an unstable problem); seeded runs will diverge whichever "
                "formulation is used")
    return (f"the {low.dtype.value} gap grows slowly (x{low.growth:.3g} per step): round-off "
            "accumulates without blowing up")


def large_values(facts: Facts) -> list[str]:
    """A sentence for each value or gradient of magnitude LARGE_MAGNITUDE or more: how large,
    and how many digits the low dtype keeps against float64 on each side (accuracy.py)."""
    lows: list[DType] = [dt for dt in facts.runs if dt is not DType.FLOAT64]
    if not lows or DType.FLOAT64 not in facts.runs:
        return []
    low = tl.low_dtype(lows)
    per: dict[str, list[tuple[SideName, accuracy.QuantityAccuracy]]] = {}
    for side, quantities in facts.side_accuracy(low).items():
        for q in quantities:
            if q.status is accuracy.Status.FINITE and q.magnitude >= tl.LARGE_MAGNITUDE:
                per.setdefault(q.name, []).append((side, q))
    cap = tl.precision_digits(low)
    out = []
    for name, found in per.items():
        # the number's own sign and size: log_prob -5e5 is "about -5e5", not "1e6"
        size = sentence(max((q for _, q in found), key=lambda q: q.magnitude).extreme)
        correct = all(q.error <= tl.cell_tol(low) for _, q in found)
        kept = ", ".join(f"side {s.value} {q.digits:.1f}" for s, q in found)
        fewest = min(q.digits for _, q in found)
        if correct:
            out.append(f"{name} is about {size}, large but correct: "
                       f"{low.value} keeps {fewest:.1f} of {cap:.1f} digits against float64 "
                       f"({kept}); the size is the mathematics, not round-off")
        else:
            out.append(f"{name} is about {size}, and {low.value} keeps "
                       f"only {fewest:.1f} of {cap:.1f} digits against float64 ({kept})")
    return out
