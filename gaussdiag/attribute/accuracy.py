"""Per-side accuracy: how many digits a side's low-dtype run keeps against the same side's
float64 run, per quantity (the value or the draws, and each param's gradient).

One implementation for `compare` (a round-off report names the side that loses more digits)
and `precision-check SPEC` (which side to use). Digits are -log10 of the normwise relative
error max|low - ref| / max(max|low|, max|ref|), floored at 0 and capped at
`precision_digits(dtype)`; NaN where a quantity has no digits (see `Status`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gaussdiag.tolerance import TIE_DIGITS, precision_digits
from gaussdiag.vocab import DType, Mode, SideName, Vocab

if TYPE_CHECKING:
    import torch

    from gaussdiag.engine.evaluate import SideRun
    from gaussdiag.engine.problem import Problem

class Status(Vocab):
    """Whether a quantity has digits, and why not."""

    FINITE = "finite"
    UNDEFINED = "undefined"  # no gradient reaches the param, or no finite float64 value
    OVERFLOW = "overflow"  # not finite in the low dtype, finite in float64


@dataclass(frozen=True)
class QuantityAccuracy:
    """One quantity of one side in the low dtype against the same side in float64."""

    name: str
    digits: float  # NaN unless status is FINITE
    error: float  # the normwise relative error (NaN unless FINITE)
    magnitude: float  # max |float64 value| (NaN where the side gives no value)
    status: Status
    extreme: float = math.nan  # the float64 element of that magnitude, with its sign (FINITE)


def digits(rel: float, dtype: DType) -> float:
    """Digits kept at normwise relative error `rel`: -log10(rel), floored at 0 and capped at
    `precision_digits(dtype)`. The one place this per-side accuracy is computed."""
    cap = precision_digits(dtype)
    return cap if rel == 0 else min(cap, max(0.0, -math.log10(rel)))


def value_name(mode: Mode) -> str:
    """The compared value's name: the draws in rsample mode, else log_prob (train mode: at
    the starting point)."""
    return "draws" if mode is Mode.RSAMPLE else "log_prob"


def quantity_names(problem: Problem) -> list[str]:
    return [value_name(problem.mode), *(f"grad[{n}]" for n in problem.grad_names)]


def quantity_accuracy(name: str, low: torch.Tensor | None, ref: torch.Tensor | None,
                      dtype: DType) -> QuantityAccuracy:
    """Digits of one low-dtype tensor against the same side's float64 tensor."""
    import torch

    from gaussdiag.attribute.quantities import normwise

    if low is None or ref is None:  # no gradient reaches this param on this side
        return QuantityAccuracy(name, math.nan, math.nan, math.nan, Status.UNDEFINED)
    ref64 = ref.detach().double()
    magnitude = float(ref64.abs().max()) if ref64.numel() else 0.0
    if not bool(torch.isfinite(ref64).all()):
        return QuantityAccuracy(name, math.nan, math.nan, magnitude, Status.UNDEFINED)
    if not bool(torch.isfinite(low).all()):
        return QuantityAccuracy(name, math.nan, math.nan, magnitude, Status.OVERFLOW)
    rel = normwise(low, ref64)
    extreme = float(ref64.flatten()[ref64.abs().argmax()]) if ref64.numel() else 0.0
    return QuantityAccuracy(name, digits(rel, dtype), rel, magnitude, Status.FINITE, extreme)


def side_accuracy(problem: Problem, low: SideRun, ref: SideRun
                  ) -> tuple[QuantityAccuracy, ...]:
    """Every quantity of one side: `low` its run in the low dtype, `ref` in float64."""
    pairs = [(low.value, ref.value),
             *((low.grads.get(n), ref.grads.get(n)) for n in problem.grad_names)]
    return tuple(quantity_accuracy(name, lo, rf, low.dtype)
                 for name, (lo, rf) in zip(quantity_names(problem), pairs, strict=True))


def run_low(problem: Problem, side: SideName, dtype: DType) -> SideRun:
    """The side's low-dtype run with its noise drawn in float64 and rounded (`float64_noise`),
    so its draws map the same noise as its float64 run. Raises ConstraintFailure."""
    from gaussdiag.engine.evaluate import run_side

    with float64_noise():
        return run_side(problem, side, dtype)


def worst(quantities: Sequence[QuantityAccuracy]) -> float:
    """The fewest digits over the quantities; NaN when one has none (or there are none)."""
    if not quantities or any(math.isnan(q.digits) for q in quantities):
        return math.nan
    return min(q.digits for q in quantities)


def worse_side(digits: dict[SideName, float]) -> SideName | None:
    """The side that keeps fewer digits in its worst quantity; None on a tie (within
    TIE_DIGITS) or when either is unknown."""
    a, b = digits[SideName.A], digits[SideName.B]
    if math.isnan(a) or math.isnan(b) or abs(a - b) <= TIE_DIGITS:
        return None
    return SideName.A if a < b else SideName.B


@contextmanager
def float64_noise() -> Iterator[None]:
    """Draw normal and uniform noise requested in a low dtype in float64 and round it, so a
    side's low-dtype draws map the same noise as its float64 draws (CPU and CUDA generators
    produce different streams per dtype). Other samplers (gamma, ...) are left alone."""
    import torch
    from torch.overrides import TorchFunctionMode

    low = (torch.float16, torch.bfloat16, torch.float32)
    in_place = (torch.Tensor.normal_, torch.Tensor.uniform_)
    factories = (torch.randn, torch.rand)
    likes = (torch.randn_like, torch.rand_like)

    class Float64Noise(TorchFunctionMode):
        # Inside __torch_function__ the mode is off, so the calls below reach torch itself.
        def __torch_function__(self, func: Any, types: Any, args: Sequence[Any] = (),
                               kwargs: dict[str, Any] | None = None) -> Any:
            kwargs = kwargs or {}
            if func in in_place and args and args[0].dtype in low:
                target = args[0]
                with torch.no_grad():
                    wide = torch.empty(target.shape, dtype=torch.float64, device=target.device)
                    func(wide, *args[1:], **kwargs)
                    target.copy_(wide)
                return target
            if func in factories and not kwargs.get("requires_grad", False):
                dt = kwargs.get("dtype") or torch.get_default_dtype()
                if dt in low:
                    return func(*args, **{**kwargs, "dtype": torch.float64}).to(dt)
            if func in likes and args and not kwargs.get("requires_grad", False):
                dt = kwargs.get("dtype") or args[0].dtype
                if dt in low:
                    return func(*args, **{**kwargs, "dtype": torch.float64}).to(dt)
            return func(*args, **kwargs)

    with Float64Noise():
        yield
