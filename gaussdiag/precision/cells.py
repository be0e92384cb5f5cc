"""Cells of a precision map: their classes, the digits threshold, the classification over
whole arrays, and the log-spaced axes the maps are drawn on.

Cell classes, first match wins:

1. `factorization-failed` (MVN only): the low-dtype Cholesky of the matrix torch factorizes
   reports an error (`torch.linalg.cholesky_ex` info != 0): a positive definite matrix that
   round-off made indefinite.
2. `undefined`: sigma <= 0 as the low dtype holds it, or no finite float64 reference.
3. `overflow`: not finite in the low dtype, finite in float64 (includes intermediates that
   overflow while the result would fit, and a sigma that underflows to 0).
4. `inaccurate`: |low - ref| > `tolerance.cell_tol` times |ref|.
5. `large-but-correct`: accurate, and |ref| >= `LARGE_MAGNITUDE`: the explosion is mathematics,
   not round-off.
6. `accurate`.

Digits of agreement are -log10(|low - ref| / |ref|), capped at the dtype's precision
(`precision_digits`, 7.2 for float32) and floored at 0; matrix gradients use Frobenius norms.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gaussdiag.errors import UsageError
from gaussdiag.tolerance import (
    CANCELLATION_RATIO,
    CELL_FACTOR,
    LARGE_MAGNITUDE,
    cell_tol,
    precision_digits,
)
from gaussdiag.vocab import DType, Vocab

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    BoolArray = npt.NDArray[np.bool_]
    CodeArray = npt.NDArray[np.int8]

# numpy is imported inside the functions that compute: the CLI imports this package for its
# enums at start-up, and `gaussdiag --help` must not pay for it.

ProgressCallback = Callable[[int, int], None]
"""Called as `progress(done_cells, total_cells)` after each evaluated chunk."""


class CellClass(Vocab):
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

    @property
    def code(self) -> int:
        """The cell's code in the int8 class arrays: its index in `CELL_CLASSES`."""
        return CELL_CLASSES.index(self)


CELL_CLASSES: tuple[CellClass, ...] = tuple(CellClass)
"""Class codes: `CELL_CLASSES[code]` is the class of a cell with that code."""

MAX_AXIS = 2000
"""Longest grid axis accepted: 2000 x 2000 cells take about 1 GB of float64 intermediates."""

LOW_DTYPES: tuple[DType, ...] = tuple(CELL_FACTOR)


class InputError(UsageError):
    """A bad input to a precision check, in the core's own terms.

    `fields` are the names of the inputs involved (`sigma_lo`, `dim`, `point`, ...) and
    `template` the message with `{0}`, `{1}`, ... where each is named; `str()` names them as
    they are, and a front end rewords them with `worded` (the CLI with its option names)."""

    def __init__(self, template: str, *fields: str) -> None:
        self.template = template
        self.fields = fields
        super().__init__(template.format(*fields))

    def worded(self, name: Callable[[str], str] | Mapping[str, str]) -> str:
        lookup = name.__getitem__ if isinstance(name, Mapping) else name
        return self.template.format(*(lookup(f) for f in self.fields))


def check_low_dtype(dtype: DType) -> None:
    """Reject float64 as the low dtype: it is the reference."""
    if dtype not in CELL_FACTOR:
        names = ", ".join(d.value for d in LOW_DTYPES)
        raise InputError(f"{{0}} {dtype.value}: the reference is float64, so compare a lower "
                         f"precision; expected one of {names}", "dtype")


# ---- classification over whole arrays ----------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Classified:
    """Digits (NaN where there is no value to compare) and class codes of a batch of cells,
    and which inaccurate cells the cancellation test explains."""

    digits: FloatArray
    codes: CodeArray
    cancellation: BoolArray


