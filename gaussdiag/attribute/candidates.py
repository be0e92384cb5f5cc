"""Reparameterization candidates: what the search may apply to one param on one side.

CANDIDATES is flat and ordered (the search tries them in this order); each names its inverse,
so a composition of a candidate with its inverse (a no-op) is never tried. The argument swap
a fix may offer instead (ALTERNATIVES) is front-end wording: gaussdiag/engine/alternatives.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Candidate:
    """`fn` applied to a param on one side; `template` writes it into a fix ({} is the param);
    `expects` says in words what the side really wants; `inverse` undoes it (a composition of
    a candidate with its inverse is a no-op and is never tried)."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    template: str
    expects: str
    inverse: str
    matrix: bool = False
    factor: float | None = None  # the scale candidate's number (attribute/scale.py)


def _softplus(t: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F

    return F.softplus(t)


def _softplus_inv(t: torch.Tensor) -> torch.Tensor:
    return t + (-(-t).expm1()).log()  # log(expm1(t)) without overflow for large t


def _logit(t: torch.Tensor) -> torch.Tensor:
    return t.log() - (-t).log1p()  # NaN outside [0, 1]: such a candidate changes nothing


def _inverse(t: torch.Tensor) -> torch.Tensor:
    import torch

    out: torch.Tensor = torch.linalg.inv(t)
    return out


def _cholesky(t: torch.Tensor) -> torch.Tensor:
    import torch

    out: torch.Tensor = torch.linalg.cholesky(t)
    return out


# Ordered by how often the mix-up happens: std vs variance first (the seed thread), then a
# forgotten exp of a log-scale, softplus, precision vs variance, then the matrix forms.
CANDIDATES: tuple[Candidate, ...] = (
    # the thread's "factor of two" in the gradient is the square's derivative 2 * p at p = 1
    Candidate("square", lambda t: t.square(), "{p}**2",
              "the square of `{p}` (a variance where `{p}` is a standard deviation; the "
              "square's derivative 2·`{p}` is why the gradients for `{p}` differ by a factor "
              "2 where `{p}` is 1)", "sqrt"),
    Candidate("sqrt", lambda t: t.sqrt(), "sqrt({p})",
              "the square root of `{p}` (a standard deviation where `{p}` is a variance)",
              "square"),
    Candidate("exp", lambda t: t.exp(), "exp({p})",
              "exp(`{p}`) (`{p}` is a log-scale value and the exp is missing)", "log"),
    Candidate("log", lambda t: t.log(), "log({p})",
              "log(`{p}`) (`{p}` is used as a log-scale value but holds the scale itself)", "exp"),
    Candidate("softplus", _softplus, "softplus({p})",
              "softplus(`{p}`) (`{p}` is a raw value and the softplus is missing)",
              "softplus_inv"),
    Candidate("softplus_inv", _softplus_inv, "log(expm1({p}))",
              "the inverse softplus of `{p}` (softplus is applied to a value already positive)",
              "softplus"),
    Candidate("reciprocal", lambda t: t.reciprocal(), "1 / {p}",
              "1 / `{p}` (a precision where a variance is given, or a rate where a scale is)",
              "reciprocal"),
    # Probabilities: logits passed where probabilities are expected (Bernoulli, Binomial,
    # Geometric: probs= against logits=), and the complementary probability (scipy's p is
    # torch's 1 - p for NegativeBinomial). Categorical normalizes its logits, so there the
    # mix-up is `log` (logits=log(p) is probs=p).
    Candidate("sigmoid", lambda t: t.sigmoid(), "sigmoid({p})",
              "sigmoid(`{p}`) (`{p}` holds logits where a probability is expected)", "logit"),
    Candidate("logit", _logit, "log({p}) - log1p(-{p})",
              "logit(`{p}`) (`{p}` holds a probability where logits are expected)", "sigmoid"),
    Candidate("complement", lambda t: 1 - t, "1 - {p}",
              "1 - `{p}` (the complementary probability: success and failure swapped)",
              "complement"),
    Candidate("gram", lambda t: t @ t.transpose(-1, -2), "{p} @ transpose({p})",
              "`{p} @ transpose({p})` (a covariance where `{p}` is a Cholesky factor)",
              "cholesky", matrix=True),
    Candidate("cholesky", _cholesky, "cholesky({p})",
              "the Cholesky factor of `{p}` (a scale_tril where `{p}` is a covariance)", "gram",
              matrix=True),
    Candidate("inverse", _inverse, "inverse({p})",
              "the inverse of `{p}` (a precision matrix where `{p}` is a covariance)", "inverse",
              matrix=True),
)


def compositions() -> Iterable[tuple[Candidate, ...]]:
    """Every pair (first, second) of candidates except a candidate followed by its inverse."""
    for first in CANDIDATES:
        for second in CANDIDATES:
            if second.name != first.inverse:  # a candidate then its inverse is a no-op
                yield (first, second)


def chain(steps: tuple[Candidate, ...]) -> Callable[[torch.Tensor], torch.Tensor]:
    """The steps applied in order, as one function."""
    def fn(t: torch.Tensor) -> torch.Tensor:
        for c in steps:
            t = c.fn(t)
        return t

    return fn


def name_of(steps: tuple[Candidate, ...]) -> str:
    """The transform's name: `exp`, or `square∘exp` for exp then square."""
    return "∘".join(c.name for c in reversed(steps))


def template_of(steps: tuple[Candidate, ...]) -> str:
    """The steps written as a fix template, `{}` standing for the param."""
    out = "{p}"
    for c in steps:
        out = c.template.replace("{p}", f"({out})" if out != "{p}" else "{p}")
    return out.replace("{p}", "{0}")
