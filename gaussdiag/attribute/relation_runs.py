"""What the relations (relations.py) read: both sides' float64 runs at the spec's point and at
the jittered point, side a's evaluation input at each, and the problem's sizes. The jittered
runs are the search's (its Checker caches them), with gradients computed where it ran values
only: at most one evaluation per side."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gaussdiag import tolerance as tl
from gaussdiag.attribute.closed_forms import Size, sizes
from gaussdiag.attribute.quantities import normwise
from gaussdiag.engine.evaluate import SideRun
from gaussdiag.engine.failures import ConstraintFailure
from gaussdiag.errors import GaussdiagError
from gaussdiag.vocab import DType, Mode, SideName

if TYPE_CHECKING:
    import torch

    from gaussdiag.attribute.facts import Facts
    from gaussdiag.engine.problem import Problem


@dataclass(frozen=True)
class Point:
    """Both sides' float64 runs at one point, and side a's evaluation input there (None in
    rsample mode)."""

    a: SideRun
    b: SideRun
    x: torch.Tensor | None


@dataclass(frozen=True)
class Sides:
    """What the relations read: the problem, the tolerance, the runs at the spec's point and
    the jittered one, the params with a gradient on both sides at both, and the sizes."""

    problem: Problem
    tol: float
    points: tuple[Point, Point]
    grads: tuple[str, ...]
    sizes: list[Size]
    event_dims: int | None  # dims of the input summed into one log_prob element (None: unknown)
    value_name: str

    def quantities(self, p: Point, *, values: bool = True
                   ) -> Iterator[tuple[str, torch.Tensor, torch.Tensor]]:
        """(name, side a's, side b's) for the value (unless values=False) and each gradient."""
        if values:
            yield self.value_name, p.a.value, p.b.value
        for n in self.grads:
            yield f"grad[{n}]", grad(p.a, n), grad(p.b, n)

    def close(self, x: torch.Tensor, y: torch.Tensor) -> bool:
        return x.shape == y.shape and normwise(x, y) <= self.tol

    def values_agree(self) -> bool:
        return all(self.close(p.a.value, p.b.value) for p in self.points)

    def differing(self) -> tuple[str, ...]:
        """The params whose gradients differ at either point."""
        return tuple(n for n in self.grads
                     if not all(self.close(grad(p.a, n), grad(p.b, n)) for p in self.points))


def grad(run: SideRun, name: str) -> torch.Tensor:
    g = run.grads[name]
    assert g is not None  # Sides.grads holds only params with a gradient on both sides
    return g


def gather(facts: Facts) -> Sides | None:
    pair = facts.pairs().get(DType.FLOAT64)
    if pair is None:
        return None
    ja = facts.reference(SideName.A, jittered=True, grads=True)
    jb = facts.reference(SideName.B, jittered=True, grads=True)
    if ja is None or jb is None:
        return None  # the jittered point is invalid for a side: nothing holds at both points
    problem = facts.problem
    xs = (_input(problem, False), _input(problem, True))
    points = (Point(pair[0], pair[1], xs[0]), Point(ja, jb, xs[1]))
    grads = tuple(n for n in problem.grad_names
                  if all(p.a.grads.get(n) is not None and p.b.grads.get(n) is not None
                         for p in points))
    value_name = "draws" if problem.mode is Mode.RSAMPLE else "log_prob"
    shape = tuple(pair[0].value.shape)
    event = _event_shape(shape, xs[0])
    found = sizes(shape, event, value_name)
    return Sides(problem, tl.relation_tol(facts.kappa), points, grads, found,
                 None if event is None else len(event), value_name)


def _input(problem: Problem, jittered: bool) -> torch.Tensor | None:
    """Side a's evaluation input in float64 on the CPU (None in rsample mode)."""
    if problem.mode is Mode.RSAMPLE:
        return None
    try:
        env = problem.env(DType.FLOAT64, SideName.A, jittered=jittered, with_grad=False)
        return env.values[problem.at_name(SideName.A)].detach().cpu().double()
    except (ConstraintFailure, GaussdiagError, RuntimeError, ValueError, KeyError):
        return None


def _event_shape(value: tuple[int, ...], x: torch.Tensor | None) -> tuple[int, ...] | None:
    """The input's dims summed into one log_prob element: what follows the value's shape."""
    if x is None or tuple(x.shape[:len(value)]) != value:
        return None
    return tuple(x.shape[len(value):])
