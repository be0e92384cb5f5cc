"""Per-distribution argument rules: which constructor arguments torch takes as plain Python
numbers (never tensors), shape checks torch itself answers with an unlocated crash, and the
classes built in place of torch's where torch has a bug a natural spec runs into.

One flat table per concern, keyed by the `dist:` name; a name missing from a table follows the
default (every argument an expression evaluated to a tensor, torch's own class). torch is
imported inside functions: nothing here runs before a side is built.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

# An argument value as the spec holds it: an expression or a finite number.
RawArg = str | float


@dataclass(frozen=True)
class Plain:
    """An argument torch takes as a Python int, with its smallest allowed value."""

    minimum: int
    why: str


# Arguments that must come from the spec as plain integers. torch reads them as shapes or
# loop counts, so the tensor an expression evaluates to is refused (or crashes deep inside).
PLAIN: dict[str, dict[str, Plain]] = {
    # LKJCholesky builds torch.Size(dim, dim) from it: a tensor fails inside torch.Size.
    "LKJCholesky": {"dim": Plain(2, "the size of the correlation matrix")},
    # Multinomial checks isinstance(total_count, int) and calls anything else
    # "inhomogeneous total_count"; Binomial and NegativeBinomial do take tensors.
    "Multinomial": {"total_count": Plain(0, "the number of trials, the same for every row")},
}


def _check_low_rank(args: Mapping[str, Any]) -> tuple[str, str] | None:
    # torch indexes column 0 of the factor while broadcasting, so a rank-0 factor is an
    # IndexError with no hint; with no column the covariance is just diag(cov_diag).
    factor = args.get("cov_factor")
    if factor is not None and factor.ndim >= 2 and factor.shape[-1] == 0:
        return ("cov_factor",
                f"LowRankMultivariateNormal needs a cov_factor with at least one column (rank "
                f">= 1), found shape {list(factor.shape)}; with no low-rank part the covariance "
                "is diag(cov_diag): use Normal(loc, sqrt(cov_diag)) with `event_dims: 1`")
    return None


# Checks on the evaluated arguments, before torch sees them: (arg, message) or None.
CHECKS: dict[str, Callable[[Mapping[str, Any]], tuple[str, str] | None]] = {
    "LowRankMultivariateNormal": _check_low_rank,
}


def arguments(dist: str, raw: Mapping[str, RawArg], evaluate: Callable[[str, RawArg], Any],
              error: Callable[[str, str], Exception]) -> dict[str, Any]:
    """The constructor's keyword arguments: plain ones converted from the spec's numbers,
    the rest through `evaluate(key, value)`. Raises `error(key, message)` for a plain
    argument that is not a whole number at or above its minimum, or a failed check."""
    plain = PLAIN.get(dist, {})
    out: dict[str, Any] = {}
    for key, value in raw.items():
        rule = plain.get(key)
        out[key] = evaluate(key, value) if rule is None else _plain(dist, key, value, rule, error)
    check = CHECKS.get(dist)
    found = check(out) if check is not None else None
    if found is not None:
        raise error(*found)
    return out


def _plain(dist: str, key: str, value: RawArg, rule: Plain,
           error: Callable[[str, str], Exception]) -> int:
    whole = (not isinstance(value, str) and math.isfinite(value)
             and float(value).is_integer())
    if not whole or int(value) < rule.minimum:
        found = f"the expression '{value}'" if isinstance(value, str) else f"{value:g}"
        raise error(key, f"{dist}'s {key} ({rule.why}) is a plain whole number >= "
                    f"{rule.minimum} in the spec (torch takes a Python int here, not a "
                    f"tensor), found {found}")
    return int(value)


_CLASSES: dict[str, Any] = {}  # not functools.cache: dynamo traces a dict, not a cache


def torch_class(dist: str) -> Any:
    """The class to build `dist` with: torch's own, or a subclass below that works around a
    torch bug (same name, same constructor)."""
    if dist not in _CLASSES:
        import torch.distributions as D

        fixed = _fixed_classes()
        _CLASSES[dist] = fixed[dist] if dist in fixed else getattr(D, dist)
    return _CLASSES[dist]


@cache
def _fixed_classes() -> dict[str, Any]:
    import torch
    import torch.distributions as D

    class GeneralizedPareto(D.GeneralizedPareto):
        """torch scores with `isclose(concentration, torch.tensor(0.0))`: that constant is
        made in the *default* dtype (float32), so float64 (or float16) parameters fail with
        "Double did not match Float" (pytorch/pytorch#198185). Passing the args in one dtype
        cannot help, the constant is torch's; scoring under the parameters' dtype as the
        default makes the constant match and leaves torch's formula untouched."""

        def log_prob(self, value: torch.Tensor) -> torch.Tensor:
            with _default_dtype(self.concentration.dtype):
                return super().log_prob(value)  # type: ignore[no-untyped-call,no-any-return]

        def log_survival_function(self, value: torch.Tensor) -> torch.Tensor:
            with _default_dtype(self.concentration.dtype):
                return super().log_survival_function(value)  # type: ignore[no-untyped-call,no-any-return]

    class Wishart(D.Wishart):
        """torch's singular-sample check is inverted (`support.check(sample)` flags every
        positive definite draw, pytorch/pytorch#122021): it warns "Singular sample detected"
        on every draw, redraws the good ones, and the in-place redraw breaks backward()
        (a shape mismatch against the mutated mask). With no correction the draw is the
        plain Bartlett draw, a valid Wishart sample with a working gradient; the real check
        is done here, and warns only when a draw is singular."""

        def rsample(self, sample_shape: Any = (), max_try_correction: int | None = None
                    ) -> torch.Tensor:
            del max_try_correction  # torch's correction is what is broken
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Singular sample detected")
                sample = super().rsample(torch.Size(sample_shape), max_try_correction=0)
            bad = int((~self.support.check(sample.detach())).sum())  # type: ignore[no-untyped-call]
            if bad:
                warnings.warn(f"{bad} of {sample.shape[:-2].numel()} Wishart draws are "
                              "singular (not positive definite); their log_prob is -inf",
                              UserWarning, stacklevel=2)
            return sample

    return {"GeneralizedPareto": GeneralizedPareto, "Wishart": Wishart}


@contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[None]:
    import torch

    saved = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(saved)
