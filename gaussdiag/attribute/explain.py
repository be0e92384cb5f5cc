"""The words and side-by-side data a verdict comes with: the parameterization sentence and its
fix (the fix itself in the front end's words, `Problem.fix`), the coincidence note, the
moment evidence, and the sentences on gradient flow and large-but-correct quantities."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gaussdiag import tolerance as tl
from gaussdiag.attribute import accuracy
from gaussdiag.attribute.candidates import template_of
from gaussdiag.attribute.facts import Facts
from gaussdiag.attribute.quantities import normwise
from gaussdiag.attribute.search import Explanation
from gaussdiag.build import ConstraintFailure
from gaussdiag.evaluate import moments
from gaussdiag.numbers import sentence
from gaussdiag.results import Evidence
from gaussdiag.vocab import DType, Method, Mode, SideName

if TYPE_CHECKING:
    import torch

    from gaussdiag.problem import Problem


def describe(ev: Facts, found: Explanation) -> tuple[str, str]:
    cause = found.cause
    side, other, p = cause.side.value, cause.side.other.value, cause.param
    if len(found.steps) == 1:
        expects = found.steps[0].expects.format(p=p)
    else:
        expects = f"{cause.transform}(`{p}`)"
    point = ev.problem.phrases.point
    where = f"at {point} and at a jittered point" if found.jitter_checked else (
        f"at {point} (the jittered point was not valid for the other side)")
    text = (f"side {side} treats `{p}` differently from side {other}: side {side} expects "
            f"{expects}. With `{p}` replaced by {cause.transform}({p}) on side {side}, every "
            f"value and gradient matches side {other} in float64, {where}")
    template = template_of(found.steps)
    return text, ev.problem.fix(cause.side, p, template, cause.transform)


def coincidence(ev: Facts) -> tuple[str, tuple[Evidence, ...]] | None:
    """Values agree at the point but a gradient persists: do the values still agree at a
    jittered point? If not, they agreed by coincidence (std == 1 makes std == std**2): the note,
    and the log_prob at both points as evidence, labelled, so the difference shows."""
    qs = {q.name: q for q in ev.point_quantities}
    value = qs.get("log_prob")
    if value is None or value.persists or not any(q.persists for q in ev.point_quantities):
        return None
    a = ev.reference(SideName.A, True, grads=False)
    b = ev.reference(SideName.B, True, grads=False)
    if a is None or b is None:
        return None
    d = normwise(a.value, b.value)
    if d <= tl.search_tol(ev.kappa):
        return None
    point = ev.problem.phrases.point
    special = [n for n in ev.problem.leaf_names
               if bool((ev.problem.base[n] == 1).all()) or bool((ev.problem.base[n] == 0).all())]
    why = ""
    if special:
        why = (f" ({', '.join(f'`{n}`' for n in special)} "
               f"{'is' if len(special) == 1 else 'are'} all ones or all zeros at {point}, "
               "where x, x**2, sqrt(x) and friends coincide)")
    note = (f"log_prob agrees at {point} only by coincidence{why}: at a jittered point "
            f"it differs by {d:.3g} in float64")
    evidence = [Evidence("log_prob at a jittered point", head(a.value), head(b.value), d)]
    pair = ev.pairs().get(DType.FLOAT64)
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


def gradient_flow(ev: Facts) -> str | None:
    """Which params the gradient reaches on each side, and through what (float64 runs)."""
    pair = ev.pairs().get(DType.FLOAT64)
    names = ev.problem.grad_names
    if pair is None or not names or ev.trains is not None:
        return None
    reach = {run.side: [n for n in names if run.grads.get(n) is not None] for run in pair}
    through = {s: _through(ev, s, bool(reach[s])) for s in SideName}
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


def _through(ev: Facts, side: SideName, reached: bool) -> str:
    kind = ev.problem.kind(side)
    if ev.problem.mode is Mode.RSAMPLE:
        if ev.problem.method(side) is Method.SAMPLE:
            return "sample(): no gradient through the draws"
        if not reached and ev.problem.params_used(side, leaves_only=True):
            # uses params, yet no gradient reaches them: the draws are not reparameterized
            return "draws without gradient: sample(), or a detach"
        return "reparameterized draws"
    return "a hand-written log_prob" if kind == "log_prob" else "log_prob"


def _names(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]


def large_values(ev: Facts) -> list[str]:
    """A sentence for each value or gradient of magnitude LARGE_MAGNITUDE or more: how large,
    and how many digits the low dtype keeps against float64 on each side (accuracy.py)."""
    lows: list[DType] = [dt for dt in ev.runs if dt is not DType.FLOAT64]
    if not lows or DType.FLOAT64 not in ev.runs:
        return []
    low = tl.low_dtype(lows)
    per: dict[str, list[tuple[SideName, accuracy.QuantityAccuracy]]] = {}
    for side, quantities in ev.side_accuracy(low).items():
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
