"""The scale candidate x -> c·x, for a param or an argument: `h` is a log-variance on one side
and a log-std on the other (c = 1/2), a sign is flipped (c = -1), a mean stands where a sum
belongs (c = the size).

c is read from the data: a few secant steps on c fit the side's float64 values at the point
to the other side's (least squares over every value), starting from c = 1, where the side's
own run is. The fitted c counts only if it is a simple number (2, 1/2, -1, or an integer size
of the problem, or its reciprocal) to within SCALE_MATCH; the candidate with that exact
number must then explain as any other does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from gaussdiag import tolerance as tl
from gaussdiag.attribute.candidates import Candidate
from gaussdiag.attribute.targets import Target

if TYPE_CHECKING:
    import torch

    from gaussdiag.attribute.checker import Checker
    from gaussdiag.engine.problem import Problem

# Secant steps at most: an exact scale converges in two or three (the values are smooth in c).
STEPS = 8


def scale_candidate(c: float) -> Candidate:
    """x -> c·x as a candidate, its template written with the number."""
    text = _number(c)
    if c == -1:
        template = "-{p}"
    elif abs(c) < 1:
        template = f"{{p}} / {_number(1 / c)}"
    else:
        template = f"{text} * {{p}}"
    return Candidate("scale", lambda t: t * c, template,
                     f"{template.replace('{p}', '`{p}`')} ({_why(c)})", "scale", factor=c)


def _why(c: float) -> str:
    if c == 0.5:
        return "half of it: a log-variance where a log-standard-deviation is meant, for example"
    if c == 2.0:
        return "twice it: a log-standard-deviation where a log-variance is meant, for example"
    if c == -1.0:
        return "its sign flipped"
    n = c if abs(c) >= 1 else 1 / c
    return (f"{_number(n)} is a size of the problem: a mean taken where a sum is meant, or "
            "the reverse")


def simple_numbers(problem: Problem) -> list[float]:
    """2, 1/2, -1, and every size of the problem (a dimension of a leaf or an input) above 2
    and its reciprocal."""
    sizes = {d for t in problem.base.values() for d in t.shape if d > 2}
    out = [2.0, 0.5, -1.0]
    for n in sorted(sizes):
        out += [float(n), 1.0 / n]
    return out


def fit(checker: Checker, target: Target, simple: Iterable[float]) -> float | None:
    """The simple number c for which c·target makes its side's float64 values at the point
    match the other side's, or None."""
    other = checker.reference(target.side.other, jittered=False, grads=False)
    own = checker.reference(target.side, jittered=False, grads=False)
    if other is None or own is None:
        return None
    goal = other.value.double()

    def residual(c: float) -> torch.Tensor | None:
        if c == 1.0:
            return own.value.double() - goal
        run = checker.run(target, lambda t: t * c, jittered=False, grads=False)
        if run is None or run.value.shape != goal.shape:
            return None
        return run.value.double() - goal

    c0, r0 = 1.0, residual(1.0)
    c1 = 1.1
    r1 = residual(c1)
    for _ in range(STEPS):
        if r0 is None or r1 is None:
            return None
        dr = r1 - r0
        denom = float((dr * dr).sum())
        if not math.isfinite(denom) or denom == 0.0:
            return None
        step = float((r1 * dr).sum()) / denom * (c1 - c0)
        if not math.isfinite(step):
            return None
        c0, r0, c1 = c1, r1, c1 - step
        if abs(c1 - c0) <= tl.SCALE_MATCH * max(abs(c1), 1.0):
            break
        r1 = residual(c1)
    return next((c for c in simple if abs(c1 - c) <= tl.SCALE_MATCH * abs(c)), None)


def _number(c: float) -> str:
    """2, 1/2, -1, 784, 1/784."""
    if c == int(c):
        return str(int(c))
    inverse = 1 / c
    if abs(inverse - round(inverse)) < 1e-9:
        return f"1/{int(round(inverse))}"
    return f"{c:g}"
