"""One (loc, scale, x) of `Normal` in a low dtype and in float64, and what it means in words.

The reference is float64 at the low-dtype-rounded inputs (see `kernel`); the digits against
the unrounded inputs are reported beside it, so input rounding reads as its own cost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from typing_extensions import assert_never

from gaussdiag.numbers import sentence as fmt
from gaussdiag.precision.cells import (
    CELL_CLASSES,
    CellClass,
    InputError,
    check_low_dtype,
    classify_values,
)
from gaussdiag.precision.kernel import normal_compare, normal_eval, raw_from_scale, scale_from_raw
from gaussdiag.suggest import hint, listing
from gaussdiag.tolerance import DTYPE_MAX, accurate_digits, precision_digits
from gaussdiag.vocab import DType, ScaleParam


@dataclass(frozen=True)
class PointSpec:
    """A parsed `--point`: loc, x and one of scale / rho / log_scale (by `raw_key`)."""

    loc: float
    x: float
    raw_key: str
    raw: float


@dataclass(frozen=True)
class PointQuantity:
    """One quantity at a point: value in the low dtype and in float64 at the rounded inputs."""

    name: str
    low: float
    reference: float
    reference_exact: float
    digits: float
    digits_exact: float
    cell_class: CellClass


@dataclass(frozen=True)
class TorchBehavior:
    """What torch does with an invalid scale, with and without `validate_args`."""

    validate_error: str
    unvalidated: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class PointResult:
    dtype: DType
    param: ScaleParam
    spec: PointSpec
    scale: float
    z: float
    rounded: tuple[tuple[str, float], ...]
    quantities: tuple[PointQuantity, ...]
    torch_behavior: TorchBehavior | None
    advice: tuple[str, ...]
    precision_digits: float
    accurate_digits: float


_POINT_KEYS = ("loc", "x", "scale", "rho", "log_scale")
_ALIASES = {"sigma": "scale"}
"""Other names for a key: the sweep's own options call the scale sigma (`--sigma-lo`)."""
_EXAMPLE = "loc=0,scale=0.01,x=10"


def parse_point(text: str, param: ScaleParam) -> PointSpec:
    """Parse `loc=0,scale=0.01,x=10` (`sigma=` is `scale=`). `scale` may be replaced by the
    raw parameter of `param` (`rho` for softplus, `log_scale` for log). loc defaults to 0.

    Errors are `InputError`s naming the input `point` (and `param` where it is involved)."""
    values: dict[str, float] = {}
    named: dict[str, str] = {}  # each key as the user wrote it (sigma for scale)
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        key, sep, val = piece.partition("=")
        given_key = key = key.strip()
        key = _ALIASES.get(key, key)
        if not sep:
            raise InputError(f"{{0}}: expected key=value, found {piece!r} "
                             f"(example: {{0}} {_EXAMPLE})", "point")
        if key not in _POINT_KEYS:
            raise InputError(f"{{0}}: unknown key {key!r}"
                             f"{hint(key, (*_POINT_KEYS, *_ALIASES))}; expected "
                             f"{listing(_POINT_KEYS)} (sigma is scale)", "point")
        if key in values:
            first = named[key]
            raise InputError(f"{{0}}: {key!r} given twice" if first == given_key else
                             f"{{0}}: {first}= and {given_key}= both give {key}", "point")
        try:
            num = float(val)
        except ValueError:
            raise InputError(f"{{0}}: {given_key}={val.strip()!r} is not a number",
                             "point") from None
        if not math.isfinite(num):
            raise InputError(f"{{0}}: {given_key} must be finite; found {val.strip()}", "point")
        values[key], named[key] = num, given_key
    if "x" not in values:
        raise InputError(f"{{0}}: x is missing (example: {{0}} {_EXAMPLE})", "point")
    given = [k for k in ("scale", "rho", "log_scale") if k in values]
    if len(given) != 1:
        raise (InputError(f"{{0}}: give exactly one of scale, {param.raw_name}", "point")
               if param is not ScaleParam.SCALE else
               InputError(f"{{0}}: scale is missing (example: {{0}} {_EXAMPLE})", "point"))
    key = given[0]
    if key != "scale" and key != param.raw_name:
        raise InputError(f"{{0}}: {key}= needs {{1}} "
                         f"{'softplus' if key == 'rho' else 'log'} (found {{1}} "
                         f"{param.value})", "point", "param")
    return PointSpec(loc=values.get("loc", 0.0), x=values["x"], raw_key=key, raw=values[key])


def _point_scale(spec: PointSpec, param: ScaleParam) -> float:
    import torch

    if spec.raw_key == "scale":
        return spec.raw
    return float(scale_from_raw(param, torch.tensor(spec.raw, dtype=torch.float64)))


