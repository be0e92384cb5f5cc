"""The terminal maps of precision-check, laid out to the console's width: each cell's digits
and class mark, the Normal heat map (rows of scale by columns of z) and the MVN grid (rows of
parameterization and quantity by columns of condition number), and `Either`, a table where
it fits and a list of lines where it does not.

The maps are renderables that read the width rich gives them (`COLUMNS`, the terminal's, or
precision-check's own default in a pipe): a map wider than that shows every k-th column,
and says so, rather than spill past the edge.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Span, Text

from gaussdiag.numbers import sentence as fmt
from gaussdiag.precision.cells import CELL_CLASSES, CellClass, QuantityMap
from gaussdiag.precision.mvn import MvnSweep

MAX_MAP_AXIS = 40
"""Longest axis drawn in the terminal; bigger grids are shown every k-th row/column (the JSON
and the plot keep every cell)."""

ROW_LABEL = 9
"""Columns of a heat map row's scale label (`   1e-12 `)."""

# Cell marks: the digit shows how many digits agree; the mark after it the class.
MARKS = {
    CellClass.ACCURATE: " ",
    CellClass.LARGE_BUT_CORRECT: "+",
    CellClass.INACCURATE: "!",
}
SYMBOLS = {
    CellClass.OVERFLOW: "X",
    CellClass.UNDEFINED: "-",
    CellClass.FACTORIZATION_FAILED: "F",
}
CLASS_STYLES = {
    CellClass.OVERFLOW: "bold white on magenta",
    CellClass.UNDEFINED: "white on grey37",
    CellClass.FACTORIZATION_FAILED: "bold white on dark_magenta",
}


def digit_style(digits: float, accurate: float, cap: float) -> str:
    """Background by digits: green at or above the accurate threshold, then yellow for at
    least half the dtype's digits, orange for at least one, red below."""
    if digits >= accurate:
        return "black on green3"
    if digits >= cap / 2:
        return "black on yellow3"
    if digits >= 1:
        return "black on dark_orange"
    return "bold white on red3"


def cell(digits: float, cls: CellClass, accurate: float, cap: float) -> tuple[str, str]:
    if cls in SYMBOLS:
        return f" {SYMBOLS[cls]} ", CLASS_STYLES[cls]
    return f"{int(digits):>2}{MARKS[cls]}", digit_style(digits, accurate, cap)


def append_cells(t: Text, cells: Iterable[tuple[str, str]], pad: int) -> None:
    """Append one row of styled cells, each after `pad` spaces, as one piece of text whose
    runs of a style are one span: a drawn map has thousands of cells, and rich's cost is per
    span."""
    parts: list[str] = []
    spans: list[Span] = []
    at = 0
    for text, style in cells:
        parts.append(" " * pad + text)
        start, at = at + pad, at + pad + len(text)
        if spans and spans[-1].style == style and spans[-1].end == start:
            spans[-1] = Span(spans[-1].start, at, style)
        else:
            spans.append(Span(start, at, style))
    t.append_text(Text("".join(parts), spans=spans))


def exp_label(v: float) -> str:
    if v == 0:
        return "=0"
    e = math.log10(v)
    return f"{e:.0f}" if abs(e - round(e)) < 1e-9 else f"{e:.1f}"


def columns(values: Sequence[float], room: int) -> tuple[list[int], list[str], int]:
    """The columns drawn (every k-th, k as small as lets them fit in `room` characters, and at
    most `MAX_MAP_AXIS` of them), their labels and the width of a column."""
    stride = max(1, math.ceil(len(values) / MAX_MAP_AXIS))
    while True:
        cols = list(range(0, len(values), stride))
        labels = [exp_label(values[j]) for j in cols]
        width = max(3, *(len(lab) + 1 for lab in labels))
        if len(cols) * width <= room or len(cols) == 1:
            return cols, labels, width
        stride += 1


def ordinal(k: int) -> str:
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


