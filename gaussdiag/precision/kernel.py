"""The Normal kernel shared by the sweep and the point check: `Normal.log_prob` and its
gradients, batched, in a low dtype and in float64.

The reference is float64 evaluated at the *low-dtype-rounded* inputs (sigma, or the raw
parameter, and x are first cast to the low dtype, then back to float64). That separates the
error of evaluating in the low dtype from the rounding of the inputs, which no evaluation can
undo. Where the rounded input is not finite (1e12 in float16) the exact input is used, so the
cell reads as overflow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from typing_extensions import assert_never

from gaussdiag.vocab import DType, ScaleParam

if TYPE_CHECKING:
    import torch

    from gaussdiag.precision.cells import BoolArray, FloatArray


def raw_from_scale(param: ScaleParam, scale: torch.Tensor) -> torch.Tensor:
    """The exact (float64) raw parameter that gives `scale`."""
    import torch

    if param is ScaleParam.SCALE:
        return scale
    if param is ScaleParam.SOFTPLUS:
        # softplus^-1(s) = log(expm1(s)) = s + log(-expm1(-s)): the second form neither
        # overflows for large s nor loses digits for small s.
        return scale + torch.log(-torch.expm1(-scale))
    if param is ScaleParam.LOG:
        return torch.log(scale)
    assert_never(param)


def scale_from_raw(param: ScaleParam, raw: torch.Tensor) -> torch.Tensor:
    """The transform users write: the same torch calls, in whatever dtype `raw` has."""
    import torch

    if param is ScaleParam.SCALE:
        return raw
    if param is ScaleParam.SOFTPLUS:
        return torch.nn.functional.softplus(raw)
    if param is ScaleParam.LOG:
        return torch.exp(raw)
    assert_never(param)


def _dscale_draw(param: ScaleParam, raw: torch.Tensor) -> torch.Tensor:
    import torch

    if param is ScaleParam.SCALE:
        return torch.ones_like(raw)
    if param is ScaleParam.SOFTPLUS:
        return torch.sigmoid(raw)
    if param is ScaleParam.LOG:
        return torch.exp(raw)
    assert_never(param)


class NormalEval(NamedTuple):
    scale: torch.Tensor
    log_prob: torch.Tensor
    grad_loc: torch.Tensor
    grad_raw: torch.Tensor
    grad_scale: torch.Tensor


def normal_eval(param: ScaleParam, loc: torch.Tensor, raw: torch.Tensor,
                x: torch.Tensor) -> NormalEval:
    """One batched `Normal.log_prob` with gradients, in the dtype of the inputs."""
    import torch

    # detached aliases, not copies: autograd never writes to its leaves
    loc = loc.detach().requires_grad_(True)
    raw = raw.detach().requires_grad_(True)
    scale = scale_from_raw(param, raw)
    dist = torch.distributions.Normal(loc, scale, validate_args=False)
    lp = dist.log_prob(x)  # type: ignore[no-untyped-call]
    if param is ScaleParam.SCALE:  # scale is the leaf: its gradient is grad[raw]
        g_loc, g_raw = torch.autograd.grad(lp.sum(), [loc, raw])
        g_scale = g_raw
    else:
        g_loc, g_raw, g_scale = torch.autograd.grad(lp.sum(), [loc, raw, scale])
    return NormalEval(scale.detach(), lp.detach(), g_loc, g_raw, g_scale)


@dataclass(frozen=True, eq=False)
class NormalArrays:
    """Float64 numpy arrays of one batched Normal comparison (any shape)."""

    names: tuple[str, ...]
    low: tuple[FloatArray, ...]
    ref: tuple[FloatArray, ...]
    term: tuple[FloatArray, ...]
    undefined: BoolArray
    scale_low: FloatArray


def normal_compare(param: ScaleParam, dtype: DType, loc64: torch.Tensor,
                   scale64: torch.Tensor, x64: torch.Tensor, *,
                   rounded_reference: bool = True, with_scale_grad: bool = False
                   ) -> NormalArrays:
    """Evaluate at the exact float64 inputs cast to `dtype`, and in float64 at the rounded
    inputs (or, with `rounded_reference=False`, at the exact ones)."""
    import torch

    from gaussdiag.engine.device import torch_dtype

    tdt = torch_dtype(dtype)
    raw64 = raw_from_scale(param, scale64)
    lo_loc, lo_raw, lo_x = loc64.to(tdt), raw64.to(tdt), x64.to(tdt)

    def back(rounded: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
        if not rounded_reference:
            return exact
        r = rounded.to(torch.float64)
        # only an input past the dtype's range rounds to inf (inputs are finite): one
        # reduction instead of a test and a select per cell on a whole map
        if exact.numel() and float(exact.abs().max()) < torch.finfo(tdt).max:
            return r
        return torch.where(torch.isfinite(r), r, exact)

    r_loc, r_raw, r_x = back(lo_loc, loc64), back(lo_raw, raw64), back(lo_x, x64)
    low = normal_eval(param, lo_loc, lo_raw, lo_x)
    ref = normal_eval(param, r_loc, r_raw, r_x)
    # The size of the terms each value is computed from (for the cancellation test).
    # Each power computed once: these run on every cell of a 1e6-cell map.
    d = r_x - r_loc
    d2, s = d * d, ref.scale
    s2 = s * s
    t_lp = d2 / (2 * s2) + torch.log(s).abs() + 0.5 * math.log(2 * math.pi)
    t_loc = d.abs() / s2
    t_scale = (d2 + s2) / (s2 * s)
    t_raw = t_scale if param is ScaleParam.SCALE else t_scale * _dscale_draw(param, r_raw).abs()
    names = ["log_prob", "grad[loc]", f"grad[{param.raw_name}]"]
    lows = [low.log_prob, low.grad_loc, low.grad_raw]
    refs = [ref.log_prob, ref.grad_loc, ref.grad_raw]
    terms = [t_lp, t_loc, t_raw]
    if with_scale_grad and param is not ScaleParam.SCALE:
        names.append("grad[scale]")
        lows.append(low.grad_scale)
        refs.append(ref.grad_scale)
        terms.append(t_scale)

    def np64(t: torch.Tensor) -> FloatArray:
        return t.detach().to(torch.float64).numpy()

    undefined = np64(ref.scale) <= 0
    return NormalArrays(tuple(names), tuple(np64(v) for v in lows),
                        tuple(np64(v) for v in refs), tuple(np64(v) for v in terms),
                        undefined, np64(low.scale))