def _torch_behavior(spec: PointSpec, scale: float) -> TorchBehavior:
    """Run torch on an invalid scale both ways and record what happens."""
    import torch

    loc = torch.tensor(spec.loc, dtype=torch.float64)
    sc = torch.tensor(scale, dtype=torch.float64)
    try:
        torch.distributions.Normal(loc, sc, validate_args=True)
        error = ""
    except ValueError as exc:
        error = str(exc).replace("\n", " ")
    ev = normal_eval(ScaleParam.SCALE, loc, sc, torch.tensor(spec.x, dtype=torch.float64))
    return TorchBehavior(error, (("log_prob", float(ev.log_prob)),
                                 ("grad[loc]", float(ev.grad_loc)),
                                 ("grad[scale]", float(ev.grad_scale))))


def check_point(dtype: DType, param: ScaleParam, spec: PointSpec) -> PointResult:
    """Every quantity at one point in both dtypes, its digits, class and advice."""
    import torch

    from gaussdiag.engine.device import torch_dtype

    check_low_dtype(dtype)
    scale = _point_scale(spec, param)
    loc64 = torch.tensor([spec.loc], dtype=torch.float64)
    x64 = torch.tensor([spec.x], dtype=torch.float64)
    s64 = torch.tensor([scale], dtype=torch.float64)
    z = abs(spec.x - spec.loc) / scale if scale > 0 else math.inf
    behavior = _torch_behavior(spec, scale) if scale <= 0 else None
    # No finite raw value gives scale <= 0: evaluate the scale itself, so the values shown
    # are torch's.
    param_eval = ScaleParam.SCALE if scale <= 0 else param
    if spec.raw_key != "scale" and param_eval is not ScaleParam.SCALE:
        # Start from the raw value the user gave, not from a round trip through scale.
        s64 = scale_from_raw(param_eval, torch.tensor([spec.raw], dtype=torch.float64))
    arr = normal_compare(param_eval, dtype, loc64, s64, x64, with_scale_grad=True)
    exact = normal_compare(param_eval, dtype, loc64, s64, x64, with_scale_grad=True,
                            rounded_reference=False)
    tdt = torch_dtype(dtype)
    raw64 = raw_from_scale(param_eval, s64)
    rounded: tuple[tuple[str, float], ...] = (
        ("loc", float(loc64.to(tdt)[0])), ("x", float(x64.to(tdt)[0])),
        (param_eval.raw_name, float(raw64.to(tdt)[0])),
    )
    if param_eval is not ScaleParam.SCALE:
        rounded += (("scale", float(arr.scale_low[0])),)
    quantities: list[PointQuantity] = []
    for q, name in enumerate(arr.names):
        c = classify_values(arr.low[q], arr.ref[q], arr.term[q], arr.undefined, dtype)
        ce = classify_values(exact.low[q], exact.ref[q], exact.term[q], exact.undefined,
                             dtype)
        quantities.append(PointQuantity(
            name=name, low=float(arr.low[q][0]), reference=float(arr.ref[q][0]),
            reference_exact=float(exact.ref[q][0]), digits=float(c.digits[0]),
            digits_exact=float(ce.digits[0]), cell_class=CELL_CLASSES[int(c.codes[0])],
        ))
    result_q = tuple(quantities)
    return PointResult(
        dtype=dtype, param=param, spec=spec, scale=scale, z=z, rounded=rounded,
        quantities=result_q, torch_behavior=behavior,
        advice=point_advice(dtype, param, spec, scale, z, result_q, behavior),
        precision_digits=precision_digits(dtype), accurate_digits=accurate_digits(dtype),
    )


