"""RELATIONS: what relates the two sides of a `mismatch`. Tried in this order; the first that
holds is the one reported (spec: the relations):

  1. factor          every quantity of side a is c times side b's, one c for all
  2. offset          the gradients agree; the values differ by one constant k everywhere
  3. point-term      the gradients agree; the value difference varies with the point (a term
                     of the input alone), matched against the catalog's point terms
  4. affine          the values are a = c·b + k, the gradients in ratio c
  5. gradients-only  the values agree; some gradients differ
  6. params          the values differ; some params' gradients agree, others differ
  7. swap            exchanging two params on one side makes every quantity agree
  8. elements        the differences sit in some elements only: of log_prob, or of each
                     gradient that differs

A relation holds when every comparison it makes is within tolerance.relation_tol(kappa)
(tol(float64) x kappa, normwise, as the search's) in float64, at the spec's point and at the
jittered point. They read the float64 runs at both points: the pipeline's and the search's,
with gradients at the jittered point computed when the search computed values only (one
evaluation per side). Only `swap` evaluates more, one run per side: side a with the two
params exchanged at the spec's point, side b at the jittered point (a swap is symmetric), and
only for the one pair of same-shaped params whose gradients differ. A number is matched
against the catalog (closed_forms.py) by putting the entry in its place and testing again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gaussdiag.attribute.closed_forms import Form, Term, constants, factors, point_terms
from gaussdiag.attribute.relation_runs import Point, Sides, gather, grad
from gaussdiag.engine.evaluate import SideRun, run_side
from gaussdiag.engine.failures import ConstraintFailure
from gaussdiag.errors import GaussdiagError
from gaussdiag.results import ElementRef, Structure
from gaussdiag.vocab import DType, RelationKind, SideName

if TYPE_CHECKING:
    import torch

    from gaussdiag.attribute.facts import Facts
    from gaussdiag.engine.problem import Problem

# The most elements a relation lists (the JSON's `structure.elements`); the words show fewer.
MAX_ELEMENTS = 100


@dataclass(frozen=True)
class Relation:
    """A relation that holds, with what its words need: the number and its catalog entry, the
    params and elements it names; affine's constant; point-term's matched term and one
    element of the difference (with the input there when the event has one element); for
    params, whether the difference is the same at every element (a function of the params
    alone) and the params whose gradients agree."""

    kind: RelationKind
    value: float | None = None
    form: Form | None = None
    params: tuple[str, ...] = ()
    elements: tuple[ElementRef, ...] = ()
    constant: float | None = None
    constant_form: Form | None = None
    term: Term | None = None
    at: tuple[float | None, float] | None = None
    same_everywhere: bool = False
    agreeing: tuple[str, ...] = ()
    of: int = 0  # elements: how many elements the value has

    @property
    def structure(self) -> Structure:
        closed = self.term.text if self.term is not None else (
            self.form.text if self.form is not None else None)
        return Structure(self.kind, self.value, closed, self.params, self.elements,
                         self.constant)


Test = Callable[[Sides], "Relation | None"]


def relate(facts: Facts) -> Relation | None:
    """The first relation of RELATIONS that holds, or None (also when a point is missing)."""
    sides = gather(facts)
    if sides is None:
        return None
    return next((r for _, test in RELATIONS if (r := test(sides)) is not None), None)


# ---- the relations, in order ----------------------------------------------------------------

def _factor(s: Sides) -> Relation | None:
    c = _ratio([(qa, qb) for p in s.points for _, qa, qb in s.quantities(p)])
    if c is None or abs(c - 1.0) <= s.tol:
        return None

    def holds(f: float) -> bool:
        return all(s.close(qa, f * qb) for p in s.points for _, qa, qb in s.quantities(p))

    if not holds(c):
        return None
    form = next((f for f in factors(s.sizes) if holds(f.value)), None)
    return Relation(RelationKind.FACTOR, value=c, form=form)


def _offset(s: Sides) -> Relation | None:
    if not s.grads or s.differing():
        return None
    k = _mean_difference(s, 1.0)

    def holds(v: float) -> bool:
        return all(s.close(p.a.value, p.b.value + v) for p in s.points)

    if k is None or not holds(k) or s.values_agree():
        return None
    form = next((f for f in constants(s.sizes) if holds(f.value)), None)
    return Relation(RelationKind.OFFSET, value=k, form=form)


def _point_term(s: Sides) -> Relation | None:
    spec, jit = s.points
    if spec.x is None or jit.x is None or not s.grads or s.differing():
        return None
    d = spec.a.value - spec.b.value
    if spec.x.shape == jit.x.shape and bool((spec.x == jit.x).all()):
        # the same input at both points: a term of it alone is the same at both
        scale = max(_scale(spec.a.value, spec.b.value), _scale(jit.a.value, jit.b.value))
        if float((d - (jit.a.value - jit.b.value)).abs().max()) > s.tol * scale:
            return None
    term = None
    if s.event_dims is not None:
        name = s.problem.at_name(SideName.A)
        term = next((t for t in point_terms(name, s.event_dims) if all(
            _term_holds(s, p, t) for p in s.points)), None)
    # the input's value where the event is one number ("at x = 0.5"), else only the difference
    x0 = float(spec.x.flatten()[0]) if spec.x.numel() == d.numel() else None
    return Relation(RelationKind.POINT_TERM, term=term, at=(x0, float(d.flatten()[0])))


def _term_holds(s: Sides, p: Point, t: Term) -> bool:
    assert p.x is not None
    g = t.fn(p.x)
    return (g.shape == p.a.value.shape and bool(g.isfinite().all())
            and s.close(p.a.value, p.b.value + t.coefficient * g))


def _affine(s: Sides) -> Relation | None:
    grads = [(qa, qb) for p in s.points for _, qa, qb in s.quantities(p, values=False)]
    c = _ratio(grads) if grads else None
    if c is None:
        return None  # without gradients two points fit any line
    k = _mean_difference(s, c)
    if k is None or abs(c - 1.0) <= s.tol or not _affine_holds(s, c, k):
        return None
    if all(s.close(p.a.value, c * p.b.value) for p in s.points):
        return None  # no constant: a factor (which fails elsewhere), not affine
    form = next((f for f in factors(s.sizes)
                 if (kf := _mean_difference(s, f.value)) is not None
                 and _affine_holds(s, f.value, kf)), None)
    cc = form.value if form is not None else c
    k_form = next((f for f in constants(s.sizes) if _affine_holds(s, cc, f.value)), None)
    return Relation(RelationKind.AFFINE, value=c, form=form, constant=k,
                    constant_form=k_form)


def _affine_holds(s: Sides, c: float, k: float) -> bool:
    return all(s.close(p.a.value, c * p.b.value + k) for p in s.points) and all(
        s.close(qa, c * qb) for p in s.points for _, qa, qb in s.quantities(p, values=False))


def _gradients_only(s: Sides) -> Relation | None:
    if not s.grads or not s.values_agree():
        return None
    differ = s.differing()
    if not differ:
        return None
    return Relation(RelationKind.GRADIENTS_ONLY, params=differ,
                    elements=_grad_elements(s, differ))


def _params(s: Sides) -> Relation | None:
    differ = s.differing()
    agreeing = tuple(n for n in s.grads if n not in differ)
    if not differ or not agreeing:
        return None
    same = all(_same_everywhere(s, p) for p in s.points)
    return Relation(RelationKind.PARAMS, params=differ, same_everywhere=same,
                    agreeing=agreeing, elements=_grad_elements(s, differ))


def _same_everywhere(s: Sides, p: Point) -> bool:
    d = p.a.value - p.b.value
    return float((d - d.flatten()[0]).abs().max()) <= s.tol * _scale(p.a.value, p.b.value)


def _swap(s: Sides) -> Relation | None:
    differ = s.differing()
    if len(differ) != 2:
        return None
    first, second = differ
    base = s.problem.base
    if base[first].shape != base[second].shape or base[first].dtype != base[second].dtype:
        return None
    spec, jit = s.points
    # a swap is symmetric: side a swapped at the spec's point, side b at the jittered one
    for side, jittered, other in ((SideName.A, False, spec.b), (SideName.B, True, jit.a)):
        got = _swapped_run(s.problem, side, jittered, first, second)
        if got is None or not s.close(got.value, other.value):
            return None
        names = {first: second, second: first}
        for n in s.grads:
            mine, theirs = got.grads.get(names.get(n, n)), other.grads.get(n)
            if mine is None or theirs is None or not s.close(mine, theirs):
                return None
    return Relation(RelationKind.SWAP, params=(first, second))


def _swapped_run(problem: Problem, side: SideName, jittered: bool, first: str, second: str
                 ) -> SideRun | None:
    import torch

    point = problem.jitter() if jittered else problem.base
    device = problem.side_devices[side]

    def leaf(name: str) -> torch.Tensor:
        return point[name].to(device=device, dtype=torch.float64, copy=True).requires_grad_(True)

    try:
        return run_side(problem, side, DType.FLOAT64, jittered=jittered, validate=False,
                        leaf_values={first: leaf(second), second: leaf(first)})
    except (ConstraintFailure, GaussdiagError, RuntimeError, ValueError):
        return None  # a side that fails with the two exchanged is not explained by it


def _elements(s: Sides) -> Relation | None:
    spec, jit = (_where(s, p.a.value, p.b.value) for p in s.points)
    if spec is not None and jit is not None:
        return Relation(RelationKind.ELEMENTS, elements=tuple(_refs(s.value_name, spec)),
                        of=spec.numel())
    differ = s.differing()
    if not differ:
        return None
    found = _grad_elements(s, differ)
    return Relation(RelationKind.ELEMENTS, params=differ, elements=found) if found else None


def _grad_elements(s: Sides, names: tuple[str, ...]) -> tuple[ElementRef, ...]:
    """The entries where each named gradient differs, when that is a strict subset of its
    entries at both points for every one of them; else ()."""
    out: list[ElementRef] = []
    for n in names:
        spec, jit = (_where(s, grad(p.a, n), grad(p.b, n)) for p in s.points)
        if spec is None or jit is None:
            return ()
        out += _refs(f"grad[{n}]", spec)
    return tuple(out[:MAX_ELEMENTS])


def _where(s: Sides, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
    """Where x and y differ beyond the tolerance (relative to the quantity's size), when that
    is some of the entries but not all; else None."""
    if x.shape != y.shape or x.numel() < 2:
        return None
    off = (x - y).abs() > s.tol * _scale(x, y)
    count = int(off.sum())
    return off if 0 < count < off.numel() else None


def _refs(quantity: str, mask: torch.Tensor) -> list[ElementRef]:
    import torch

    return [ElementRef(quantity, tuple(int(i) for i in idx))
            for idx in torch.nonzero(mask)[:MAX_ELEMENTS].tolist()]


# ---- numbers --------------------------------------------------------------------------------

def _ratio(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> float | None:
    """The least-squares c in a = c·b over every pair, None where undefined."""
    num = sum(float((a * b).sum()) for a, b in pairs)
    den = sum(float((b * b).sum()) for _, b in pairs)
    c = num / den if den > 0 else math.nan
    return c if math.isfinite(c) and c != 0 else None


def _mean_difference(s: Sides, c: float) -> float | None:
    """The mean of a - c·b over the values at both points."""
    total = sum(float((p.a.value - c * p.b.value).sum()) for p in s.points)
    count = sum(p.a.value.numel() for p in s.points)
    k = total / count if count else math.nan
    return k if math.isfinite(k) else None


def _scale(x: torch.Tensor, y: torch.Tensor) -> float:
    return max(float(x.abs().max()), float(y.abs().max())) if x.numel() else 0.0


# The relations table: first match wins (the module docstring's order).
RELATIONS: tuple[tuple[RelationKind, Test], ...] = (
    (RelationKind.FACTOR, _factor),
    (RelationKind.OFFSET, _offset),
    (RelationKind.POINT_TERM, _point_term),
    (RelationKind.AFFINE, _affine),
    (RelationKind.GRADIENTS_ONLY, _gradients_only),
    (RelationKind.PARAMS, _params),
    (RelationKind.SWAP, _swap),
    (RelationKind.ELEMENTS, _elements),
)
