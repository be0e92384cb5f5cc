"""Renderers for compare results: pure functions of the frozen results (rich renderables, a
JSON-ready dict). They format; they never compute a verdict."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from gaussdiag import __version__
from gaussdiag.results import Quantity, RunReport, SpecReport
from gaussdiag.vocab import DType, SideName, Verdict

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


def fmt(x: float | None) -> str:
    """A diff or ratio in 3 significant digits ('-' for none)."""
    if x is None:
        return "-"
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf"
    if x == 0:
        return "0"
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 else f"{x:.2e}"


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def header(run: RunReport) -> Text:
    parts = [f"gaussdiag {__version__}", f"torch {run.torch_version}", f"device {run.device}"]
    if run.tf32 is not None:
        parts.append(f"TF32 matmul {'on' if run.tf32 else 'off'}")
    return Text(" · ".join(parts), style="dim")


def verdict_text(v: Verdict | None) -> Text:
    if v is None:
        return Text("error", style="bold red")
    return Text(v.value, style=STYLE[v])


def quantity_table(report: SpecReport) -> Table:
    dtypes = list(report.dtypes)
    t = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    t.add_column("quantity")
    for dt in dtypes:
        t.add_column(f"diff {dt.value}", justify="right")
    t.add_column("shrink", justify="right")
    low = dtypes[0] if dtypes else DType.FLOAT64
    t.add_column(f"tol {low.value}", justify="right")
    t.add_column("verdict")
    for q in report.quantities:
        t.add_row(Text(q.name), *[fmt(q.diff.get(dt)) for dt in dtypes],
                  _shrink(q), fmt(q.tol.get(low)), verdict_text(q.verdict))
    return t


def _shrink(q: Quantity) -> str:
    if q.shrink is None:
        return "-"
    return "exact in f64" if math.isinf(q.shrink) else f"{fmt(q.shrink)}x"


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


def trajectory_table(report: SpecReport) -> Table:
    """train mode: the gap at chosen steps, its shape over the run, and its growth."""
    steps = max((len(t.gaps) for t in report.trajectories), default=0)
    marks = sorted({s for s in (1, steps // 10, steps // 4, steps // 2, steps) if s >= 1})
    t = Table(show_edge=False, pad_edge=False, box=None, header_style="bold",
              title="gap between the sides' params (normwise relative)", title_justify="left")
    t.add_column("dtype")
    for m in marks:
        t.add_column(f"step {m}", justify="right")
    t.add_column("gap over the run (log)", no_wrap=True)
    t.add_column("growth/step", justify="right", no_wrap=True)
    for tr in report.trajectories:
        cells = [fmt(tr.gaps[m - 1]) if m <= len(tr.gaps) else "-" for m in marks]
        growth = "-" if tr.growth is None else f"x{tr.growth:.3g}"
        t.add_row(tr.dtype.value, *cells, sparkline(tr.gaps), growth)
    return t


def growth_note(report: SpecReport) -> str | None:
    """In words: does round-off grow exponentially (an unstable problem)?"""
    low = next((tr for tr in report.trajectories if tr.dtype is not DType.FLOAT64), None)
    if low is None or low.growth is None or len(low.gaps) < 10:
        return None
    nonzero = [g for g in low.gaps if g > 0 and math.isfinite(g)]
    if low.growth > 1.02 and nonzero and max(nonzero) / min(nonzero) > 100:
        return (f"the {low.dtype.value} gap grows about x{low.growth:.3g} per step: "
                "exponential growth of round-off means the training dynamics amplify tiny "
                "differences (an unstable problem); seeded runs will diverge whichever "
                "formulation is used")
    return (f"the {low.dtype.value} gap grows slowly (x{low.growth:.3g} per step): round-off "
            "accumulates without blowing up")


def cost_table(report: SpecReport) -> Table:
    t = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    t.add_column("cost (forward+backward)")
    for dt in report.dtypes:
        t.add_column(dt.value, justify="right")
    kinds = {c.memory_kind for c in report.costs}
    for side in SideName:
        cells = []
        for dt in report.dtypes:
            c = next((c for c in report.costs if c.side is side and c.dtype is dt), None)
            cells.append("-" if c is None else
                         f"{c.seconds * 1e3:.2f} ms, {fmt_bytes(c.memory_bytes)}")
        t.add_row(f"side {side.value}", *cells)
    if kinds:
        t.caption = f"memory: {', '.join(sorted(kinds))}"
    return t


def evidence_table(report: SpecReport) -> Table:
    t = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    t.add_column("evidence (float64)")
    t.add_column("side a")
    t.add_column("side b")
    t.add_column("diff", justify="right")
    for e in report.evidence:
        t.add_row(Text(e.label), Text(_values(e.a)), Text(_values(e.b)), fmt(e.diff))
    return t


def _values(xs: tuple[float, ...]) -> str:
    return "[" + ", ".join(f"{x:.4g}" for x in xs) + (", …]" if len(xs) >= 4 else "]")


def render_spec(report: SpecReport) -> RenderableType:
    """Everything about one spec: sides, quantities, verdict, explanation, fix, evidence, cost."""
    title = Text.assemble((report.name or report.file, "bold"), ("  " + report.file, "dim"))
    if report.interrupted:
        title.append("  (interrupted: partial results, no verdict)", style="bold yellow")
    if report.error is not None:  # the message itself goes to stderr (diagnostics)
        return Group(title, Padding(Text("not diagnosed: the spec has an error "
                                         "(message on stderr)", style="red"), (0, 0, 1, 2)))
    if report.skipped is not None:
        return Group(title, Padding(Text(f"skipped: {report.skipped}", style="yellow"),
                                    (0, 0, 1, 2)))
    parts: list[RenderableType] = [title]
    for side in SideName:
        parts.append(Text(f"  {side.value}: {report.labels.get(side, '')}"))
    parts.append(Text(f"  mode {report.mode.value} · kappa {fmt(report.kappa)}"
                      f" · {report.seconds:.2f} s", style="dim"))
    if report.quantities:
        parts.append(Padding(quantity_table(report), (1, 0, 0, 2)))
    if report.trajectories:
        parts.append(Padding(trajectory_table(report), (1, 0, 0, 2)))
        note = growth_note(report)
        if note:
            parts.append(Padding(Text(note, style="dim"), (0, 0, 0, 4)))
    if report.point_quantities:
        start = SpecReport(file=report.file, name=report.name, verdict=None, expect=None,
                           ok=True, quantities=report.point_quantities, dtypes=report.dtypes)
        parts.append(Padding(Text("at the starting point (log_prob mode):", style="bold"),
                             (1, 0, 0, 2)))
        parts.append(Padding(quantity_table(start), (0, 0, 0, 2)))
    line = Text.assemble("  verdict: ", verdict_text(report.verdict))
    if report.expect is not None:
        line.append(f"  (expected {report.expect.value}: "
                    f"{'ok' if report.verdict is report.expect else 'NOT ok'})")
    parts.append(Padding(line, (1, 0, 0, 0)))
    parts.append(Padding(Text(report.explanation), (0, 0, 0, 4)))
    if report.fix:
        parts.append(Padding(Text.assemble(("fix: ", "bold"), report.fix), (0, 0, 0, 4)))
    for note in report.notes:
        parts.append(Padding(Text.assemble(("note: ", "bold"), note), (0, 0, 0, 4)))
    for p in report.problems:
        parts.append(Padding(Text.assemble(("also: ", "bold"), f"{p.verdict.value}: {p.message}"),
                             (0, 0, 0, 4)))
    if report.evidence:
        parts.append(Padding(evidence_table(report), (1, 0, 0, 2)))
    if report.costs:
        parts.append(Padding(cost_table(report), (1, 0, 1, 2)))
    return Group(*parts)


def summary_table(run: RunReport) -> Table:
    t = Table(title="summary", header_style="bold")
    t.add_column("spec")
    t.add_column("verdict")
    t.add_column("expected")
    t.add_column("ok")
    for s in run.specs:
        v = Text("skipped", style="yellow") if s.skipped else verdict_text(s.verdict)
        t.add_row(Text(s.name or s.file), v, s.expect.value if s.expect else "-",
                  Text("ok", style="green") if s.ok else Text("NOT ok", style="bold red"))
    return t


def render_run(run: RunReport) -> RenderableType:
    parts: list[RenderableType] = [header(run), Text("")]
    parts += [render_spec(s) for s in run.specs]
    if len(run.specs) > 1:
        parts.append(summary_table(run))
    return Group(*parts)


def to_json(run: RunReport) -> dict[str, Any]:
    """The JSON report: spec-v1's stable keys plus a few more."""
    return {
        "ok": run.ok,
        "gaussdiag": __version__,
        "torch": run.torch_version,
        "device": run.device,
        "specs": [_spec_json(s) for s in run.specs],
    }


