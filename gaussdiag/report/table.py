"""The terminal report (`--format table`): rich renderables built from the frozen results.
Pure: no I/O, no verdict decided here."""

from __future__ import annotations

import math

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from gaussdiag._version import __version__
from gaussdiag.limits import TIMING_CAP_SECONDS, TIMING_MIN_REPEATS, TIMING_MIN_SECONDS
from gaussdiag.numbers import number, size
from gaussdiag.printable import printable
from gaussdiag.report.prose import Prose, Values
from gaussdiag.report.quantity_table import (
    VERDICT_WIDTH,
    Fit,
    quantity_table,
    verdict_text,
)
from gaussdiag.report.status import relation_text, status_word
from gaussdiag.report.switch_table import cost_rows, summary_rows, switch_section
from gaussdiag.results import RunReport, SpecReport
from gaussdiag.vocab import DType, SideName, Status


def environment_line(run: RunReport) -> str:
    """gaussdiag, torch, device and TF32, as every format's header shows them."""
    parts = [f"gaussdiag {__version__}", f"torch {run.torch_version}", f"device {run.device}"]
    if run.tf32 is not None:
        parts.append(f"TF32 matmul {'on' if run.tf32 else 'off'}")
    return " · ".join(parts)


def header(run: RunReport) -> Text:
    return Text(environment_line(run), style="dim")


def status_text(s: SpecReport) -> Text:
    """The verdict, or what the spec ended as instead (error, skipped, interrupted, not run)."""
    if s.verdict is not None and not s.not_run:
        return verdict_text(s.verdict)
    word = status_word(s)
    return Text(word, style="bold red" if word in (Status.ERROR, Status.TIMED_OUT) else "yellow")


SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: tuple[float, ...], width: int = 20) -> str:
    """log10 of the gaps, resampled to `width` columns (a zero gap is the floor)."""
    if not values:
        return ""
    step = max(1, len(values) // width)
    picked = [max(values[i:i + step], default=0.0) for i in range(0, len(values), step)]
    logs = [math.log10(v) if v > 0 and math.isfinite(v) else None for v in picked]
    finite = [x for x in logs if x is not None]
    if not finite:
        return SPARK[0] * len(picked)
    lo, hi = min(finite), max(finite)
    span = (hi - lo) or 1.0
    return "".join(SPARK[0] if x is None else SPARK[min(7, int((x - lo) / span * 7.999))]
                   for x in logs)


_TRAJECTORY_TITLE = "gap between the sides' params (normwise relative)"


def trajectory_table(report: SpecReport) -> RenderableType:
    """train mode: the gap at chosen steps, its shape over the run, and its growth; on a
    narrow console fewer columns, then a line per dtype (no number is cut)."""
    steps = max((len(t.gaps) for t in report.trajectories), default=0)
    marks = sorted({s for s in (1, steps // 10, steps // 4, steps // 2, steps) if s >= 1})
    ends = sorted({1, max(1, steps)})
    return Fit(_trajectory_grid(report, marks, spark=True),
                _trajectory_grid(report, marks, spark=False),
                _trajectory_grid(report, ends, spark=False),
                narrow=_trajectory_lines(report, ends))


def _ran_short(report: SpecReport) -> bool:
    """A run ended early (Ctrl-C, a broken constraint): the table says how far each side got."""
    return report.interrupted or any(tr.failed for tr in report.trajectories)


def _trajectory_grid(report: SpecReport, marks: list[int], *, spark: bool) -> Table:
    t = Table(show_edge=False, pad_edge=False, box=None, header_style="bold",
              title=_TRAJECTORY_TITLE, title_justify="left")
    t.add_column("dtype", no_wrap=True)
    for m in marks:
        t.add_column(f"step {m}", justify="right", no_wrap=True)
    if spark:
        t.add_column("gap over the run (log)", no_wrap=True)
    t.add_column("growth/step", justify="right", no_wrap=True)
    short = _ran_short(report)
    if short:
        t.add_column("steps done a, b", justify="right", no_wrap=True)
    for tr in report.trajectories:
        cells = [number(tr.gaps[m - 1]) if m <= len(tr.gaps) else "-" for m in marks]
        growth = "-" if tr.growth is None else f"x{tr.growth:.3g}"
        t.add_row(tr.dtype.value, *cells, *([sparkline(tr.gaps)] if spark else []), growth,
                  *([f"{len(tr.loss_a)}, {len(tr.loss_b)}"] if short else []))
    return t


def _trajectory_lines(report: SpecReport, marks: list[int]) -> RenderableType:
    lines: list[RenderableType] = [Text(_TRAJECTORY_TITLE, style="bold")]
    short = _ran_short(report)
    for tr in report.trajectories:
        gaps = " · ".join(f"step {m} {number(tr.gaps[m - 1]) if m <= len(tr.gaps) else '-'}"
                          for m in marks)
        growth = "-" if tr.growth is None else f"x{tr.growth:.3g}"
        done = f" · steps done a {len(tr.loss_a)}, b {len(tr.loss_b)}" if short else ""
        lines.append(Prose(f"{gaps} · growth/step {growth}{done}", style="",
                           label=f"{tr.dtype.value}: "))
    return Group(*lines)


def cost_table(report: SpecReport) -> RenderableType:
    """Time and memory of each side's forward+backward per dtype; a line per side where the
    console is too narrow for the table."""
    kinds = {c.memory_kind for c in report.costs}
    notes = _cost_notes(report) + ([f"memory: {', '.join(sorted(kinds))}"] if kinds else [])
    sides = [SideName.A] if report.single else list(SideName)
    rows = [(f"side {side.value}", [_cost_cell(report, side, dt) for dt in report.dtypes])
            for side in sides] + cost_rows(report)
    t = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    t.add_column("cost (forward+backward)", no_wrap=True)
    for dt in report.dtypes:
        t.add_column(dt.value, justify="right", no_wrap=True)
    for label, cells in rows:
        t.add_row(label, *cells)
    lines: list[RenderableType] = [Text("cost (forward+backward)", style="bold")]
    short = all(len(label) < 8 for label, _ in rows)  # "side a:" fits in front of a dtype
    for label, cells in rows:  # a dtype a line: a number never parts from its unit
        if not short:
            lines.append(Text(f"{label}:"))
        lines += [Text(f"{f'{label}:' if i == 0 and short else '':<8}{dt.value} {cell}")
                  for i, (dt, cell) in enumerate(zip(report.dtypes, cells, strict=True))]
    # the notes below either form, wrapped at the width like prose
    return Group(Fit(t, narrow=Group(*lines)), *(Text(n, style="dim") for n in notes))


def _cost_notes(report: SpecReport) -> list[str]:
    """How the times were taken (`gaussdiag.engine.cost`): warm median, cap, threads."""
    threads = (f", on {report.threads} thread{'s' if report.threads > 1 else ''}"
               if report.threads else "")
    if report.single:  # no pair timed: the side's own runs are all there is
        notes = [f"time: one call each (a side checked alone under its switches is not "
                 f"timed again){threads}"]
    else:
        notes = [f"time: median of warm calls ({TIMING_MIN_SECONDS * 1e3:g} ms and "
                 f"{TIMING_MIN_REPEATS} calls or more a side, at most "
                 f"{TIMING_CAP_SECONDS:g} s){threads}"]
        if any(c.repeats == 0 for c in report.costs):
            notes.append(f"(1 call): the first call alone (it took {TIMING_CAP_SECONDS / 2:g} s "
                         "or more, or failed when called again)")
    if any(c.costs for c in report.switches):
        compiled = any(c.compile_seconds for c in report.switches)
        notes.append("under a switch: one call, the one judged" +
                     (" (compiled: after the compiling first call)" if compiled else ""))
    return notes


def _cost_cell(report: SpecReport, side: SideName, dtype: DType) -> str:
    c = next((c for c in report.costs if c.side is side and c.dtype is dtype), None)
    if c is None:
        return "-"
    # a single side's runs are all one call (its time note says so)
    once = " (1 call)" if c.repeats == 0 and not report.single else ""
    return f"{c.seconds * 1e3:.2f} ms{once}, {size(c.memory_bytes)}"


def evidence_table(report: SpecReport) -> Table:
    t = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    t.add_column("evidence (float64)")
    t.add_column("side a")
    t.add_column("side b")
    t.add_column("diff", justify="right")
    for e in report.evidence:
        # the evidence holds the first four entries: four means there may be more
        t.add_row(Text(printable(e.label)), Values(e.a, more=len(e.a) >= 4),
                  Values(e.b, more=len(e.b) >= 4), number(e.diff))
    return t


def _prose(label: str, text: str) -> Padding:
    return Padding(Prose(printable(text, multiline=True), label), (0, 0, 0, 4))


def render_spec(report: SpecReport) -> RenderableType:
    """Everything about one spec: sides, quantities, verdict, explanation, fix, evidence, cost."""
    name, file = printable(report.name), printable(report.file)
    title = (Text.assemble((name, "bold"), ("  " + file, "dim")) if report.name
             else Text(file, style="bold"))
    if report.not_run:
        title.append("  not run: Ctrl-C came before it started", style="bold yellow")
        return Padding(title, (0, 0, 1, 0))
    if report.interrupted:
        title.append("  (interrupted: partial results, no verdict)", style="bold yellow")
    if report.error is not None:  # the message itself goes to stderr (diagnostics)
        return Group(title, Padding(Text("not diagnosed: the spec has an error "
                                         "(message on stderr)", style="red"), (0, 0, 1, 2)))
    if report.timed_out:  # no verdict: what had finished, in words
        return Group(title, Padding(Prose(printable(report.explanation), "timed out: ",
                                          style="red"), (0, 0, 1, 2)))
    if report.skipped is not None:
        return Group(title, Padding(Text(f"skipped: {printable(report.skipped)}",
                                         style="yellow"), (0, 0, 1, 2)))
    parts: list[RenderableType] = [title]
    for side in ([SideName.A] if report.single else SideName):
        parts.append(Padding(Prose(printable(report.labels.get(side, "")), f"{side.value}: "),
                             (0, 0, 0, 2)))
    threads = (f" · {report.threads} thread{'s' if report.threads > 1 else ''}"
               if report.threads else "")
    parts.append(Text(f"  mode {report.mode.value} · kappa {number(report.kappa)}"
                      f" · {report.seconds:.2f} s{threads}", style="dim"))
    if report.quantities:
        parts.append(Padding(quantity_table(report.quantities, list(report.dtypes)),
                             (1, 0, 0, 2)))
    if report.trajectories:
        parts.append(Padding(trajectory_table(report), (1, 0, 0, 2)))
    if report.point_quantities:
        parts.append(Padding(Text("at the starting point (log_prob mode):", style="bold"),
                             (1, 0, 0, 2)))
        parts.append(Padding(quantity_table(report.point_quantities, list(report.dtypes)),
                             (0, 0, 0, 2)))
    line = Text.assemble("  verdict: ", status_text(report))
    if report.expect is not None and not report.single:
        line.append(f"  (expected {report.expect.value}: "
                    f"{'ok' if report.verdict is report.expect else 'NOT ok'})")
    parts.append(Padding(line, (1, 0, 0, 0)))
    if report.single:  # one side: its words are its checks', below
        parts.append(_prose("", f"side a alone: the most severe of its {len(report.switches)} "
                                f"switch check(s), {'ok' if report.ok else 'NOT ok'}"))
    if report.structure is not None:
        parts.append(_prose("relation: ", relation_text(report.structure)))
    if not report.single:
        parts.append(Padding(Prose(printable(report.explanation, multiline=True)),
                             (0, 0, 0, 4)))
    if report.fix and not report.single:
        parts.append(_prose("fix: ", report.fix))
    for note in report.notes:
        parts.append(_prose("note: ", note))
    for p in report.problems:
        parts.append(_prose("also: ", f"{p.verdict.value}: {p.message}"))
    if report.evidence:
        parts.append(Padding(evidence_table(report), (1, 0, 0, 2)))
    parts += [switch_section(c, list(report.dtypes)) for c in report.switches]
    if report.costs:
        parts.append(Padding(cost_table(report), (1, 0, 1, 2)))
    return Group(*parts)


def summary_table(run: RunReport) -> Table:
    t = Table(title="summary (interrupted)" if run.interrupted else "summary",
              header_style="bold")
    t.add_column("spec")
    t.add_column("verdict", no_wrap=True, min_width=VERDICT_WIDTH)
    t.add_column("expected")
    t.add_column("ok")
    for s in run.specs:
        v = status_text(s)
        t.add_row(Text(printable(s.name or s.file)), v, s.expect.value if s.expect else "-",
                  Text("ok", style="green") if s.ok else Text("NOT ok", style="bold red"))
        for label, verdict, expected, ok in summary_rows(s):
            t.add_row(Text(label), verdict, expected,
                      Text("ok", style="green") if ok else Text("NOT ok", style="bold red"))
    return t


def render_run(run: RunReport) -> RenderableType:
    """The whole run: header, every spec, and a summary when there are several."""
    parts: list[RenderableType] = [header(run), Text("")]
    parts += [render_spec(s) for s in run.specs]
    if len(run.specs) > 1 or run.interrupted:
        parts.append(summary_table(run))
    return Group(*parts)