def point_advice(dtype: DType, param: ScaleParam, spec: PointSpec, scale: float, z: float,
                 quantities: Sequence[PointQuantity],
                 behavior: TorchBehavior | None) -> tuple[str, ...]:
    """Plain-words advice for a point. Rules, in order; each adds at most one paragraph:

    1. scale <= 0: what torch does with and without validate_args, and how to keep it positive.
    2. non-finite in the low dtype although finite in float64: what overflowed.
    3. inaccurate: cancellation (round-off) or a real loss, and what to do.
    4. large but correct: the size is mathematics (tiny sigma or large z), with the options.
    5. the parameterization: what softplus / log changes and what it does not.
    6. input rounding that costs more digits than the evaluation.
    7. nothing wrong: say so.
    """
    d = dtype.value
    by_class = {c: [q for q in quantities if q.cell_class is c] for c in CellClass}
    out: list[str] = []
    if behavior is not None:
        vals = ", ".join(f"{n} = {v}" for n, v in behavior.unvalidated)
        out.append(
            f"scale = {fmt(scale)} is not a valid standard deviation (it must be > 0). With "
            f"validate_args=True (torch's default) Normal(...) raises ValueError: "
            f"{behavior.validate_error or '(no error raised)'}. With validate_args=False it "
            f"returns {vals}: the NaN spreads silently through the loss into every parameter. "
            + _positive_advice(param)
        )
        return tuple(out)
    if by_class[CellClass.OVERFLOW]:
        names = ", ".join(q.name for q in by_class[CellClass.OVERFLOW])
        fits = [q.name for q in by_class[CellClass.OVERFLOW]
                if abs(q.reference) <= DTYPE_MAX[dtype]]
        why = (f"the values themselves fit in {d}, so an intermediate (such as (x - loc)^2 or "
               "1/scale^2) overflowed" if fits else
               f"the values exceed {d}'s largest number {fmt(DTYPE_MAX[dtype])}")
        out.append(f"{names} overflow in {d} (finite in float64): {why}. Compute this loss "
                   f"in float64, standardize x (so z = |x - loc|/scale stays moderate), or "
                   "bound scale from below.")
    if by_class[CellClass.INACCURATE]:
        bad = by_class[CellClass.INACCURATE]
        names = ", ".join(f"{q.name} ({q.digits:.1f} digits)" for q in bad)
        out.append(f"{names} lose digits in {d}: this is round-off in the evaluation, as the "
                   "float64 reference at the same rounded inputs shows. Where a value is the "
                   "small difference of large terms (log_prob near 0, grad[scale] near "
                   "z = 1) the lost digits are cancellation and matter little in absolute "
                   "terms; otherwise evaluate this term in float64.")
    large = by_class[CellClass.LARGE_BUT_CORRECT]
    if large:
        names = ", ".join(f"{q.name} = {fmt(q.low)}" for q in large)
        digits = min(q.digits for q in large)
        cause = (f"the tiny scale ({fmt(scale)})" if scale < 1 else
                 f"the large distance from the mean (z = {fmt(z)})")
        out.append(
            f"{names}: large, but correct to {d} precision ({digits:.1f} of "
            f"{precision_digits(dtype):.1f} digits agree with float64). The cause is "
            f"{cause}, not round-off: d/dloc = (x - loc)/scale^2 and d/dscale = "
            f"((x - loc)^2 - scale^2)/scale^3 are this large in exact arithmetic "
            f"(z = |x - loc|/scale = {fmt(z)}). Options: {_large_options(param)}."
        )
    if param is not ScaleParam.SCALE:
        raw = next((q for q in quantities if q.name == f"grad[{param.raw_name}]"), None)
        gs = next((q for q in quantities if q.name == "grad[scale]"), None)
        if raw is not None and gs is not None:
            factor = "sigmoid(rho)" if param is ScaleParam.SOFTPLUS else "scale"
            out.append(
                f"With {param.formula}, grad[{param.raw_name}] = grad[scale] * {factor} = "
                f"{fmt(raw.reference)} (grad[scale] = {fmt(gs.reference)}): the "
                f"parameterization rescales the scale gradient and keeps scale > 0, but "
                "log_prob and grad[loc] are the same as with a plain scale, and so is the "
                "growth with z: it cannot shrink (x - loc)/scale^2."
            )
    lost = [q for q in quantities
            if q.cell_class.is_correct and not math.isnan(q.digits_exact)
            and q.digits_exact < accurate_digits(dtype)]
    if lost:
        names = ", ".join(f"{q.name} ({q.digits_exact:.1f} digits)" for q in lost)
        out.append(f"Against the unrounded inputs, {names} lose digits: the inputs "
                   f"themselves change when stored in {d} (x - loc cancels when x is close to "
                   "loc relative to their size). Center the data, or keep x - loc in float64.")
    if not out or (len(out) == 1 and param is not ScaleParam.SCALE):
        out.insert(0, f"Every quantity agrees with float64 to {d} precision and none is large: "
                      "nothing to fix here.")
    return tuple(out)


def _bounded(param: ScaleParam) -> str:
    """A lower bound on scale, written over the parameterization in use."""
    if param is ScaleParam.SCALE or param is ScaleParam.SOFTPLUS:
        return "scale = 1e-3 + softplus(rho)"
    if param is ScaleParam.LOG:
        return "scale = 1e-3 + exp(log_scale)"
    assert_never(param)


def _positive_advice(param: ScaleParam) -> str:
    """How to keep scale > 0: a positive parameterization, unless one is already in use (it
    reaches 0 only by underflow, and only a lower bound helps)."""
    if param is ScaleParam.SCALE:
        return ("Keep scale positive by construction: scale = softplus(rho) or "
                f"exp(log_scale), plus a lower bound ({_bounded(param)}) if it must not "
                "collapse.")
    return (f"{param.formula} is > 0 in exact arithmetic and reaches 0 only when it "
            f"underflows: add a lower bound ({_bounded(param)}).")


def _large_options(param: ScaleParam) -> str:
    """What to do about a large but correct gradient; a parameterization already in use is
    not offered again."""
    reparam = ("parameterize scale as softplus(rho) or exp(log_scale) (the raw gradient is "
               "then about scale times smaller), " if param is ScaleParam.SCALE else "")
    return (f"{reparam}put a lower bound on scale ({_bounded(param)}), or clip gradients "
            "(torch.nn.utils.clip_grad_norm_)")
