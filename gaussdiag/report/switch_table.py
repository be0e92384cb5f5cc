"""The terminal report's switch checks: one section per side and switch (the quantities, the
verdict, its words), and their rows of the summary and the cost table. Pure, as table.py."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from gaussdiag.numbers import number, size
from gaussdiag.printable import printable
from gaussdiag.report.prose import Prose
from gaussdiag.report.quantity_table import NUMBER_WIDTH, Fit, quantity_table, verdict_text
from gaussdiag.report.status import check_word
from gaussdiag.results import Quantity, SpecReport, SwitchCheck, SwitchQuantity
from gaussdiag.vocab import DType


def check_status(c: SwitchCheck) -> Text:
    """The check's verdict, or skipped, or error (the side could not run under the switch)."""
    if c.verdict is not None:
        return verdict_text(c.verdict)
    return Text("skipped", style="yellow") if c.skipped else Text("error", style="bold red")


def switch_section(c: SwitchCheck, dtypes: list[DType]) -> RenderableType:
    """One check: its title, quantities, verdict and words."""
    where = f" · {c.device}" if c.device else ""
    parts: list[RenderableType] = [Text.assemble(("switch ", "bold"),
                                                 (check_word(c, 'title'), "bold"), (where, "dim"))]
    if c.skipped:
        parts.append(Padding(Prose(printable(c.skipped), "skipped: "), (0, 0, 0, 2)))
        return Padding(Group(*parts), (1, 0, 0, 2))
    if c.quantities:
        precision = c.quantities[0].error is not None
        table = (_precision_table(c.quantities) if precision else
                 quantity_table(tuple(_as_quantity(q) for q in c.quantities),
                                [dt for dt in dtypes if dt in c.quantities[0].diff]))
        parts.append(table)
    line = Text.assemble("verdict: ", check_status(c))
    if c.expect is not None:
        line.append(f"  (expected {c.expect.value}: {'ok' if c.ok else 'NOT ok'})")
    parts.append(line)
    words = [("", c.explanation), ("fix: ", c.fix)] + [("note: ", n) for n in c.notes]
    parts += [Padding(Prose(printable(text, multiline=True), label), (0, 0, 0, 2))
              for label, text in words if text]
    return Padding(Group(*parts), (1, 0, 0, 2))


def _as_quantity(q: SwitchQuantity) -> Quantity:
    return Quantity(q.name, q.verdict, q.diff, q.tol, q.shrink, q.persists)


def _precision_table(quantities: tuple[SwitchQuantity, ...]) -> RenderableType:
    """tf32 and autocast: the switched float32 run against float64, against what the switch
    explains on top of the unswitched run's error; a line each where the console is narrow."""
    t = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    t.add_column("quantity", no_wrap=True)
    heads = ("diff float32", "error vs float64", "without switch", "explained")
    for head in heads:
        t.add_column(head, justify="right", no_wrap=True, min_width=NUMBER_WIDTH)
    t.add_column("verdict", no_wrap=True)
    lines: list[RenderableType] = []
    for q in quantities:
        cells = [number(q.diff.get(DType.FLOAT32)), number(q.error), number(q.error_without),
                 number(q.explained)]
        t.add_row(Text(printable(q.name)), *cells, verdict_text(q.verdict))
        lines.append(Text.assemble((printable(q.name), "bold"), ": ", verdict_text(q.verdict)))
        lines.append(Prose(" · ".join(f"{h} {c}" for h, c in zip(heads, cells, strict=True)),
                           style="", label="  "))
    return Fit(t, narrow=Group(*lines))


def cost_rows(report: SpecReport) -> list[tuple[str, list[str]]]:
    """The cost table's rows for the switch checks: each switched run per dtype, then each
    compilation on its own row (it can take longer than everything else): the first call,
    which compiles forward and backward and runs them once."""
    rows = []
    for c in report.switches:
        if c.costs:
            cells = []
            for dt in report.dtypes:
                cost = next((x for x in c.costs if x.dtype is dt), None)
                cells.append("-" if cost is None else
                             f"{cost.seconds * 1e3:.2f} ms, {size(cost.memory_bytes)}")
            rows.append((check_word(c, 'title'), cells))
    for c in report.switches:
        if c.compile_seconds:
            rows.append((f"compiling side {c.side.value} ({c.switch}), first call",
                         [f"{c.compile_seconds[dt]:.2f} s" if dt in c.compile_seconds else "-"
                          for dt in report.dtypes]))
    return rows


def summary_rows(report: SpecReport) -> list[tuple[str, Text, str, bool]]:
    """(label, verdict, expected, ok) of each check, for the summary under its spec's row."""
    return [(f"  {check_word(c, 'title')}", check_status(c),
             c.expect.value if c.expect else "-", c.ok) for c in report.switches]
