"""Precision sweep: where a low dtype breaks, and whether a huge gradient is wrong or just huge.

Four jobs, each returning frozen data and never printing:

* `sweep_normal` maps `Normal.log_prob` and its gradients over sigma x z, z = |x - loc| / sigma,
  in a low dtype against float64, one batched call per dtype (per chunk of rows; the default
  grid is one chunk).
* `check_point` evaluates one (loc, scale, x) in both dtypes and says in words what it means.
* `sweep_mvn` maps `MultivariateNormal` over the covariance condition number for the
  `covariance_matrix`, `scale_tril` and `precision_matrix` parameterizations.
* `check_spec` evaluates each side of a spec (`gaussdiag compare`'s format) in the low dtype
  against the same side in float64, says which side keeps more digits in each quantity, and
  recommends a side on accuracy and cost (see `recommend` for the rules).

References. For `Normal` the reference is float64 evaluated at the *low-dtype-rounded* inputs
(sigma, or the raw parameter, and x are first cast to the low dtype, then back to float64).
That separates the error of evaluating in the low dtype from the rounding of the inputs, which
no evaluation can undo; `check_point` reports the input rounding separately. Where the rounded
input is not finite (1e12 in float16) the exact input is used, so the cell reads as overflow.
For `MultivariateNormal` the vectors (loc, x) are rounded the same way but the matrix is not:
each parameterization rounds a *different* matrix, and what that rounding does is exactly what
the comparison is for. The MVN reference is the closed form computed from the eigen
decomposition the matrices were built from, so it needs no float64 factorization either.

Digits of agreement are -log10(|low - ref| / |ref|), capped at the dtype's precision
(`precision_digits`, 7.2 for float32) and floored at 0; matrix gradients use Frobenius norms.

Cell classes, first match wins:

1. `factorization-failed` (MVN only): the low-dtype Cholesky of the matrix torch factorizes
   reports an error (`torch.linalg.cholesky_ex` info != 0): a positive definite matrix that
   round-off made indefinite.
2. `undefined`: sigma <= 0 as the low dtype holds it, or no finite float64 reference.
3. `overflow`: not finite in the low dtype, finite in float64 (includes intermediates that
   overflow while the result would fit, and a sigma that underflows to 0).
4. `inaccurate`: |low - ref| > tolerance (see `TOLERANCES`) times |ref|.
5. `large-but-correct`: accurate, and |ref| >= `LARGE_MAGNITUDE`: the explosion is mathematics,
   not round-off.
6. `accurate`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple

from typing_extensions import assert_never

from gaussdiag.errors import UsageError
from gaussdiag.limits import DEFAULT_MAX_ELEMENTS
from gaussdiag.results import SideCost
from gaussdiag.tolerance import EPS
from gaussdiag.vocab import DType, Mode, ScaleParam, SideName, SweepDist

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import torch

    from gaussdiag.build import ConstraintFailure, Problem
    from gaussdiag.evaluate import SideRun
    from gaussdiag.spec import LoadedSpec

    FloatArray = npt.NDArray[np.float64]
    BoolArray = npt.NDArray[np.bool_]

# torch and numpy are imported inside the functions that compute: the CLI module imports this
# one for its enums at start-up, and `gaussdiag --help` must not pay for torch.

ProgressCallback = Callable[[int, int], None]
"""Called as `progress(done_cells, total_cells)` after each evaluated chunk."""


class CellClass(str, Enum):
    """The class of one cell of a precision map, in precedence order (first match wins)."""

    FACTORIZATION_FAILED = "factorization-failed"
    UNDEFINED = "undefined"
    OVERFLOW = "overflow"
    INACCURATE = "inaccurate"
    LARGE_BUT_CORRECT = "large-but-correct"
    ACCURATE = "accurate"

    @property
    def is_correct(self) -> bool:
        """Whether the low-dtype value agrees with the reference to the dtype's tolerance."""
        return self in (CellClass.ACCURATE, CellClass.LARGE_BUT_CORRECT)


class MvnParam(str, Enum):
    """The `MultivariateNormal` constructor argument that carries the matrix."""

    COVARIANCE_MATRIX = "covariance_matrix"
    SCALE_TRIL = "scale_tril"
    PRECISION_MATRIX = "precision_matrix"


# ---- tolerances ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tolerance:
    """Relative tolerances in units of `finfo(dtype).eps`.

    `scalar`: a Normal quantity is accurate when |low - ref| <= scalar * eps * |ref|.
    `matrix_per_dim`: an MVN quantity is accurate when the normwise relative error is at most
    matrix_per_dim * dim * eps.
    """

    scalar: float
    matrix_per_dim: float


TOLERANCES: dict[DType, Tolerance] = {
    # log_prob is ~6 rounded operations and each autograd gradient ~8, each within half an ulp;
    # 16 eps (3 bits) leaves room for that chain and a factor-2 amplification in the final
    # subtraction, and no more: a loss of a 4th bit is a real loss of accuracy.
    DType.FLOAT32: Tolerance(scalar=16.0, matrix_per_dim=16.0),
    # Same operation count; CPU half-precision kernels round every intermediate to the storage
    # type just like float32 does, so the budget in ulps is the same.
    DType.FLOAT16: Tolerance(scalar=16.0, matrix_per_dim=16.0),
    # bfloat16 has 8 significand bits; 16 eps would already be 12% and call everything below
    # one digit accurate, so keep 4 eps (2 bits) of the 8.
    DType.BFLOAT16: Tolerance(scalar=4.0, matrix_per_dim=4.0),
}
# Cholesky and triangular solves have backward error bounded by a small multiple of dim * eps
# (Higham, Accuracy and Stability of Numerical Algorithms, thms 8.5 and 10.3); `matrix_per_dim`
# is that multiple. float64 is the reference and never a low dtype: it has no entry.

LARGE_MAGNITUDE = 1e4
"""A value this large is "large": a gradient of 1e4 with a typical learning rate of 1e-3 moves
a parameter by 10 in one step, beyond the scale most parameters live on, so training blows up
although every digit is right. Used only to tell `large-but-correct` from `accurate`."""

CANCELLATION_RATIO = 1e-2
"""An inaccurate cell counts as cancellation when its value is smaller than this fraction of
the terms it is computed from and its absolute error is within tolerance of those terms: the
low dtype did as well as its precision allows, and the lost digits are the conditioning of
the formula (round-off), not a bug."""

MAX_AXIS = 2000
"""Longest grid axis accepted: 2000 x 2000 cells take about 1 GB of float64 intermediates."""

CHUNK_CELLS = 1 << 18
"""Cells per batched call: bounds memory on huge grids and paces the progress callback."""

LOW_DTYPES: tuple[DType, ...] = tuple(TOLERANCES)


def check_low_dtype(dtype: DType) -> None:
    """Reject float64 as the low dtype: it is the reference."""
    if dtype not in TOLERANCES:
        names = ", ".join(d.value for d in LOW_DTYPES)
        raise UsageError(
            f"--dtype {dtype.value}: the reference is float64, so compare a lower precision; "
            f"expected one of {names}"
        )


def check_combination(dist: SweepDist, point: bool, plot: bool) -> None:
    """Reject option combinations that would silently ignore one of the options."""
    if point and dist is not SweepDist.NORMAL:
        raise UsageError(f"--point checks a Normal point; it does not combine with --dist "
                         f"{dist.value} (leave out --point for the {dist.value} sweep)")
    if point and plot:
        raise UsageError("--plot draws a map of a sweep; leave it out with --point")


def precision_digits(dtype: DType) -> float:
    """Decimal digits the dtype can hold: -log10 of half its eps (7.22 for float32)."""
    return -math.log10(_eps(dtype) / 2)