def _num(x: float) -> float | str:
    return x if math.isfinite(x) else str(x)


def _spec_json(s: SpecReport) -> dict[str, Any]:
    return {
        "file": s.file,
        "name": s.name,
        "verdict": s.verdict.value if s.verdict else None,
        "expect": s.expect.value if s.expect else None,
        "ok": s.ok,
        "explanation": s.explanation,
        "fix": s.fix,
        "cause": None if s.cause is None else {
            "side": s.cause.side.value, "param": s.cause.param, "transform": s.cause.transform},
        "quantities": [
            {"name": q.name, "verdict": q.verdict.value,
             "diff": {dt.value: _num(d) for dt, d in q.diff.items()},
             "tol": {dt.value: t for dt, t in q.tol.items()},
             "persists": q.persists}
            for q in s.quantities
        ],
        "kappa": _num(s.kappa),
        "mode": s.mode.value,
        "problems": [{"verdict": p.verdict.value, "message": p.message} for p in s.problems],
        "notes": list(s.notes),
        "costs": [{"side": c.side.value, "dtype": c.dtype.value, "seconds": c.seconds,
                   "memory_bytes": c.memory_bytes, "memory_kind": c.memory_kind}
                  for c in s.costs],
        "trajectories": [
            {"dtype": t.dtype.value, "gaps": [_num(g) for g in t.gaps],
             "loss_a": [_num(x) for x in t.loss_a], "loss_b": [_num(x) for x in t.loss_b],
             "growth_per_step": t.growth, "failed": t.failed}
            for t in s.trajectories
        ],
        "skipped": s.skipped,
        "interrupted": s.interrupted,
        "error": s.error,
    }