def classify(err: FloatArray, ref_abs: FloatArray, term: FloatArray, low_finite: BoolArray,
             undefined: BoolArray, failed: BoolArray, dtype: DType, tol: float) -> Classified:
    """Digits and class codes from the absolute error, the reference's magnitude and the
    magnitude of the terms it is computed from; `tol` is the relative tolerance."""
    import numpy as np
    import torch

    cap = precision_digits(dtype)
    # In place, a handful of passes over the batch: this runs once per cell of a 1e6 map.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        digits = np.divide(err, ref_abs)
        np.putmask(digits, err == 0, 0.0)
        # torch's vectorized log10 is about twice numpy's on the CPUs measured; in place, on
        # the same memory.
        torch.from_numpy(digits).log10_()
        np.negative(digits, out=digits)        # -log10(0) = inf: clipped to the cap below
        np.clip(digits, 0.0, cap, out=digits)  # keeps -log10(1) = -0.0 as the JSON has it
        tol_ref = tol * ref_abs
        accurate = err <= tol_ref
        cancel = ref_abs < CANCELLATION_RATIO * term
        cancel &= err <= tol * term
    undefined = undefined | ~np.isfinite(ref_abs)
    overflow = ~low_finite
    # Assigned in reverse precedence, so the first matching class of the list wins.
    codes = np.full(err.shape, CellClass.ACCURATE.code, dtype=np.int8)
    np.putmask(codes, ref_abs >= LARGE_MAGNITUDE, CellClass.LARGE_BUT_CORRECT.code)
    np.putmask(codes, ~accurate, CellClass.INACCURATE.code)
    np.putmask(codes, overflow, CellClass.OVERFLOW.code)
    np.putmask(codes, undefined, CellClass.UNDEFINED.code)
    np.putmask(codes, failed, CellClass.FACTORIZATION_FAILED.code)
    np.putmask(digits, failed | undefined | overflow, np.nan)
    cancel &= codes == CellClass.INACCURATE.code
    return Classified(digits, codes, cancel)


def classify_values(low: FloatArray, ref: FloatArray, term: FloatArray,
                    undefined: BoolArray, dtype: DType) -> Classified:
    """`classify` for elementwise values (the Normal quantities)."""
    import numpy as np

    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(low - ref)
    return classify(err, np.abs(ref), term, np.isfinite(low), undefined,
                    np.zeros_like(undefined), dtype, cell_tol(dtype))


# ---- grids -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """A log-spaced axis named `name` from `lo` to `hi` with `n` points; `zero` prepends 0."""

    name: str
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


def make_axis(name: str, lo: float, hi: float, n: int, *, zero: bool = False) -> Axis:
    """Validate one axis. Errors name its inputs `{name}_lo`, `{name}_hi` and `{name}_n`."""
    f_lo, f_hi, f_n = f"{name}_lo", f"{name}_hi", f"{name}_n"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InputError(f"{{0}}/{{1}} must be finite numbers; found {lo}, {hi}", f_lo, f_hi)
    if lo <= 0:
        raise InputError(
            f"{{0}} must be > 0 (the axis is log-spaced); found {lo:g}"
            + ("; z = 0 is always included as the first column" if zero else ""), f_lo)
    if lo >= hi:
        raise InputError(f"{{0}} must be below {{1}}; found {lo:g} >= {hi:g}", f_lo, f_hi)
    if not 2 <= n <= MAX_AXIS:
        raise InputError(f"{{0}} must be between 2 and {MAX_AXIS}; found {n}", f_n)
    return Axis(name, lo, hi, n, zero)


@dataclass(frozen=True, eq=False)
class QuantityMap:
    """One quantity over the sigma x z grid, as (sigma, z) arrays: rows are sigma, columns z.

    `digits` is NaN where the class is `undefined` or `overflow`; `codes` are class codes
    (`CELL_CLASSES[code]`); `reference` holds the float64 values and `cancellation` marks
    inaccurate cells explained by cancellation. Treat the arrays as read-only.
    """

    name: str
    digits: FloatArray
    codes: CodeArray
    reference: FloatArray
    cancellation: BoolArray

    def cell_class(self, i: int, j: int) -> CellClass:
        return CELL_CLASSES[int(self.codes[i, j])]

    @property
    def classes(self) -> tuple[tuple[CellClass, ...], ...]:
        """Every cell's class as nested tuples (one Python object per cell: for small grids
        and tests; renderers use `codes`)."""
        return tuple(tuple(CELL_CLASSES[k] for k in row) for row in self.codes.tolist())
