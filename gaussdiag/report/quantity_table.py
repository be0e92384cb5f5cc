"""The parts of the terminal report that every table of quantities shares: a verdict in its
colour, the quantities as a table that folds to lines on a narrow console (`Fit`), and the
shrink column. Pure, as table.py."""

from __future__ import annotations

import math

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from gaussdiag.numbers import number
from gaussdiag.printable import printable
from gaussdiag.report.prose import Prose
from gaussdiag.results import Quantity
from gaussdiag.vocab import DType, Verdict

# Colours say how bad a verdict is; the words carry the meaning without colour (NO_COLOR).
STYLE: dict[Verdict, str] = {
    Verdict.AGREE: "green",
    Verdict.ROUND_OFF: "green",
    Verdict.PARAMETERIZATION: "bold yellow",
    Verdict.MISMATCH: "bold red",
    Verdict.NON_FINITE: "bold red",
    Verdict.NO_GRADIENT: "bold red",
    Verdict.INVALID_PARAMETERS: "bold red",
    Verdict.DIFFERENT_DRAWS: "bold yellow",
}


# Verdict columns are at least this wide: a verdict name is never cut ("paramete…").
VERDICT_WIDTH = max(len(v.value) for v in Verdict)
NUMBER_WIDTH = len("-2.50e-08")  # the widest `number` short of a 3-digit exponent


def verdict_text(v: Verdict | None) -> Text:
    if v is None:
        return Text("error", style="bold red")
    return Text(v.value, style=STYLE[v])


def quantity_table(quantities: tuple[Quantity, ...], dtypes: list[DType]) -> RenderableType:
    """The quantities as a table, or, where the console is too narrow for every column at
    its natural width, one line per quantity (a number or a verdict is never cut)."""
    return Fit(_quantity_grid(quantities, dtypes), narrow=_quantity_lines(quantities, dtypes))


def _quantity_grid(quantities: tuple[Quantity, ...], dtypes: list[DType]) -> Table:
    t = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    t.add_column("quantity", no_wrap=True)
    for dt in dtypes:
        t.add_column(f"diff {dt.value}", justify="right", no_wrap=True, min_width=NUMBER_WIDTH)
    t.add_column("shrink", justify="right", no_wrap=True)
    low = dtypes[0] if dtypes else DType.FLOAT64
    t.add_column(f"tol {low.value}", justify="right", no_wrap=True, min_width=NUMBER_WIDTH)
    t.add_column("verdict", no_wrap=True)
    for q in quantities:
        t.add_row(Text(printable(q.name)), *[number(q.diff.get(dt)) for dt in dtypes],
                  shrink_text(q), number(q.tol.get(low)), verdict_text(q.verdict))
    return t


def _quantity_lines(quantities: tuple[Quantity, ...], dtypes: list[DType]) -> RenderableType:
    low = dtypes[0] if dtypes else DType.FLOAT64
    lines: list[RenderableType] = []
    for q in quantities:
        diffs = " · ".join(f"{dt.value} {number(q.diff.get(dt))}" for dt in dtypes)
        lines.append(Text.assemble((printable(q.name), "bold"), ": ", verdict_text(q.verdict)))
        lines.append(Prose(f"diff {diffs} · shrink {shrink_text(q)} · tol {low.value} "
                           f"{number(q.tol.get(low))}", style="", label="  "))
    return Group(*lines)


class Fit:
    """The first of the tables that fits the width at its minimum, else `narrow` (a number
    or a verdict is never cut: their columns do not wrap, so their minimum is their width)."""

    def __init__(self, *tables: Table, narrow: RenderableType) -> None:
        self.tables, self.narrow = tables, narrow

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for table in self.tables:
            # measured unclamped (`Measurement.get` caps what it returns at the width given);
            # every column is no_wrap, so the natural width is the least that cuts nothing
            need = Measurement.get(console, options.update_width(1 << 16), table).maximum
            # the natural header widths too: a header squeezed below them folds mid-word
            headers = sum(len(str(c.header)) for c in table.columns) + 2 * (
                len(table.columns) - 1)
            if max(need, headers) <= options.max_width:
                yield table
                return
        yield self.narrow


def shrink_text(q: Quantity) -> str:
    """How much the diff shrinks from the low dtype to float64."""
    if q.shrink is None:
        return "-"
    return "exact in f64" if math.isinf(q.shrink) else f"{number(q.shrink)}x"

