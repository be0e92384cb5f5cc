"""The words and side-by-side data a verdict comes with: the parameterization sentence and its
fix (the fix itself in the front end's words, `Problem.fix`), the coincidence note, the
moment evidence, and the sentences on gradient flow and large-but-correct quantities."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gaussdiag import tolerance as tl
from gaussdiag.attribute.candidates import template_of
from gaussdiag.attribute.facts import Facts
from gaussdiag.attribute.quantities import normwise
from gaussdiag.attribute.search import Explanation
from gaussdiag.build import ConstraintFailure
from gaussdiag.evaluate import moments
from gaussdiag.results import Evidence
from gaussdiag.vocab import SideName

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
    where = "at the spec's point and at a jittered point" if found.jitter_checked else (
        "at the spec's point (the jittered point was not valid for the other side)")
    text = (f"side {side} treats `{p}` differently from side {other}: side {side} expects "
            f"{expects}. With `{p}` replaced by {cause.transform}({p}) on side {side}, every "
            f"value and gradient matches side {other} in float64, {where}")
    template = template_of(found.steps)
    return text, ev.problem.fix(cause.side, p, template, cause.transform)


def coincidence(ev: Facts) -> str | None:
    """Values agree at the spec's point but a gradient persists: do the values still agree at a
    jittered point? If not, they agreed by coincidence (std == 1 makes std == std**2)."""
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
    special = [n for n in ev.problem.leaf_names
               if bool((ev.problem.base[n] == 1).all()) or bool((ev.problem.base[n] == 0).all())]
    why = ""
    if special:
        why = (f" ({', '.join(f'`{n}`' for n in special)} "
               f"{'is' if len(special) == 1 else 'are'} all ones or all zeros at the spec's point, "
               "where x, x**2, sqrt(x) and friends coincide)")
    return (f"log_prob agrees at the spec's point only by coincidence{why}: at a jittered point "
            f"it differs by {d:.3g} in float64")


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
