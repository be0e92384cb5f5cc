"""The compact JSON of precision-check's per-cell grids, written with whole-array operations.

A million-cell map written as one float and one class name per cell made a 163 MB file and
took most of the run's time building a Python object per cell. Here a grid is:

- `digits`: one row per sigma, each cell's digits rounded to 0.1 as a JSON number, or null
  where there are none (the class says why): `[ 7.2, 6.9,null]`;
- `class`: one string per sigma, one letter per cell, the letter's class in `CLASS_KEY`
  (also in the document, as `class_key`): `"aaaallio"`.

Both are plain JSON that any reader loads. The rows are made as byte arrays from lookup
tables (numpy), and `dumps` splices them into the document's text in place of placeholders.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gaussdiag.precision.cells import CELL_CLASSES, CellClass

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

CLASS_LETTERS: dict[CellClass, str] = {
    CellClass.ACCURATE: "a",
    CellClass.LARGE_BUT_CORRECT: "l",
    CellClass.INACCURATE: "i",
    CellClass.OVERFLOW: "o",
    CellClass.UNDEFINED: "u",
    CellClass.FACTORIZATION_FAILED: "f",
}
"""One letter per cell class in the grids' `class` strings."""

CLASS_KEY: dict[str, str] = {letter: cls.value for cls, letter in CLASS_LETTERS.items()}
"""Letter -> class name: the key the documents carry as `class_key`."""

DIGITS_STEP = 0.1
"""Grid digits are rounded to this: the tables show one decimal, and the class (not the
digits) says whether a cell is accurate."""

_TOKEN = 4
"""Bytes of one digits cell: `d.d` after a space, or `null` (digits stay below 10: the low
dtypes hold at most 7.2)."""


def round_digits(v: float) -> float | None:
    """A cell's digits as the grids hold them (None for NaN)."""
    return None if v != v else round(v, 1)


def class_string(classes: tuple[CellClass, ...] | list[CellClass]) -> str:
    return "".join(CLASS_LETTERS[c] for c in classes)


class Grid:
    """A grid to be written by `dumps`: `digits` (float, NaN where none) or `codes` (class
    codes, int8), one row per sigma."""

    def __init__(self, *, digits: npt.NDArray[np.float64] | None = None,
                 codes: npt.NDArray[np.int8] | None = None) -> None:
        self.digits, self.codes = digits, codes

    def rows(self) -> list[bytes]:
        """The grid's rows as JSON text, without separators."""
        import numpy as np

        if self.digits is not None:
            cells = _digit_cells(self.digits)
        else:
            assert self.codes is not None
            letters = np.frombuffer("".join(CLASS_LETTERS[c] for c in CELL_CLASSES).encode(),
                                    dtype=np.uint8)
            quote = np.full((self.codes.shape[0], 1), ord('"'), dtype=np.uint8)
            cells = np.concatenate([quote, letters[self.codes], quote], axis=1)
        return [bytes(row) for row in cells]

    def loaded(self) -> list[Any]:
        """The grid as the lists its text loads to."""
        out: list[Any] = json.loads(b"[" + b",".join(self.rows()) + b"]")
        return out


def _digit_cells(digits: npt.NDArray[np.float64]) -> npt.NDArray[np.uint8]:
    """`[ 7.2, 6.9,null]` per row: one fixed-width token per cell from a lookup table."""
    import numpy as np

    top = int(np.nanmax(digits, initial=0.0) / DIGITS_STEP + 0.5)
    if top > 99:
        raise ValueError("grid digits must stay below 10")
    table = [f" {k // 10}.{k % 10}," for k in range(top + 1)] + ["null,"]
    lut = np.frombuffer("".join(table).encode(), dtype=np.uint8).reshape(-1, _TOKEN + 1)
    with np.errstate(invalid="ignore"):
        idx = np.rint(digits / DIGITS_STEP)
    idx = np.where(np.isnan(idx), top + 1, idx).astype(np.intp)
    n_rows, n_cols = digits.shape
    body = lut[idx].reshape(n_rows, n_cols * (_TOKEN + 1))
    body[:, -1] = ord("]")  # the last cell's comma closes the row
    return np.concatenate([np.full((n_rows, 1), ord("["), dtype=np.uint8), body], axis=1)


def dumps(obj: Mapping[str, Any], grids: Mapping[str, Grid]) -> str:
    """`obj` as indented JSON, with each placeholder string named in `grids` replaced by that
    grid: one row a line, indented under its key."""
    text = json.dumps(obj, indent=2, allow_nan=False)
    for name, grid in grids.items():
        quoted = json.dumps(name)
        at = text.index(quoted)
        line = text[text.rindex("\n", 0, at) + 1:at]
        indent = len(line) - len(line.lstrip(" "))
        sep = b",\n" + b" " * (indent + 2)
        body = sep.join(grid.rows()).decode("ascii")
        text = (f"{text[:at]}[\n{' ' * (indent + 2)}{body}\n{' ' * indent}]"
                f"{text[at + len(quoted):]}")
    return text + "\n"
