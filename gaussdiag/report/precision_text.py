"""Terminal renderers of the precision results: rich heat maps and tables, and the progress bar.

Each renderer is a pure function of a frozen result from `gaussdiag.precision`: it computes
nothing new, only lays out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from typing_extensions import assert_never

from gaussdiag.numbers import sentence as fmt
from gaussdiag.precision.cells import CellClass, ProgressCallback
from gaussdiag.precision.findings import Finding
from gaussdiag.precision.mvn import MvnSweep
from gaussdiag.precision.normal import NormalSweep
from gaussdiag.precision.point import PointResult
from gaussdiag.precision.recommend import Better
from gaussdiag.precision.spec_check import SpecPrecision
from gaussdiag.printable import printable
from gaussdiag.report.precision_maps import (
    CLASS_STYLES,
    SYMBOLS,
    Either,
    HeatMap,
    MvnGrid,
    digit_style,
)
from gaussdiag.vocab import Mode

PROGRESS_MIN_CELLS = 50_000
"""Grids smaller than this finish before a progress bar would be worth drawing."""


def legend(accurate: float, cap: float, large: float, dtype: str) -> Text:
    """The key to the cell marks and colors."""
    t = Text()
    t.append("cells: ")
    t.append(" 7 ", digit_style(cap, accurate, cap))
    t.append(f" digits that agree with float64 (>= {accurate:.1f} is accurate; {dtype} "
             f"holds {cap:.1f})  ")
    t.append(" 5 ", digit_style(cap / 2, accurate, cap))
    t.append(" ")
    t.append(" 2 ", digit_style(1, accurate, cap))
    t.append(" ")
    t.append(" 0 ", digit_style(0, accurate, cap))
    t.append(" fewer\n       ")
    t.append("+", "bold")
    t.append(f" large but correct (|value| >= {fmt(large)})   ")
    t.append("!", "bold")
    t.append(" inaccurate   ")
    for cls, word in ((CellClass.OVERFLOW, "overflow (not finite)"),
                      (CellClass.UNDEFINED, "undefined (scale <= 0)")):
        t.append(f" {SYMBOLS[cls]} ", CLASS_STYLES[cls])
        t.append(f" {word}   ")
    return t


def findings_table(findings: Sequence[Finding], *, plain: bool) -> RenderableType:
    """The findings as a table, or where the console is too narrow for it, a finding a few
    lines: its quantity, class and cells, then its words."""
    table = Table(title="findings", box=box.ASCII if plain else box.SIMPLE_HEAD,
                  show_lines=False, expand=False)
    table.add_column("quantity", no_wrap=True)
    table.add_column("class", no_wrap=True)
    table.add_column("cells", justify="right", no_wrap=True)
    table.add_column("finding")
    lines: list[RenderableType] = [Text("findings", style="bold")]
    for f in findings:
        table.add_row(Text(f.quantity), f.cell_class.value, f"{f.cells}/{f.total}", Text(f.text))
        lines += [Text(f"{f.quantity}: {f.cell_class.value}, {f.cells}/{f.total} cells"),
                  Padding(Text(f.text, style="dim"), (0, 0, 0, 2))]
    return Either(table, Group(*lines))


def render_normal(result: NormalSweep, *, plain: bool = False) -> RenderableType:
    """Heat maps of every quantity, the legend and the findings."""
    head = Text(
        f"Normal.log_prob in {result.dtype.value} against float64 at the same "
        f"{result.dtype.value}-rounded inputs; {result.param.formula}; loc = 0, "
        f"x = z * scale ({len(result.sigma)} x {len(result.z)} cells)\n", style="bold")
    parts: list[RenderableType] = [head]
    for qm in result.quantities:
        parts.append(HeatMap(qm, result.sigma, result.z, result.accurate_digits,
                             result.precision_digits))
    parts.append(legend(result.accurate_digits, result.precision_digits, result.large,
                        result.dtype.value))
    parts.append(Text(""))
    parts.append(findings_table(result.findings, plain=plain))
    return Group(*parts)


def render_mvn(result: MvnSweep, *, plain: bool = False) -> RenderableType:
    """Digits per parameterization and quantity (rows) over the condition number (columns)."""
    d = result.dtype.value
    head = Text(
        f"MultivariateNormal (dim {result.dim}) in {d} against the float64 closed form; "
        "columns: log10 of the covariance condition number\n", style="bold")
    key = legend(result.accurate_digits, result.precision_digits, result.large, d)
    key.append(f" {SYMBOLS[CellClass.FACTORIZATION_FAILED]} ",
               CLASS_STYLES[CellClass.FACTORIZATION_FAILED])
    key.append(f" factorization failed ({d} Cholesky)")
    return Group(head, MvnGrid(result), key, Text(""),
                 findings_table(result.findings, plain=plain))


def _num(v: float) -> str:
    return repr(v) if not math.isfinite(v) else f"{v:.9g}"


def render_point(result: PointResult, *, plain: bool = False) -> RenderableType:
    """Every quantity in both dtypes with digits and class, the rounded inputs, the advice."""
    d = result.dtype.value
    s = result.spec
    head = Text(
        f"Normal at loc = {_num(s.loc)}, {s.raw_key} = {_num(s.raw)}, x = {_num(s.x)} "
        f"({result.param.formula}; scale = {_num(result.scale)}, "
        f"z = |x - loc|/scale = {fmt(result.z)})", style="bold")
    rounded = Text("as " + d + " holds the inputs: " + ", ".join(
        f"{k} = {_num(v)}" for k, v in result.rounded))
    table = Table(box=box.ASCII if plain else box.SIMPLE_HEAD)
    table.add_column("quantity", no_wrap=True)
    table.add_column(d, justify="right", no_wrap=True)
    table.add_column("float64", justify="right", no_wrap=True)
    table.add_column("digits", justify="right", no_wrap=True)
    table.add_column("class", no_wrap=True)
    lines: list[RenderableType] = []
    for q in result.quantities:
        digits = "-" if math.isnan(q.digits) else f"{q.digits:.1f}"
        table.add_row(Text(q.name), _num(q.low), _num(q.reference), digits,
                      q.cell_class.value)
        lines += [Text(f"{q.name}: {d} {_num(q.low)}, float64 {_num(q.reference)}"),
                  Text(f"  {digits} digits, {q.cell_class.value}")]
    note = Text(f"digits: agreement with float64 at the same {d}-rounded inputs "
                f"(>= {result.accurate_digits:.1f} is accurate; {d} holds "
                f"{result.precision_digits:.1f})", style="dim")
    advice = [Text("- " + a) for a in result.advice]
    return Group(head, rounded, Either(table, Group(*lines)), note, Text(""),
                 Text("advice", style="bold"), *advice)


# ---- a spec's two sides ----------------------------------------------------------------------


def _digits_cell(digits: float, cls: CellClass, accurate: float, cap: float) -> Text:
    """Digits with one decimal and the class where it is not plain accurate."""
    if math.isnan(digits):
        return Text(cls.value, style=CLASS_STYLES.get(cls, ""))
    text = f"{digits:.1f}" if cls is CellClass.ACCURATE else f"{digits:.1f} {cls.value}"
    return Text(text, style=digit_style(digits, accurate, cap))


def _better_cell(better: Better, a: float, b: float) -> str:
    if better is Better.A or better is Better.B:
        gap = abs(a - b)
        if not math.isfinite(gap):
            return f"{better.value} (only)"
        # two decimals near the tie threshold, so a win never reads as "+0.3"
        return f"{better.value} (+{gap:.2f})" if gap < 1 else f"{better.value} (+{gap:.1f})"
    if better is Better.TIE or better is Better.NEITHER:
        return str(better.value)
    assert_never(better)


def _seconds(v: float) -> str:
    return f"{v * 1e3:.3g} ms" if v < 1 else f"{v:.3g} s"


def _bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"


def _what(mode: Mode) -> str:
    if mode is Mode.LOG_PROB:
        return "log_prob at the spec's point"
    if mode is Mode.RSAMPLE:
        return "the draws (the same noise in both dtypes)"
    if mode is Mode.TRAIN:
        return "log_prob at the starting point of training"
    assert_never(mode)


def render_spec(result: SpecPrecision, *, plain: bool = False) -> RenderableType:
    """The digits of each quantity per side with the better side, the cost table, any broken
    constraint and the recommendation."""
    d = result.dtype.value
    a, b = result.sides
    head = Text(f"{printable(result.name)} ({printable(result.file)}): each side in {d} "
                f"against its own float64, "
                f"{_what(result.mode)}; device {result.device}", style="bold")
    labels = Text("\n".join(f"{s.side.value} = {printable(s.label)}" for s in result.sides))
    table = Table(box=box.ASCII if plain else box.SIMPLE_HEAD)
    table.add_column("quantity", no_wrap=True)
    table.add_column("a digits", justify="right", no_wrap=True)
    table.add_column("b digits", justify="right", no_wrap=True)
    table.add_column("better", no_wrap=True)
    rows: list[RenderableType] = []
    for (name, better), qa, qb in zip(result.better, a.quantities, b.quantities, strict=True):
        ca = _digits_cell(qa.digits, qa.cell_class, result.accurate_digits,
                          result.precision_digits)
        cb = _digits_cell(qb.digits, qb.cell_class, result.accurate_digits,
                          result.precision_digits)
        table.add_row(Text(printable(name)), ca, cb, _better_cell(better, qa.digits, qb.digits))
        rows.append(Text.assemble(f"{printable(name)}: a ", ca, ", b ", cb, "; better: "
                                  + _better_cell(better, qa.digits, qb.digits)))
    note = Text(f"digits: -log10 of the normwise relative error against the same side in "
                f"float64 (>= {result.accurate_digits:.1f} is accurate; {d} holds "
                f"{result.precision_digits:.1f}); better: more digits, tie within 0.3",
                style="dim")
    threads = (f", on {result.threads} thread{'s' if result.threads > 1 else ''}"
               if result.threads else "")
    cost = Table(title=f"cost of forward + backward in {d}", box=box.ASCII if plain
                 else box.SIMPLE_HEAD,
                 caption=f"time: median of warm calls{threads}", caption_justify="left")
    cost.add_column("side", no_wrap=True)
    cost.add_column("time", justify="right", no_wrap=True)
    cost.add_column("memory", justify="right", no_wrap=True)
    cost.add_column("memory counts", no_wrap=True)
    costs: list[RenderableType] = [Text(f"cost of forward + backward in {d}")]
    for s in result.sides:
        if s.cost is None:
            cost.add_row(s.side.value, "-", "-", "does not evaluate")
            costs.append(Text(f"{s.side.value}: does not evaluate"))
        else:
            once = " (1 call)" if s.cost.repeats == 0 else ""
            cells = (_seconds(s.cost.seconds) + once, _bytes(s.cost.memory_bytes),
                     s.cost.memory_kind)
            cost.add_row(s.side.value, *cells)
            costs.append(Text(f"{s.side.value}: {cells[0]}, {cells[1]} {cells[2]}"))
    costs.append(Text(f"time: median of warm calls{threads}"))
    parts: list[RenderableType] = [head, labels, Either(table, Group(*rows)), note,
                                   Either(cost, Group(*costs))]
    for s in result.sides:
        if s.failed_in is not None:
            fix = f"; fix: {printable(s.fix)}" if s.fix else ""
            parts.append(Text(f"side {s.side.value} breaks a constraint in {s.failed_in}: "
                              f"{printable(s.failure or '')}{fix}"))
    parts.append(Text(f"recommendation: {printable(result.recommendation.text)}", style="bold"))
    return Group(*parts)


# ---- progress --------------------------------------------------------------------------------


@contextmanager
def progress_bar(console: Console, cells: int, verbose: bool = False
                 ) -> Iterator[ProgressCallback | None]:
    """A rich progress bar on `console` for big grids on a real terminal (not one FORCE_COLOR
    pretends: bar frames never land in a log); with `verbose` elsewhere, a line per chunk
    evaluated; otherwise no callback."""
    if not console.file.isatty():
        yield (lambda done, total: console.print(  # noqa: E731
            f"evaluated {done:,} of {total:,} cells", highlight=False)) if verbose else None
        return
    if cells < PROGRESS_MIN_CELLS:
        yield None
        return
    from rich.progress import Progress

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("evaluating", total=cells)
        update: Callable[[int, int], None] = lambda done, total: bar.update(  # noqa: E731
            task, completed=done, total=total)
        yield update