def accurate_digits(dtype: DType, dim: int = 1, *, matrix: bool = False) -> float:
    """The digits threshold equivalent to the tolerance for `dtype`."""
    tol = TOLERANCES[dtype]
    factor = tol.matrix_per_dim * dim if matrix else tol.scalar
    return -math.log10(factor * _eps(dtype))


_MAX = {DType.FLOAT16: 65504.0, DType.BFLOAT16: 3.3895313892515355e38,
        DType.FLOAT32: 3.4028234663852886e38, DType.FLOAT64: 1.7976931348623157e308}


def _eps(dtype: DType) -> float:
    return EPS[dtype]


# ---- grids -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """A log-spaced axis from `lo` to `hi` with `n` points; `zero` prepends 0."""

    option: str
    lo: float
    hi: float
    n: int
    zero: bool = False

    def values(self) -> tuple[float, ...]:
        step = (math.log10(self.hi) - math.log10(self.lo)) / (self.n - 1)
        vals = tuple(10.0 ** (math.log10(self.lo) + i * step) for i in range(self.n))
        # Pin the ends to the exact requested values (10**log10(x) can be off by an ulp).
        vals = (self.lo, *vals[1:-1], self.hi)
        return (0.0, *vals) if self.zero else vals


def make_axis(option: str, lo: float, hi: float, n: int, *, zero: bool = False) -> Axis:
    """Validate one axis; `option` is the option stem named in errors (`--sigma`)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise UsageError(f"{option}-lo/{option}-hi must be finite numbers; found {lo}, {hi}")
    if lo <= 0:
        raise UsageError(
            f"{option}-lo must be > 0 (the axis is log-spaced); found {lo:g}"
            + ("; z = 0 is always included as the first column" if zero else "")
        )
    if lo >= hi:
        raise UsageError(f"{option}-lo must be below {option}-hi; found {lo:g} >= {hi:g}")
    if not 2 <= n <= MAX_AXIS:
        raise UsageError(f"{option}-n must be between 2 and {MAX_AXIS}; found {n}")
    return Axis(option, lo, hi, n, zero)


# ---- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuantityMap:
    """One quantity over the sigma x z grid: rows are sigma, columns z.

    `digits` is NaN where the class is `undefined` or `overflow`; `reference` holds the float64
    values and `conditioned` marks inaccurate cells explained by cancellation.
    """

    name: str
    digits: tuple[tuple[float, ...], ...]
    classes: tuple[tuple[CellClass, ...], ...]
    reference: tuple[tuple[float, ...], ...]
    cancellation: tuple[tuple[bool, ...], ...]


@dataclass(frozen=True)
class Finding:
    """One region of a map, in words. `quantity` is e.g. `grad[scale]` or
    `covariance_matrix: log_prob`; `cells` of `total` cells are in the region."""

    quantity: str
    cell_class: CellClass
    cells: int
    total: int
    text: str


@dataclass(frozen=True)
class NormalSweep:
    """The sigma x z precision map of `Normal.log_prob` and its gradients."""

    dtype: DType
    param: ScaleParam
    sigma: tuple[float, ...]
    z: tuple[float, ...]
    quantities: tuple[QuantityMap, ...]
    findings: tuple[Finding, ...]
    precision_digits: float
    accurate_digits: float
    large: float


@dataclass(frozen=True)
class MvnLine:
    """One quantity of one parameterization over the condition-number axis."""

    param: MvnParam
    name: str
    digits: tuple[float, ...]
    classes: tuple[CellClass, ...]
    reference_norm: tuple[float, ...]


@dataclass(frozen=True)
class MvnSweep:
    """Digits of MultivariateNormal quantities per parameterization and condition number."""

    dtype: DType
    dim: int
    condition: tuple[float, ...]
    lines: tuple[MvnLine, ...]
    # Per parameterization: whether the low-dtype matrix that torch factorizes is itself
    # indefinite once rounded (float64 eigenvalues), at each condition number.
    rounded_indefinite: tuple[tuple[MvnParam, tuple[bool, ...]], ...]
    findings: tuple[Finding, ...]
    precision_digits: float
    accurate_digits: float
    large: float


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


# ---- the Normal kernel -----------------------------------------------------------------------


def _torch_dtype(dtype: DType) -> torch.dtype:
    import torch

    return {DType.FLOAT16: torch.float16, DType.BFLOAT16: torch.bfloat16,
            DType.FLOAT32: torch.float32, DType.FLOAT64: torch.float64}[dtype]


def _raw_from_scale(param: ScaleParam, scale: torch.Tensor) -> torch.Tensor:
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


def _scale_from_raw(param: ScaleParam, raw: torch.Tensor) -> torch.Tensor:
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


class _NormalEval(NamedTuple):
    scale: torch.Tensor
    log_prob: torch.Tensor
    grad_loc: torch.Tensor
    grad_raw: torch.Tensor
    grad_scale: torch.Tensor


def _normal_eval(param: ScaleParam, loc: torch.Tensor, raw: torch.Tensor,
                 x: torch.Tensor) -> _NormalEval:
    """One batched `Normal.log_prob` with gradients, in the dtype of the inputs."""
    import torch

    loc = loc.detach().clone().requires_grad_(True)
    raw = raw.detach().clone().requires_grad_(True)
    scale = _scale_from_raw(param, raw)
    if param is ScaleParam.SCALE:
        scale = scale * 1  # a non-leaf view, so grad[scale] is taken the same way for all
    dist = torch.distributions.Normal(loc, scale, validate_args=False)
    lp = dist.log_prob(x)  # type: ignore[no-untyped-call]
    g_loc, g_raw, g_scale = torch.autograd.grad(lp.sum(), [loc, raw, scale])
    return _NormalEval(scale.detach(), lp.detach(), g_loc, g_raw, g_scale)


@dataclass(frozen=True)
class _Classified:
    digits: FloatArray
    codes: npt.NDArray[np.int8]
    cancellation: BoolArray


_CLASS_ORDER: tuple[CellClass, ...] = tuple(CellClass)


def _classify(err: FloatArray, ref_abs: FloatArray, term: FloatArray, low_finite: BoolArray,
              undefined: BoolArray, failed: BoolArray, dtype: DType,
              tol_eps: float) -> _Classified:
    """Digits and class codes (indices into `CellClass`) from the absolute error, the
    reference's magnitude and the magnitude of the terms it is computed from."""
    import numpy as np

    eps = _eps(dtype)
    cap = precision_digits(dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel = np.where(err == 0, 0.0, err / ref_abs)
        digits = np.clip(-np.log10(np.where(rel == 0, 1e-300, rel)), 0.0, cap)
        accurate = err <= tol_eps * eps * ref_abs
        cancel = (ref_abs < CANCELLATION_RATIO * term) & (err <= tol_eps * eps * term)
    undefined = undefined | ~np.isfinite(ref_abs)
    overflow = ~low_finite
    large = ref_abs >= LARGE_MAGNITUDE
    order = {c: np.int8(i) for i, c in enumerate(_CLASS_ORDER)}
    codes = np.select(
        [failed, undefined, overflow, ~accurate, large],
        [order[CellClass.FACTORIZATION_FAILED], order[CellClass.UNDEFINED],
         order[CellClass.OVERFLOW], order[CellClass.INACCURATE],
         order[CellClass.LARGE_BUT_CORRECT]],
        default=order[CellClass.ACCURATE],
    ).astype(np.int8)
    digits = np.where(failed | undefined | overflow, np.nan, digits)
    return _Classified(digits, codes, cancel & (codes == order[CellClass.INACCURATE]))


def _classify_values(low: FloatArray, ref: FloatArray, term: FloatArray,
                     undefined: BoolArray, dtype: DType, tol_eps: float) -> _Classified:
    """`_classify` for elementwise values (the Normal quantities)."""
    import numpy as np

    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(low - ref)
    return _classify(err, np.abs(ref), term, np.isfinite(low), undefined,
                     np.zeros_like(undefined), dtype, tol_eps)


@dataclass(frozen=True)
class _NormalArrays:
    """Float64 numpy arrays of one batched Normal comparison (any shape)."""

    names: tuple[str, ...]
    low: tuple[FloatArray, ...]
    ref: tuple[FloatArray, ...]
    term: tuple[FloatArray, ...]
    undefined: BoolArray
    scale_low: FloatArray


def _normal_compare(param: ScaleParam, dtype: DType, loc64: torch.Tensor,
                    scale64: torch.Tensor, x64: torch.Tensor, *,
                    rounded_reference: bool = True, with_scale_grad: bool = False
                    ) -> _NormalArrays:
    """Evaluate at the exact float64 inputs cast to `dtype`, and in float64 at the rounded
    inputs (or, with `rounded_reference=False`, at the exact ones)."""
    import torch

    tdt = _torch_dtype(dtype)
    raw64 = _raw_from_scale(param, scale64)
    lo_loc, lo_raw, lo_x = loc64.to(tdt), raw64.to(tdt), x64.to(tdt)

    def back(rounded: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
        if not rounded_reference:
            return exact
        r = rounded.to(torch.float64)
        return torch.where(torch.isfinite(r), r, exact)

    r_loc, r_raw, r_x = back(lo_loc, loc64), back(lo_raw, raw64), back(lo_x, x64)
    low = _normal_eval(param, lo_loc, lo_raw, lo_x)
    ref = _normal_eval(param, r_loc, r_raw, r_x)
    # The size of the terms each value is computed from (for the cancellation test).
    d2 = (r_x - r_loc) ** 2
    s = ref.scale
    t_lp = d2 / (2 * s**2) + torch.log(s).abs() + 0.5 * math.log(2 * math.pi)
    t_loc = (r_x - r_loc).abs() / s**2
    t_scale = (d2 + s**2) / s**3
    t_raw = t_scale * _dscale_draw(param, r_raw).abs()
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
    return _NormalArrays(tuple(names), tuple(np64(v) for v in lows),
                         tuple(np64(v) for v in refs), tuple(np64(v) for v in terms),
                         undefined, np64(low.scale))


def sweep_normal(dtype: DType, param: ScaleParam, sigma: Axis, z: Axis, *,
                 progress: ProgressCallback | None = None) -> NormalSweep:
    """Map Normal log_prob, grad[loc] and grad[raw] over sigma x z, loc = 0 and x = z * sigma
    (so x - loc is exact and the map isolates the evaluation error)."""
    import numpy as np
    import torch

    check_low_dtype(dtype)
    sig_vals, z_vals = sigma.values(), z.values()
    s_ax = torch.tensor(sig_vals, dtype=torch.float64)
    z_ax = torch.tensor(z_vals, dtype=torch.float64)
    n_s, n_z = len(sig_vals), len(z_vals)
    rows_per_chunk = max(1, CHUNK_CELLS // n_z)
    parts: list[_NormalArrays] = []
    total = n_s * n_z
    for start in range(0, n_s, rows_per_chunk):
        s_rows = s_ax[start:start + rows_per_chunk]
        S, Z = torch.meshgrid(s_rows, z_ax, indexing="ij")
        parts.append(_normal_compare(param, dtype, torch.zeros_like(S), S, Z * S))
        if progress is not None:
            progress(min(total, (start + rows_per_chunk) * n_z), total)
    tol = TOLERANCES[dtype].scalar
    undefined = np.concatenate([p.undefined for p in parts])
    maps: list[QuantityMap] = []
    for q, name in enumerate(parts[0].names):
        low = np.concatenate([p.low[q] for p in parts])
        ref = np.concatenate([p.ref[q] for p in parts])
        term = np.concatenate([p.term[q] for p in parts])
        c = _classify_values(low, ref, term, undefined, dtype, tol)
        maps.append(QuantityMap(
            name=name,
            digits=_grid(c.digits),
            classes=tuple(tuple(_CLASS_ORDER[k] for k in row) for row in c.codes.tolist()),
            reference=_grid(ref),
            cancellation=tuple(tuple(bool(v) for v in row) for row in c.cancellation.tolist()),
        ))
    result_maps = tuple(maps)
    return NormalSweep(
        dtype=dtype, param=param, sigma=sig_vals, z=z_vals, quantities=result_maps,
        findings=normal_findings(dtype, sig_vals, z_vals, result_maps),
        precision_digits=precision_digits(dtype), accurate_digits=accurate_digits(dtype),
        large=LARGE_MAGNITUDE,
    )


def _grid(a: FloatArray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in row) for row in a.tolist())


# ---- findings --------------------------------------------------------------------------------


def fmt(v: float) -> str:
    """A short number for sentences: 1e-12, 2.5e19, 0.01, 1000."""
    if v == 0 or not math.isfinite(v):
        return str(v) if not math.isfinite(v) else "0"
    a = abs(v)
    if 1e-3 <= a < 1e4:
        return f"{v:.4g}"
    mant, exp = f"{v:.1e}".split("e")
    mant = mant.rstrip("0").rstrip(".")
    return f"{mant}e{int(exp)}"


_CLASS_PHRASES = {
    CellClass.UNDEFINED: "is undefined",
    CellClass.OVERFLOW: "overflows",
    CellClass.INACCURATE: "is inaccurate",
    CellClass.LARGE_BUT_CORRECT: "is large but correct",
    CellClass.FACTORIZATION_FAILED: "fails to factorize",
    CellClass.ACCURATE: "is accurate",
}

_FINDING_CLASSES = (CellClass.UNDEFINED, CellClass.OVERFLOW, CellClass.INACCURATE,
                    CellClass.LARGE_BUT_CORRECT)


def _interval(row: Sequence[bool]) -> tuple[int, int, int]:
    """First and last true index of `row` and how many false cells lie between them."""
    idx = [j for j, v in enumerate(row) if v]
    return idx[0], idx[-1], idx[-1] - idx[0] + 1 - len(idx)


# A region is described as a band of z per sigma row when the gaps inside the rows' spans are
# at most this fraction of the region (a stray cell of another class does not hide the band).
_BAND_GAP_FRACTION = 0.1


def describe_region(mask: Sequence[Sequence[bool]], sigma: Sequence[float],
                    z: Sequence[float]) -> str:
    """Words for a set of cells of a sigma x z grid (rows sigma, columns z)."""
    rows = [i for i, r in enumerate(mask) if any(r)]
    cells = sum(sum(r) for r in mask)
    if len(rows) == len(mask):
        where = ""
    elif rows == list(range(rows[0], rows[-1] + 1)):
        where = (f" at sigma = {fmt(sigma[rows[0]])}" if len(rows) == 1 else
                 f" for sigma in [{fmt(sigma[rows[0]])}, {fmt(sigma[rows[-1]])}]")
    else:
        where = f" at {len(rows)} of {len(mask)} sigma values"
    spans = [_interval(mask[i]) for i in rows]
    gaps = sum(g for _, _, g in spans)
    if gaps > _BAND_GAP_FRACTION * cells:
        cols = [j for j in range(len(z)) if any(r[j] for r in mask)]
        return (f"in {cells} scattered cells (sigma {fmt(sigma[rows[0]])} to "
                f"{fmt(sigma[rows[-1]])}, z {fmt(z[cols[0]])} to {fmt(z[cols[-1]])})")
    gap_note = f", except {gaps} cells" if gaps else ""
    last = len(z) - 1
    lows = [z[a] for a, _, _ in spans]
    highs = [z[b] for _, b, _ in spans]

    def edge(vals: list[float], op: str) -> str:
        if len(set(vals)) == 1:
            return f"z {op} {fmt(vals[0])}"
        i_lo = min(range(len(vals)), key=vals.__getitem__)
        i_hi = max(range(len(vals)), key=vals.__getitem__)
        return (f"z {op} {fmt(vals[i_lo])} at sigma = {fmt(sigma[rows[i_lo]])}, up to "
                f"z {op} {fmt(vals[i_hi])} at sigma = {fmt(sigma[rows[i_hi]])}")

    if all(a == 0 for a, _, _ in spans) and all(b == last for _, b, _ in spans):
        return "for every z" + where + gap_note
    if all(b == last for _, b, _ in spans):
        return "for " + edge(lows, ">=") + where + gap_note
    if all(a == 0 for a, _, _ in spans):
        return "for " + edge(highs, "<=") + where + gap_note
    if len(set(lows)) == 1 and len(set(highs)) == 1:
        if lows[0] == highs[0]:
            return f"at z = {fmt(lows[0])}" + where + gap_note
        return f"for z in [{fmt(lows[0])}, {fmt(highs[0])}]" + where + gap_note
    def span(vals: list[float]) -> str:
        lo, hi = min(vals), max(vals)
        return fmt(lo) if lo == hi else f"{fmt(lo)}..{fmt(hi)}"

    moving = ("edges depend" if len(set(lows)) > 1 and len(set(highs)) > 1 else
              "lower edge depends" if len(set(lows)) > 1 else "upper edge depends")
    return (f"for z from {span(lows)} up to {span(highs)} ({moving} on sigma)" + where
            + gap_note)


def normal_findings(dtype: DType, sigma: Sequence[float], z: Sequence[float],
                    maps: Sequence[QuantityMap]) -> tuple[Finding, ...]:
    """Name each non-accurate region of each quantity in words."""
    out: list[Finding] = []
    total = len(sigma) * len(z)
    low_max = _MAX[dtype]
    for qm in maps:
        any_finding = False
        for cls in _FINDING_CLASSES:
            mask = [[c is cls for c in row] for row in qm.classes]
            cells = sum(sum(r) for r in mask)
            if not cells:
                continue
            any_finding = True
            text = f"{dtype.value} {qm.name} {_CLASS_PHRASES[cls]} " + describe_region(
                mask, sigma, z)
            vals = [abs(qm.reference[i][j]) for i, r in enumerate(mask)
                    for j, m in enumerate(r) if m]
            if cls is CellClass.OVERFLOW:
                fits = sum(v <= low_max for v in vals)
                if fits == cells:
                    text += (f"; the value itself fits in {dtype.value} (at most "
                             f"{fmt(max(vals))}): an intermediate overflows or sigma "
                             "underflows to 0")
                elif fits == 0:
                    text += f"; the value itself exceeds {dtype.value}'s max {fmt(low_max)}"
                else:
                    text += (f"; at {fits} of these cells the value itself would fit in "
                             f"{dtype.value} (an intermediate overflows)")
            elif cls is CellClass.INACCURATE:
                canc = sum(qm.cancellation[i][j] for i, r in enumerate(mask)
                           for j, m in enumerate(r) if m)
                worst = min(qm.digits[i][j] for i, r in enumerate(mask)
                            for j, m in enumerate(r) if m)
                text += f" (down to {worst:.1f} digits)"
                if canc == cells:
                    text += ("; all by cancellation: the value is much smaller than the terms "
                             "it is computed from, and the error is round-off in those terms")
                elif canc:
                    text += (f"; {canc} of these cells by cancellation, {cells - canc} lose "
                             "more than cancellation explains")
            elif cls is CellClass.LARGE_BUT_CORRECT:
                text += (f"; |value| from {fmt(min(vals))} to {fmt(max(vals))}, every digit "
                         "right: the size is mathematics, not round-off")
            out.append(Finding(qm.name, cls, cells, total, text))
        if not any_finding:
            out.append(Finding(qm.name, CellClass.ACCURATE, total, total,
                               f"{dtype.value} {qm.name} is accurate and moderate in every "
                               "cell"))
    return tuple(out)


# ---- a single point --------------------------------------------------------------------------

_POINT_KEYS = ("loc", "x", "scale", "rho", "log_scale")


def parse_point(text: str, param: ScaleParam) -> PointSpec:
    """Parse `loc=0,scale=0.01,x=10`. `scale` may be replaced by the raw parameter of
    `param` (`rho` for softplus, `log_scale` for log). loc defaults to 0."""
    values: dict[str, float] = {}
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        key, sep, val = piece.partition("=")
        key = key.strip()
        if not sep:
            raise UsageError(f"--point: expected key=value, found {piece!r} "
                             "(example: --point loc=0,scale=0.01,x=10)")
        if key not in _POINT_KEYS:
            import difflib

            close = difflib.get_close_matches(key, _POINT_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"--point: unknown key {key!r}{hint}; expected "
                             f"{', '.join(_POINT_KEYS)}")
        if key in values:
            raise UsageError(f"--point: {key!r} given twice")
        try:
            num = float(val)
        except ValueError:
            raise UsageError(f"--point: {key}={val.strip()!r} is not a number") from None
        if not math.isfinite(num):
            raise UsageError(f"--point: {key} must be finite; found {val.strip()}")
        values[key] = num
    if "x" not in values:
        raise UsageError("--point: x is missing (example: --point loc=0,scale=0.01,x=10)")
    given = [k for k in ("scale", "rho", "log_scale") if k in values]
    if len(given) != 1:
        raise UsageError(f"--point: give exactly one of scale, {param.raw_name}"
                         if param is not ScaleParam.SCALE else
                         "--point: scale is missing (example: --point loc=0,scale=0.01,x=10)")
    key = given[0]
    if key != "scale" and key != param.raw_name:
        raise UsageError(f"--point: {key}= needs --param "
                         f"{'softplus' if key == 'rho' else 'log'} (found --param "
                         f"{param.value})")
    return PointSpec(loc=values.get("loc", 0.0), x=values["x"], raw_key=key, raw=values[key])


def _point_scale(spec: PointSpec, param: ScaleParam) -> float:
    import torch

    if spec.raw_key == "scale":
        return spec.raw
    return float(_scale_from_raw(param, torch.tensor(spec.raw, dtype=torch.float64)))


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
    ev = _normal_eval(ScaleParam.SCALE, loc, sc, torch.tensor(spec.x, dtype=torch.float64))
    return TorchBehavior(error, (("log_prob", float(ev.log_prob)),
                                 ("grad[loc]", float(ev.grad_loc)),
                                 ("grad[scale]", float(ev.grad_scale))))


def check_point(dtype: DType, param: ScaleParam, spec: PointSpec) -> PointResult:
    """Every quantity at one point in both dtypes, its digits, class and advice."""
    import torch

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
        s64 = _scale_from_raw(param_eval, torch.tensor([spec.raw], dtype=torch.float64))
    arr = _normal_compare(param_eval, dtype, loc64, s64, x64, with_scale_grad=True)
    exact = _normal_compare(param_eval, dtype, loc64, s64, x64, with_scale_grad=True,
                            rounded_reference=False)
    tdt = _torch_dtype(dtype)
    raw64 = _raw_from_scale(param_eval, s64)
    rounded: tuple[tuple[str, float], ...] = (
        ("loc", float(loc64.to(tdt)[0])), ("x", float(x64.to(tdt)[0])),
        (param_eval.raw_name, float(raw64.to(tdt)[0])),
    )
    if param_eval is not ScaleParam.SCALE:
        rounded += (("scale", float(arr.scale_low[0])),)
    tol = TOLERANCES[dtype].scalar
    quantities: list[PointQuantity] = []
    for q, name in enumerate(arr.names):
        c = _classify_values(arr.low[q], arr.ref[q], arr.term[q], arr.undefined, dtype, tol)
        ce = _classify_values(exact.low[q], exact.ref[q], exact.term[q], exact.undefined,
                              dtype, tol)
        quantities.append(PointQuantity(
            name=name, low=float(arr.low[q][0]), reference=float(arr.ref[q][0]),
            reference_exact=float(exact.ref[q][0]), digits=float(c.digits[0]),
            digits_exact=float(ce.digits[0]), cell_class=_CLASS_ORDER[int(c.codes[0])],
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
            "Keep scale positive by construction: scale = softplus(rho) or exp(log_scale), "
            "plus a lower bound (scale = 1e-3 + softplus(rho)) if it must not collapse."
        )
        return tuple(out)
    if by_class[CellClass.OVERFLOW]:
        names = ", ".join(q.name for q in by_class[CellClass.OVERFLOW])
        fits = [q.name for q in by_class[CellClass.OVERFLOW] if abs(q.reference) <= _MAX[dtype]]
        why = (f"the values themselves fit in {d}, so an intermediate (such as (x - loc)^2 or "
               "1/scale^2) overflowed" if fits else
               f"the values exceed {d}'s largest number {fmt(_MAX[dtype])}")
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
            f"(z = |x - loc|/scale = {fmt(z)}). Options: parameterize scale as softplus(rho) "
            "or exp(log_scale) (the raw gradient is then about scale times smaller), put a "
            "lower bound on scale (scale = 1e-3 + softplus(rho)), or clip gradients "
            "(torch.nn.utils.clip_grad_norm_)."
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


# ---- the MVN sweep ---------------------------------------------------------------------------

MVN_SEED = 20240607
"""Seed of the orthogonal basis and the standard-normal draw: the matrices are the same on
every run and every machine (the generator is torch's CPU Philox-free Mersenne Twister)."""


@dataclass(frozen=True)
class _MvnCase:
    q: torch.Tensor      # (N, N) orthogonal basis
    eigs: torch.Tensor   # (C, N) eigenvalues, from 1 down to 1/cond
    u: torch.Tensor      # (N,) standard-normal draw: x - loc = Q sqrt(eigs) u
    cov: torch.Tensor    # (C, N, N)
    prec: torch.Tensor
    tril: torch.Tensor
    tril_q: torch.Tensor  # (C, N, N) with tril^-1 = tril_q^T diag(eigs^-1/2) Q^T


def mvn_matrices(dim: int, condition: Sequence[float]) -> _MvnCase:
    """SPD matrices Q diag(eigs) Q^T in float64 with the given condition numbers, their
    inverses and Cholesky factors, all from the same eigen decomposition."""
    import torch

    g = torch.Generator().manual_seed(MVN_SEED)
    q, _ = torch.linalg.qr(torch.randn(dim, dim, dtype=torch.float64, generator=g))
    u = torch.randn(dim, dtype=torch.float64, generator=g)
    frac = torch.linspace(0.0, 1.0, dim, dtype=torch.float64) if dim > 1 else torch.zeros(1,
                                                                        dtype=torch.float64)
    logc = torch.log10(torch.tensor(condition, dtype=torch.float64))
    eigs = 10.0 ** (-logc.unsqueeze(-1) * frac)
    cov = q @ torch.diag_embed(eigs) @ q.T
    prec = q @ torch.diag_embed(1 / eigs) @ q.T
    # Cholesky factor without a factorization that could fail: QR of diag(sqrt eigs) Q^T.
    qq, r = torch.linalg.qr(torch.diag_embed(eigs.sqrt()) @ q.T)
    sign = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
    tril = (r * sign.unsqueeze(-1)).mT
    tril_q = qq * sign.unsqueeze(-2)
    return _MvnCase(q, eigs, u, cov, prec, tril, tril_q)


def _mvn_reference(case: _MvnCase, r: torch.Tensor) -> dict[str, torch.Tensor]:
    """Closed forms in float64 from the eigen decomposition, at residual r = x - loc."""
    import torch

    q, eigs = case.q, case.eigs
    y = r @ q                                   # (C, N): Q^T r
    maha = (y**2 / eigs).sum(-1)
    n = eigs.shape[-1]
    lp = -0.5 * maha - 0.5 * torch.log(eigs).sum(-1) - 0.5 * n * math.log(2 * math.pi)
    w = (y / eigs) @ q.T                        # Sigma^-1 r
    v = ((y / eigs.sqrt()).unsqueeze(-2) @ case.tril_q).squeeze(-2)  # tril^-1 r
    ww = w.unsqueeze(-1) * w.unsqueeze(-2)
    diag_l = torch.diagonal(case.tril, dim1=-2, dim2=-1)
    return {
        "log_prob": lp,
        "grad[loc]": w,
        "grad[covariance_matrix]": 0.5 * (ww - case.prec),
        "grad[precision_matrix]": 0.5 * (case.cov - r.unsqueeze(-1) * r.unsqueeze(-2)),
        "grad[scale_tril]": torch.tril(w.unsqueeze(-1) * v.unsqueeze(-2))
        - torch.diag_embed(1 / diag_l),
    }


def _factorized(param: MvnParam, m: torch.Tensor) -> torch.Tensor:
    """The matrix torch factorizes for this parameterization (None for scale_tril)."""
    # MultivariateNormal factorizes covariance_matrix directly and precision_matrix flipped
    # (torch.distributions.multivariate_normal._precision_to_scale_tril).
    return m.flip(-2, -1) if param is MvnParam.PRECISION_MATRIX else m


def sweep_mvn(dtype: DType, dim: int, condition: Axis, *,
              progress: ProgressCallback | None = None) -> MvnSweep:
    """Digits of log_prob, grad[loc] and grad[matrix] for each parameterization over the
    condition number; factorization failures detected with `cholesky_ex` first, then the
    rest of the batch evaluated by `MultivariateNormal` itself."""
    import numpy as np
    import torch

    check_low_dtype(dtype)
    if not 1 <= dim <= 64:
        raise UsageError(f"--dim must be between 1 and 64; found {dim}")
    conds = condition.values()
    case = mvn_matrices(dim, conds)
    tdt = _torch_dtype(dtype)
    n_c = len(conds)
    r64 = (case.u * case.eigs.sqrt()) @ case.q.T            # (C, N): Q sqrt(eigs) u
    loc_low = torch.zeros(n_c, dim, dtype=tdt)
    x_low = r64.to(tdt)
    ref = _mvn_reference(case, x_low.to(torch.float64))     # reference at the rounded x
    tol = TOLERANCES[dtype].matrix_per_dim * dim
    mats = {MvnParam.COVARIANCE_MATRIX: case.cov, MvnParam.SCALE_TRIL: case.tril,
            MvnParam.PRECISION_MATRIX: case.prec}
    lines: list[MvnLine] = []
    indefinite: list[tuple[MvnParam, tuple[bool, ...]]] = []
    for k, param in enumerate(MvnParam):
        m_low = mats[param].to(tdt)
        if param is MvnParam.SCALE_TRIL:
            failed = torch.diagonal(m_low, dim1=-2, dim2=-1).le(0).any(-1)
            indef = failed.clone()
        else:
            fact = _factorized(param, m_low)
            failed = torch.linalg.cholesky_ex(fact.float()).info.ne(0) if tdt in (
                torch.float16, torch.bfloat16) else torch.linalg.cholesky_ex(fact).info.ne(0)
            indef = torch.linalg.eigvalsh(fact.to(torch.float64))[..., 0].le(0)
        eye = torch.eye(dim, dtype=tdt).expand_as(m_low)
        safe = torch.where(failed.view(-1, 1, 1), eye, m_low)
        leaf = safe.clone().requires_grad_(True)
        loc = loc_low.clone().requires_grad_(True)
        kwargs = {param.value: _upcast_half(leaf)}
        dist = torch.distributions.MultivariateNormal(_upcast_half(loc), validate_args=False,
                                                      **kwargs)
        lp = dist.log_prob(_upcast_half(x_low))  # type: ignore[no-untyped-call]
        g_loc, g_m = torch.autograd.grad(lp.sum(), [loc, leaf])
        lows = {"log_prob": lp.detach(), "grad[loc]": g_loc,
                f"grad[{param.value}]": g_m}
        failed_np = failed.numpy()
        for name, low in lows.items():
            rf = ref[name]
            lo64 = low.to(torch.float64)
            if rf.dim() == 1:
                err, size = (lo64 - rf).abs(), rf.abs()
                finite = torch.isfinite(lo64)
            else:
                dims = tuple(range(1, rf.dim()))
                finite = torch.isfinite(lo64).flatten(1).all(-1)
                err = torch.linalg.vector_norm(lo64 - rf, dim=dims)
                size = torch.linalg.vector_norm(rf, dim=dims)
            c = _classify(err.numpy(), size.numpy(), size.numpy(), finite.numpy(),
                          np.zeros(n_c, dtype=bool), failed_np, dtype, tol)
            lines.append(MvnLine(
                param=param, name=name,
                digits=tuple(float(v) for v in c.digits.tolist()),
                classes=tuple(_CLASS_ORDER[i] for i in c.codes.tolist()),
                reference_norm=tuple(float(v) for v in size.tolist()),
            ))
        indefinite.append((param, tuple(bool(v) for v in indef.tolist())))
        if progress is not None:
            progress(k + 1, len(MvnParam))
    result_lines = tuple(lines)
    return MvnSweep(
        dtype=dtype, dim=dim, condition=conds, lines=result_lines,
        rounded_indefinite=tuple(indefinite),
        findings=mvn_findings(dtype, conds, result_lines, tuple(indefinite)),
        precision_digits=precision_digits(dtype),
        accurate_digits=accurate_digits(dtype, dim, matrix=True), large=LARGE_MAGNITUDE,
    )


def _digits_per_decade(condition: Sequence[float], digits: Sequence[float],
                       cap: float) -> float | None:
    """Least-squares slope of digits lost against log10(condition), using only cells that
    are neither capped nor floored (those carry no slope); None with fewer than 3."""
    pts = [(math.log10(c), v) for c, v in zip(condition, digits, strict=True)
           if not math.isnan(v) and 0.3 < v < cap - 0.3]
    if len(pts) < 3:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return None
    return -sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx


def _upcast_half(t: torch.Tensor) -> torch.Tensor:
    """CPU has no half-precision Cholesky or triangular solve: torch users on CPU must store
    half matrices and compute in float32, so that is what is measured (the input rounding
    is the half-precision part)."""
    import torch

    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def mvn_findings(dtype: DType, condition: Sequence[float], lines: Sequence[MvnLine],
                 indefinite: Sequence[tuple[MvnParam, tuple[bool, ...]]]
                 ) -> tuple[Finding, ...]:
    """Per parameterization: where the factorization fails, where each quantity loses digits,
    and which parameterization holds up best."""
    d = dtype.value
    n = len(condition)
    out: list[Finding] = []
    indef = dict(indefinite)
    score: dict[MvnParam, float] = {}
    for param in MvnParam:
        mine = [ln for ln in lines if ln.param is param]
        failed = [i for i, c in enumerate(mine[0].classes) if c is CellClass.FACTORIZATION_FAILED]
        if failed:
            rounded = sum(indef[param][i] for i in failed)
            matrix = ("covariance_matrix" if param is MvnParam.COVARIANCE_MATRIX
                      else "precision_matrix (torch factorizes it flipped)")
            why = (f"; at {rounded} of them the {d}-rounded matrix is itself indefinite, at "
                   f"{len(failed) - rounded} it is positive definite and the {d} Cholesky's "
                   "own round-off breaks it") if 0 < rounded < len(failed) else (
                f"; the {d}-rounded matrix is itself indefinite there" if rounded else
                f"; the {d}-rounded matrix is still positive definite: the {d} Cholesky's "
                "own round-off breaks it")
            out.append(Finding(
                f"{param.value}", CellClass.FACTORIZATION_FAILED, len(failed), n,
                f"{d} Cholesky of {matrix} fails at {len(failed)} of {n} condition numbers, "
                f"first at cond = {fmt(condition[failed[0]])}" + why,
            ))
        bad_total = len(failed)
        for ln in mine:
            for cls in (CellClass.OVERFLOW, CellClass.INACCURATE):
                idx = [i for i, c in enumerate(ln.classes) if c is cls]
                if not idx:
                    continue
                bad_total += len(idx)
                out.append(Finding(
                    f"{param.value}: {ln.name}", cls, len(idx), n,
                    f"{param.value}: {d} {ln.name} {_CLASS_PHRASES[cls]} at {len(idx)} of {n} "
                    f"condition numbers, first at cond = {fmt(condition[idx[0]])}"
                    + (f" (worst {min(ln.digits[i] for i in idx):.1f} digits)"
                       if cls is CellClass.INACCURATE else ""),
                ))
        flat = [0.0 if math.isnan(v) else v for ln in mine for v in ln.digits]
        score[param] = sum(flat) / len(flat)
        slope = _digits_per_decade(condition, mine[0].digits, precision_digits(dtype))
        if slope is not None:
            out.append(Finding(
                f"{param.value}: log_prob", CellClass.INACCURATE,
                sum(c is CellClass.INACCURATE for c in mine[0].classes), n,
                f"{param.value}: {d} log_prob loses about {slope:.2f} digits per decade of "
                "condition number where it evaluates",
            ))
        if bad_total == 0:
            worst = min(v for ln in mine for v in ln.digits)
            out.append(Finding(
                f"{param.value}", CellClass.ACCURATE, n, n,
                f"{param.value}: every quantity evaluates and is accurate at every condition "
                f"number up to {fmt(condition[-1])} (worst {worst:.1f} digits)",
            ))
    best = max(MvnParam, key=lambda p: score[p])
    fails = {p: any(c is CellClass.FACTORIZATION_FAILED for ln in lines if ln.param is p
                    for c in ln.classes) for p in MvnParam}
    text = (f"most robust in {d}: {best.value} (mean {score[best]:.1f} digits over all "
            "quantities and condition numbers, counting a failed factorization as 0)")
    if best is MvnParam.SCALE_TRIL and not fails[best]:
        text += (": it is never factorized in the low dtype, so no round-off can make a "
                 "Cholesky fail, and its condition number is the square root of the "
                 "covariance's, so rounding it perturbs the distribution less")
    out.append(Finding(best.value, CellClass.ACCURATE, n, n, text))
    return tuple(out)


# ---- a spec's two sides ----------------------------------------------------------------------


class Better(str, Enum):
    """Which side of a spec keeps more low-dtype digits of one quantity."""

    A = "a"
    B = "b"
    TIE = "tie"
    NEITHER = "neither"


TIE_DIGITS = 0.3
"""Two sides tie on a quantity when their digits differ by at most this: 0.3 digits is a
factor of 2 in the error, about what the order of a reduction alone can change."""

COST_RATIO = 1.25
"""A side is cheaper only when the other takes at least this many times its time (or memory):
the best of `TIMING_REPEATS` timings of a small spec still varies by 10-20% between runs."""

TIMING_REPEATS = 5
"""Low-dtype runs per side for the cost; the fastest counts, the others carry scheduling noise
(other processes, thread-pool wake-ups: single runs of a small spec vary 10x on a busy
machine) rather than work the formulation does."""

SWEEP_OPTIONS = ("--dist", "--param", "--point", "--sigma-lo", "--sigma-hi", "--sigma-n",
                 "--z-lo", "--z-hi", "--z-n", "--dim", "--cond-hi", "--cond-n", "--quick",
                 "--plot")
"""Options that shape the built-in sweeps and mean nothing for a spec."""

SPEC_OPTIONS = ("--device", "--max-elements")
"""Options that apply to SPEC files only (the sweeps run on the CPU with fixed sizes)."""


def check_form(with_specs: bool, given: Sequence[str]) -> None:
    """Reject options of the other form of `precision-check` (`given`: the options the user
    typed) instead of silently ignoring them."""
    if with_specs:
        bad = [o for o in SWEEP_OPTIONS if o in given]
        if bad:
            raise UsageError(f"{', '.join(bad)} {'shapes' if len(bad) == 1 else 'shape'} the "
                             "built-in sweep; with SPEC files precision-check compares the "
                             f"spec's two sides instead: leave out {', '.join(bad)}")
        return
    bad = [o for o in SPEC_OPTIONS if o in given]
    if bad:
        raise UsageError(f"{', '.join(bad)} {'applies' if len(bad) == 1 else 'apply'} to SPEC "
                         "files; the built-in sweep runs on the CPU (give a SPEC file, or leave "
                         f"out {', '.join(bad)})")


@dataclass(frozen=True)
class SideQuantity:
    """One quantity of one side: the digits of its low-dtype result that agree with the same
    side's float64 result (NaN where one of them has no finite value) and its class."""

    name: str
    digits: float
    cell_class: CellClass
    magnitude: float
    """max |float64 value| (NaN where the side does not evaluate)."""


@dataclass(frozen=True)
class SidePrecision:
    """One side of a spec in the low dtype against itself in float64."""

    side: SideName
    label: str
    quantities: tuple[SideQuantity, ...]
    cost: SideCost | None
    """The fastest low-dtype forward + backward; None when the side fails in the low dtype."""
    failed_in: str | None = None
    """Where the side breaks a constraint (`float64`, or the low dtype only); None when it
    evaluates."""
    failure: str | None = None
    """torch's message for the broken constraint, with the offending value where known."""
    fix: str | None = None

    @property
    def complete(self) -> bool:
        """Every quantity has digits (nothing undefined or overflowing)."""
        return all(not math.isnan(q.digits) for q in self.quantities)

    @property
    def worst(self) -> float:
        """The fewest digits over the quantities (NaN unless `complete`)."""
        if not self.complete or not self.quantities:
            return math.nan
        return min(q.digits for q in self.quantities)

    @property
    def all_correct(self) -> bool:
        return all(q.cell_class.is_correct for q in self.quantities)


@dataclass(frozen=True)
class Recommendation:
    """The side to use (None: neither, or either) and why, in one sentence."""

    side: SideName | None
    text: str


@dataclass(frozen=True)
class SpecPrecision:
    """Both sides of a spec in the low dtype against their own float64 results."""

    file: str
    name: str
    dtype: DType
    mode: Mode
    device: str
    sides: tuple[SidePrecision, SidePrecision]
    better: tuple[tuple[str, Better], ...]
    recommendation: Recommendation
    precision_digits: float
    accurate_digits: float

    def side(self, name: SideName) -> SidePrecision:
        return self.sides[0] if name is SideName.A else self.sides[1]


def check_spec(loaded: LoadedSpec, dtype: DType, *, device: str | None = None,
               max_elements: int = DEFAULT_MAX_ELEMENTS,
               repeats: int = TIMING_REPEATS) -> SpecPrecision:
    """Evaluate each side of `loaded` in `dtype` and in float64 at the spec's point (log_prob
    and train specs: log_prob at the starting point; rsample specs: the draws) and compare
    each side's value and every gradient with its own float64 result.

    Digits are -log10 of the normwise relative error max|low - ref| / max(max|low|, max|ref|),
    floored at 0 and capped at `precision_digits(dtype)`. A quantity is accurate within
    `TOLERANCES[dtype].scalar` eps; classes as in the sweeps: undefined (the side breaks a
    constraint, has no gradient for the param, or no finite float64 value), overflow,
    inaccurate, large-but-correct, accurate. Random noise (normal and uniform) is drawn in
    float64 and rounded to the low dtype, so both runs of a side map the same noise.

    Raises DeviceError for an absent device and SpecError for a spec that fails to build.
    """
    from gaussdiag.build import Problem
    from gaussdiag.errors import DeviceError

    check_low_dtype(dtype)
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, found {repeats}")
    try:
        problem = Problem(loaded, device=device, max_elements=max_elements)
    except DeviceError as err:
        raise DeviceError(str(loaded.device_error(err, device))) from None
    a, b = _with_costs(problem, [_side_precision(problem, s, dtype) for s in SideName], dtype,
                       repeats)
    better = tuple((qa.name, compare_digits(qa.digits, qb.digits))
                   for qa, qb in zip(a.quantities, b.quantities, strict=True))
    devices = sorted({str(problem.side_devices[s]) for s in SideName})
    return SpecPrecision(
        file=loaded.file, name=loaded.spec.name, dtype=dtype, mode=loaded.spec.mode,
        device=", ".join(devices), sides=(a, b), better=better,
        recommendation=recommend(a, b, better, dtype),
        precision_digits=precision_digits(dtype), accurate_digits=accurate_digits(dtype),
    )


def _value_name(mode: Mode) -> str:
    if mode is Mode.RSAMPLE:
        return "draws"
    if mode is Mode.LOG_PROB or mode is Mode.TRAIN:
        return "log_prob"
    assert_never(mode)


def _side_precision(problem: Problem, side: SideName, dtype: DType) -> SidePrecision:
    """The side's quantities; its cost is filled in by `_with_costs`."""
    from gaussdiag.build import ConstraintFailure

    spec = problem.spec
    label = spec.side(side).display(side)
    names = [_value_name(spec.mode), *(f"grad[{n}]" for n in problem.grad_names)]
    try:
        ref = _run(problem, side, DType.FLOAT64)
    except ConstraintFailure as err:
        return _failed(side, label, names, "float64", err)
    try:
        with _float64_noise():
            low = _run(problem, side, dtype)
    except ConstraintFailure as err:
        return _failed(side, label, names, f"{dtype.value} only (float64 evaluates)", err)
    pairs = [(low.value, ref.value),
             *((low.grads.get(n), ref.grads.get(n)) for n in problem.grad_names)]
    quantities = tuple(_side_quantity(name, lo, rf, dtype)
                       for name, (lo, rf) in zip(names, pairs, strict=True))
    return SidePrecision(side, label, quantities, None)


def _with_costs(problem: Problem, sides: Sequence[SidePrecision], dtype: DType,
                repeats: int) -> tuple[SidePrecision, SidePrecision]:
    """Time the sides that evaluate, alternating a, b, a, b, ... so both meet the same load
    on the machine, and keep each side's fastest run. Timed without the noise hook, whose
    Python dispatch would be charged to the side."""
    from dataclasses import replace

    best: dict[SideName, SideRun] = {}
    for _ in range(repeats):
        for s in sides:
            if s.failed_in is None:
                run = _run(problem, s.side, dtype)
                if s.side not in best or run.seconds < best[s.side].seconds:
                    best[s.side] = run
    out = [replace(s, cost=SideCost(s.side, dtype, best[s.side].seconds,
                                    best[s.side].memory_bytes, best[s.side].memory_kind))
           if s.side in best else s for s in sides]
    return out[0], out[1]


def _run(problem: Problem, side: SideName, dtype: DType) -> SideRun:
    from gaussdiag.errors import SpecError
    from gaussdiag.evaluate import run_side

    try:
        return run_side(problem, side, dtype)
    except SpecError as err:
        if dtype in (DType.FLOAT16, DType.BFLOAT16):
            raise SpecError(err.file, f"{err.message} (in {dtype.value}: torch may lack this "
                            "operation here; try --dtype float32)", key=err.key,
                            line=err.line, col=err.col) from None
        raise


def _failed(side: SideName, label: str, names: Sequence[str], where: str,
            err: ConstraintFailure) -> SidePrecision:
    what = err.message.rstrip(": ") + (f"; {err.detail}" if err.detail else "")
    quantities = tuple(SideQuantity(n, math.nan, CellClass.UNDEFINED, math.nan) for n in names)
    return SidePrecision(side, label, quantities, None, where, what, err.fix)


def _side_quantity(name: str, low: torch.Tensor | None, ref: torch.Tensor | None,
                   dtype: DType) -> SideQuantity:
    """Digits and class of one low-dtype tensor against the same side's float64 tensor."""
    import torch

    from gaussdiag.attribute import normwise

    if low is None or ref is None:  # no gradient reaches this param on this side
        return SideQuantity(name, math.nan, CellClass.UNDEFINED, math.nan)
    ref64 = ref.detach().double()
    magnitude = float(ref64.abs().max()) if ref64.numel() else 0.0
    if not bool(torch.isfinite(ref64).all()):
        return SideQuantity(name, math.nan, CellClass.UNDEFINED, magnitude)
    if not bool(torch.isfinite(low).all()):
        return SideQuantity(name, math.nan, CellClass.OVERFLOW, magnitude)
    rel = normwise(low, ref64)
    cap = precision_digits(dtype)
    digits = cap if rel == 0 else min(cap, max(0.0, -math.log10(rel)))
    if rel > TOLERANCES[dtype].scalar * _eps(dtype):
        cls = CellClass.INACCURATE
    elif magnitude >= LARGE_MAGNITUDE:
        cls = CellClass.LARGE_BUT_CORRECT
    else:
        cls = CellClass.ACCURATE
    return SideQuantity(name, digits, cls, magnitude)


def compare_digits(a: float, b: float) -> Better:
    """The side with more digits, `tie` within `TIE_DIGITS`; a quantity a side cannot give
    (NaN digits: undefined or overflow) loses to one it can; `neither` when both lack it."""
    if math.isnan(a) and math.isnan(b):
        return Better.NEITHER
    if math.isnan(a) or math.isnan(b):
        return Better.B if math.isnan(a) else Better.A
    if abs(a - b) <= TIE_DIGITS:
        return Better.TIE
    return Better.A if a > b else Better.B


def _ratio(x: float | None, y: float | None) -> float | None:
    """x / y for costs; None when either is unknown, inf when only y is 0."""
    if x is None or y is None:
        return None
    if y == 0:
        return 1.0 if x == 0 else math.inf
    return x / y


def _cost_phrase(me: SidePrecision, other: SidePrecision) -> tuple[bool | None, str]:
    """Whether `me` is clearly cheaper (True), clearly dearer (False) or neither (None) than
    `other`, time first then memory, and the words for it."""
    if me.cost is None or other.cost is None:
        return None, ""
    o = other.side.value
    t = _ratio(me.cost.seconds, other.cost.seconds)
    m = _ratio(me.cost.memory_bytes, other.cost.memory_bytes)
    if t is not None and t >= COST_RATIO:
        return False, f"{t:.1f}x the time of {o}"
    if t is not None and t <= 1 / COST_RATIO:
        return True, f"{1 / t:.1f}x faster than {o}" if t > 0 else f"faster than {o}"
    if m is not None and m >= COST_RATIO:
        return False, (f"{m:.1f}x the memory of {o}" if math.isfinite(m) else
                       f"more memory than {o}") + " at about the same time"
    if m is not None and m <= 1 / COST_RATIO:
        return True, (f"{1 / m:.1f}x less memory than {o}" if m > 0 else
                      f"less memory than {o}") + " at about the same time"
    return None, f"about the same cost as {o}"


def recommend(a: SidePrecision, b: SidePrecision, better: Sequence[tuple[str, Better]],
              dtype: DType) -> Recommendation:
    """One side on accuracy and cost. Rules, first match wins:

    1. Neither side gives every quantity in the low dtype: no recommendation.
    2. One side gives every quantity and the other does not (a broken constraint, an
       overflow, a missing gradient): the one that does.
    3. Both keep every quantity accurate: accuracy is a wash, so the clearly cheaper side
       (time by `COST_RATIO`, then memory), else the one with more digits in its worst
       quantity, else either.
    4. Otherwise the side with more digits in its worst quantity (beyond `TIE_DIGITS`), then
       the side that keeps more digits in more quantities, then the cheaper side, else either.
    """
    d = dtype.value
    if not a.complete and not b.complete:
        return Recommendation(None, f"neither side gives every quantity in {d}: "
                              + "; ".join(_incomplete(s) for s in (a, b)))
    if a.complete != b.complete:
        good, bad = (a, b) if a.complete else (b, a)
        return Recommendation(good.side, f"use {good.side.value}: {_incomplete(bad)}")
    gap = a.worst - b.worst
    lead = SideName.A if gap > 0 else SideName.B
    if a.all_correct and b.all_correct:
        cheap, words = _cost_phrase(a, b)
        if cheap is not None:
            pick, other = (a, b) if cheap else (b, a)
            _, words = _cost_phrase(pick, other)
            return Recommendation(pick.side, f"use {pick.side.value}: both keep every quantity "
                                  f"accurate in {d}, and {pick.side.value} costs less "
                                  f"({words})")
        if abs(gap) > TIE_DIGITS:
            return Recommendation(lead, f"use {lead.value}: both keep every quantity accurate "
                                  f"in {d} at about the same cost; {lead.value} keeps "
                                  f"{abs(gap):.1f} more digits in its worst quantity")
        return Recommendation(None, f"either: both keep every quantity accurate in {d}, at "
                              "about the same cost")
    if abs(gap) > TIE_DIGITS:
        pick = a if lead is SideName.A else b
        other = b if pick is a else a
        return Recommendation(lead, f"use {lead.value}: its worst quantity keeps "
                              f"{pick.worst:.1f} digits in {d}, {other.side.value}'s "
                              f"{other.worst:.1f}" + _cost_tail(pick, other))
    wins = {s: sum(v is Better(s.value) for _, v in better) for s in SideName}
    if wins[SideName.A] != wins[SideName.B]:
        side = max(SideName, key=wins.__getitem__)
        pick = a if side is SideName.A else b
        other = b if pick is a else a
        return Recommendation(side, f"use {side.value}: it keeps more digits in "
                              f"{wins[side]} of {len(better)} quantities "
                              f"({other.side.value} in {wins[other.side]})"
                              + _cost_tail(pick, other))
    cheap, _ = _cost_phrase(a, b)
    if cheap is not None:
        pick, other = (a, b) if cheap else (b, a)
        _, words = _cost_phrase(pick, other)
        return Recommendation(pick.side, f"use {pick.side.value}: the sides keep about as "
                              f"many digits in {d}, and {pick.side.value} costs less "
                              f"({words})")
    return Recommendation(None, f"either: the sides keep about as many digits in {d}, at "
                          "about the same cost")


def _cost_tail(pick: SidePrecision, other: SidePrecision) -> str:
    cheap, words = _cost_phrase(pick, other)
    if cheap is None:
        return f", at {words}" if words else ""
    return f", and it is also cheaper ({words})" if cheap else f", at {words}"


_LOST_WHY = {CellClass.UNDEFINED: "no gradient, or no finite float64 value",
             CellClass.OVERFLOW: "overflows"}


def _incomplete(side: SidePrecision) -> str:
    if side.failed_in is not None:
        return f"{side.side.value} breaks a constraint in {side.failed_in}"
    lost = [f"{q.name} ({_LOST_WHY.get(q.cell_class, q.cell_class.value)})"
            for q in side.quantities if math.isnan(q.digits)]
    return f"{side.side.value} loses " + ", ".join(lost)


@contextmanager
def _float64_noise() -> Iterator[None]:
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