class HeatMap:
    """One quantity of a Normal map as rows of sigma (top: smallest) by columns of z."""

    def __init__(self, qm: QuantityMap, sigma: Sequence[float], z: Sequence[float],
                 accurate: float, cap: float) -> None:
        self.qm, self.sigma, self.z, self.accurate, self.cap = qm, sigma, z, accurate, cap

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        rs = max(1, math.ceil(len(self.sigma) / MAX_MAP_AXIS))
        cols, labels, width = columns(self.z, options.max_width - ROW_LABEL)
        cs = cols[1] - cols[0] if len(cols) > 1 else 1
        rows = range(0, len(self.sigma), rs)
        sub = []
        if rs > 1:
            sub.append(f"every {ordinal(rs)} scale")
        if cs > 1:
            sub.append(f"every {ordinal(cs)} z")
        head = Text()
        head.append(self.qm.name, "bold")
        head.append(f"  (rows: scale; columns: log10 z, '=0' is z = 0"
                    f"{'; ' + ' and '.join(sub) if sub else ''})")
        yield head
        t = Text(no_wrap=True, overflow="crop")
        t.append(" " * ROW_LABEL + "".join(f"{lab:>{width}}" for lab in labels) + "\n")
        # Only the cells drawn become Python objects (at most MAX_MAP_AXIS^2 of them).
        digits = self.qm.digits[::rs, cols].tolist()
        codes = self.qm.codes[::rs, cols].tolist()
        for row, i in enumerate(rows):
            t.append(f"{fmt(self.sigma[i]):>8} ")
            append_cells(t, (cell(d, CELL_CLASSES[k], self.accurate, self.cap)
                             for d, k in zip(digits[row], codes[row], strict=True)), width - 3)
            t.append("\n")
        yield t


class MvnGrid:
    """Digits per parameterization and quantity (rows) over the condition number (columns):
    `param quantity` labels where they fit, else a line per parameterization with its
    quantities indented under it; every k-th condition number where even that is too wide."""

    def __init__(self, result: MvnSweep) -> None:
        self.result = result

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        r = self.result
        flat_w = max(len(f"{ln.param.value} {ln.name}") for ln in r.lines) + 1
        nested_w = max(len(ln.name) for ln in r.lines) + 3
        cols, labels, width = columns(r.condition, options.max_width - flat_w)
        nested = len(cols) < len(r.condition)
        if nested:
            cols, labels, width = columns(r.condition, options.max_width - nested_w)
        name_w = nested_w if nested else flat_w
        t = Text(no_wrap=True, overflow="crop")
        if len(cols) < len(r.condition):
            t.append(f"every {ordinal(cols[1] - cols[0])} condition number\n")
        t.append(" " * name_w + "".join(f"{lab:>{width}}" for lab in labels) + "\n")
        last = None
        for ln in r.lines:
            if nested and ln.param is not last:
                t.append(ln.param.value + "\n")
            last = ln.param
            label = f"  {ln.name}" if nested else f"{ln.param.value} {ln.name}"
            t.append(f"{label:<{name_w}}")
            append_cells(t, (cell(ln.digits[j], ln.classes[j], r.accurate_digits,
                                  r.precision_digits) for j in cols), width - 3)
            t.append("\n")
        yield t


PROSE_MIN = 30
"""Least width of a table column of sentences: narrower, a finding reads a word a line, and
the list form reads better."""


class Either:
    """`wide` (a table whose wrapping columns can narrow) where its least width fits the
    console, else `narrow` (the same content as lines that wrap). A no_wrap column counts
    at its full width: rich measures only the words of a cell, and would cut the rest."""

    def __init__(self, wide: Table, narrow: RenderableType) -> None:
        for column in wide.columns:
            if column.no_wrap:
                column.min_width = max(cell_len(str(c)) for c in (column.header, *column.cells))
            else:
                column.min_width = PROSE_MIN
        self.wide, self.narrow = wide, narrow

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        need = Measurement.get(console, options.update_width(1 << 16), self.wide).minimum
        yield self.wide if need <= options.max_width else self.narrow
