"""The catalog a relation's number is matched against (spec: the closed forms), in order; the
first entry that still makes the relation hold within tolerance.relation_tol wins, and a number
that matches none is shown as a plain number, never as a guessed formula.

  constants (offset, affine's k)  log 2, log π, log 2π, each times 1 or ½, per element or
                                  times the event size; then log n for the problem's sizes;
                                  each with either sign
  factors                         -1; then each size n of the problem and 1/n
  point terms (point-term)        c · Σ g(x) over the event, g one of log x, log(1 - x),
                                  log(1 - x²), x, x², c one of 1, -1, 2, -2, ½, -½

The sizes are the event size (elements of the input per log_prob element), the number of
log_prob elements, the sizes of log_prob's dims when it has several, and of the event's dims
when it has several; a size of 1 is no size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gaussdiag.vocab import Vocab

if TYPE_CHECKING:
    import torch


class Why(Vocab):
    """Where a catalog entry typically comes from (the words pick a hint by it)."""

    HALF = "half"  # log 2: a half-distribution against its full one
    PI = "pi"  # log π: a squared error against a Gaussian of variance ½
    GAUSS = "gauss"  # log 2π: the Gaussian normalizing constant
    COUNT = "count"  # log n: a mean inside a log
    NEGATED = "negated"  # -1
    MEAN = "mean"  # 1/n: a mean where a sum is meant
    SUM = "sum"  # n: a sum where a mean is meant
    JACOBIAN = "jacobian"  # ±log x, log(1 - x), log(1 - x²): a Jacobian
    TWICE = "twice"  # ±2 times a Jacobian: a log_abs_det_jacobian with the wrong sign
    DATA = "data"  # x, x²: a data-only term


@dataclass(frozen=True)
class Size:
    n: int
    name: str  # "the event size"
    event: bool  # the event size (a mean over the event) rather than a batch size


@dataclass(frozen=True)
class Form:
    """A catalog entry: its number, the formula with the sizes written in (`10/2·log π`), what
    the sizes are (`10 = the event size`, or empty), and where it typically comes from."""

    value: float
    text: str
    meaning: str
    why: Why
    size: Size | None = None


@dataclass(frozen=True)
class Term:
    """A point term c · Σ g(x): `text` is the formula (`-log x`), `fn` gives Σ g(x) per
    log_prob element (NaN where g is undefined)."""

    coefficient: float
    text: str
    why: Why
    fn: Callable[[torch.Tensor], torch.Tensor]


def sizes(value_shape: tuple[int, ...], event_shape: tuple[int, ...] | None,
          value_name: str) -> list[Size]:
    """The problem's sizes, each named once (the first name wins), 1 left out."""
    named: list[Size] = []
    if event_shape is not None:
        named.append(Size(math.prod(event_shape), "the event size", True))
    count = math.prod(value_shape)
    named.append(Size(count, "the batch size" if len(value_shape) <= 1 else
                      f"the number of {value_name} elements", False))
    if len(value_shape) > 1:
        named += [Size(n, f"the size of {value_name}'s dim {k}", False)
                  for k, n in enumerate(value_shape)]
    if event_shape is not None and len(event_shape) > 1:
        named += [Size(n, f"the size of the event's dim {k}", True)
                  for k, n in enumerate(event_shape)]
    out: list[Size] = []
    for s in named:
        if s.n > 1 and all(s.n != o.n for o in out):
            out.append(s)
    return out


_BASES = ((Why.HALF, "log 2", math.log(2.0)), (Why.PI, "log π", math.log(math.pi)),
          (Why.GAUSS, "log 2π", math.log(2.0 * math.pi)))


def constants(found: list[Size]) -> list[Form]:
    """Offsets in catalog order: each base times 1 or ½, per element or times the event size,
    then log n; simpler before larger, + before -."""
    event = next((s for s in found if s.name == "the event size"), None)
    out: list[Form] = []
    for size in (None, event) if event is not None else (None,):
        for why, text, base in _BASES:
            for half in (False, True):
                if size is None:
                    shown = f"½·{text}" if half else text
                    value, meaning = base / 2 if half else base, ""
                else:
                    shown = f"{size.n}/2·{text}" if half else f"{size.n}·{text}"
                    value = size.n * base / (2 if half else 1)
                    meaning = f"{size.n} = {size.name}"
                out += _signed(Form(value, shown, meaning, why, size))
    for size in found:
        out += _signed(Form(math.log(size.n), f"log {size.n}", f"{size.n} = {size.name}",
                            Why.COUNT, size))
    return out


def _signed(form: Form) -> list[Form]:
    return [form, Form(-form.value, f"-{form.text}", form.meaning, form.why, form.size)]


def factors(found: list[Size]) -> list[Form]:
    """Factors in catalog order: -1, then each size and its reciprocal."""
    out = [Form(-1.0, "-1", "", Why.NEGATED)]
    for size in found:
        out.append(Form(float(size.n), f"{size.n}", f"{size.n} = {size.name}", Why.SUM, size))
        out.append(Form(1.0 / size.n, f"1/{size.n}", f"1/{size.n} = 1 / {size.name}",
                        Why.MEAN, size))
    return out


def _log(x: torch.Tensor) -> torch.Tensor:
    return x.log()


def _log1m(x: torch.Tensor) -> torch.Tensor:
    return (-x).log1p()


def _log1m_sq(x: torch.Tensor) -> torch.Tensor:
    return (-x.square()).log1p()


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _square(x: torch.Tensor) -> torch.Tensor:
    return x.square()


# (the formula, g, whether it is a Jacobian's log-determinant: of exp, sigmoid's 1 - x part,
# tanh; else a data-only term)
_TERMS: tuple[tuple[str, Callable[[torch.Tensor], torch.Tensor], bool], ...] = (
    ("log {x}", _log, True),
    ("log(1 - {x})", _log1m, True),
    ("log(1 - {x}²)", _log1m_sq, True),
    ("{x}", _identity, False),
    ("{x}²", _square, False),
)
_COEFFICIENTS = ((1.0, ""), (-1.0, "-"), (2.0, "2·"), (-2.0, "-2·"), (0.5, "½·"), (-0.5, "-½·"))


def point_terms(x_name: str, event_dims: int) -> list[Term]:
    """The point terms in catalog order, for an input named `x_name` whose last `event_dims`
    dims are summed into one log_prob element."""
    out = []
    for text, g, jacobian in _TERMS:
        summed = _summed(g, event_dims)
        for c, lead in _COEFFICIENTS:
            why = (Why.TWICE if abs(c) == 2.0 else Why.JACOBIAN) if jacobian else Why.DATA
            out.append(Term(c, lead + text.format(x=x_name), why, summed))
    return out


def _summed(g: Callable[[torch.Tensor], torch.Tensor], event_dims: int
            ) -> Callable[[torch.Tensor], torch.Tensor]:
    def fn(x: torch.Tensor) -> torch.Tensor:
        out = g(x)
        return out.sum(tuple(range(-event_dims, 0))) if event_dims else out

    return fn
