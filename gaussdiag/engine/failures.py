"""The `invalid-parameters` failure: a side's arguments (or the evaluation point) break a
distribution constraint, or a linear-algebra step on them fails; with the fix to suggest."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from gaussdiag.vocab import SideName


class ConstraintFailure(Exception):
    """A side's arguments (or the evaluation point) break a distribution constraint, or a
    linear-algebra step on them fails. Becomes the `invalid-parameters` verdict."""

    def __init__(self, side: SideName, message: str, *, arg: str | None = None,
                 constraint: str | None = None, index: tuple[int, ...] | None = None,
                 detail: str | None = None, fix: str | None = None,
                 support: bool = False) -> None:
        self.side = side
        self.message = message
        self.arg = arg
        self.constraint = constraint
        self.index = index
        self.detail = detail
        self.fix = fix
        self.support = support
        super().__init__(message)

    @property
    def described(self) -> str:
        """The message with the detail after it, unless the message quotes it already (a
        linear-algebra failure's message is torch's own words)."""
        what = self.message.rstrip(": ")
        return f"{what}; {self.detail}" if self.detail and self.detail not in what else what


LINALG_FIX = ("build the matrix so it is positive definite by construction: a `scale_tril` "
               "from a free matrix with a positive diagonal, e.g. "
               "tril(M, -1) + diag_embed(softplus(diagonal(M))), or "
               "torch.distributions.transform_to(constraints.lower_cholesky)(M)")

# Fixes for broken constraints, keyed by the constraint's class name.
_CONSTRAINT_FIX: dict[str, str] = {
    "_GreaterThan": "keep it positive by construction: softplus(raw) or exp(log_value), "
                    "plus a small floor such as clamp(softplus(raw), min=1e-4)",
    "_GreaterThanEq": "keep it non-negative by construction: softplus(raw) or exp(raw)",
    "_PositiveDefinite": LINALG_FIX,
    "_LowerCholesky": "a scale_tril needs a lower triangle with a positive diagonal: "
                      "tril(M, -1) + diag_embed(softplus(diagonal(M)))",
    "_LowerTriangular": "zero the upper triangle: tril(M)",
    "_Interval": "map an unconstrained value into the interval, e.g. sigmoid(raw)",
    "_HalfOpenInterval": "map an unconstrained value into the interval, e.g. sigmoid(raw)",
    "_Simplex": "normalise with softmax (logsumexp-based) so entries are positive and sum to 1",
    "_CorrCholesky": "use torch.distributions.transform_to(constraints.corr_cholesky)(raw)",
}


# An argument bounded by another one (Uniform's low < high): equal bounds, or bounds closer
# than round-off can tell apart (a 1e-30-wide interval at 1e30 is one point in float64).
_BOUNDS_FIX = ("give the interval a width that cannot vanish: high = low + softplus(raw_width), "
               "with the width well above the bounds' round-off (|low| x finfo(dtype).eps in "
               "every dtype run)")


def constraint_failure(side: SideName, dist_name: str, cls: Any, args: Mapping[str, Any],
                       err: ValueError) -> ConstraintFailure:
    """Turn torch's validation error into a failure naming the argument, the constraint, the
    first failing batch index and a fix (torch's own first line is kept)."""
    import torch

    text = str(err)
    arg = text.split("Expected parameter ", 1)[1].split(" ", 1)[0]
    constraint = arg_constraints(cls, err).get(arg)
    index: tuple[int, ...] | None = None
    detail: str | None = None
    value = args.get(arg)
    if constraint is not None and isinstance(value, torch.Tensor):
        try:
            ok = constraint.check(value)
            bad = (~ok).nonzero()
            if len(bad):
                index = tuple(int(i) for i in bad[0])
            if type(constraint).__name__ == "_PositiveDefinite":
                m = value.detach().double()
                m = m[index] if index else m
                eig = torch.linalg.eigvalsh(m)
                detail = (f"smallest eigenvalue {float(eig.min()):.4g} "
                          f"(largest {float(eig.max()):.4g})")
            elif index is not None and value.ndim - len(index) == 0:
                detail = f"value {float(value.detach()[index]):.4g} at index {list(index)}"
            elif index is not None:
                detail = f"first failing batch index {list(index)}"
        except Exception:  # noqa: BLE001 - the detail is a courtesy; torch's message stands
            pass
    cname = type(constraint).__name__ if constraint is not None else None
    fix = _CONSTRAINT_FIX.get(cname or "", "reparameterize so the constraint holds by "
                              "construction (torch.distributions.transform_to)")
    bound = getattr(constraint, "lower_bound", getattr(constraint, "upper_bound", None))
    if cname in ("_GreaterThan", "_LessThan") and isinstance(bound, torch.Tensor):
        fix = _BOUNDS_FIX  # the bound is another argument: Uniform's low < high
    return ConstraintFailure(
        side, first_line(err), arg=arg,
        constraint=repr(constraint) if constraint is not None else None,
        index=index, detail=detail, fix=fix,
    )


def arg_constraints(cls: Any, err: BaseException | None = None) -> Mapping[str, Any]:
    """The `arg_constraints` of distribution class `cls`. Uniform and Wishart compute theirs
    from the instance's own arguments (a property: `high` must exceed that `low`), so they are
    read from the instance torch was validating, found in the traceback of `err`; {} when
    there is none."""
    found = inspect.getattr_static(cls, "arg_constraints", None) if cls is not None else None
    if isinstance(found, Mapping):
        return found
    tb = err.__traceback__ if err is not None else None
    while tb is not None:
        obj = tb.tb_frame.f_locals.get("self")
        if isinstance(found, property) and isinstance(obj, cls):
            try:
                value = obj.arg_constraints
            except Exception:  # noqa: BLE001 - half-built: its own arguments may be missing
                value = None
            if isinstance(value, Mapping):
                return value
        tb = tb.tb_next
    return {}


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__

