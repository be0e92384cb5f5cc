"""Renderers for compare results: pure functions of the frozen results (rich renderables, a
JSON-ready dict). They format; they never compute a verdict."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from typing_extensions import assert_never

from gaussdiag import __version__
from gaussdiag.results import Quantity, RoundOff, RunReport, SpecReport
from gaussdiag.vocab import DType, OutputFormat, SideName, Verdict

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


def quantity_table(quantities: tuple[Quantity, ...], dtypes: list[DType]) -> Table:
    t = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    t.add_column("quantity")
    for dt in dtypes:
        t.add_column(f"diff {dt.value}", justify="right")
    t.add_column("shrink", justify="right")
    low = dtypes[0] if dtypes else DType.FLOAT64
    t.add_column(f"tol {low.value}", justify="right")
    t.add_column("verdict")
    for q in quantities:
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
    title = (Text.assemble((report.name, "bold"), ("  " + report.file, "dim")) if report.name
             else Text(report.file, style="bold"))
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
        parts.append(Padding(quantity_table(report.quantities, list(report.dtypes)),
                             (1, 0, 0, 2)))
    if report.trajectories:
        parts.append(Padding(trajectory_table(report), (1, 0, 0, 2)))
        note = growth_note(report)
        if note:
            parts.append(Padding(Text(note, style="dim"), (0, 0, 0, 4)))
    if report.point_quantities:
        parts.append(Padding(Text("at the starting point (log_prob mode):", style="bold"),
                             (1, 0, 0, 2)))
        parts.append(Padding(quantity_table(report.point_quantities, list(report.dtypes)),
                             (0, 0, 0, 2)))
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


def to_json(run: RunReport, *, timings: bool = True) -> dict[str, Any]:
    """The JSON report: spec-v1's stable keys plus a few more.

    `timings=False` leaves out what is measured rather than computed (`TIMING_KEYS`: time and
    memory), so that the same spec and seed give the same report byte for byte."""
    specs = [_spec_json(s) for s in run.specs]
    if not timings:
        for spec in specs:
            for key in TIMING_KEYS:
                spec.pop(key, None)
    return {
        "ok": run.ok,
        "gaussdiag": __version__,
        "torch": run.torch_version,
        "device": run.device,
        "specs": specs,
    }


# Per-spec JSON keys that hold measurements (they differ from run to run).
TIMING_KEYS = ("costs", "seconds")


def _num(x: float) -> float | str:
    return x if math.isfinite(x) else str(x)


def _round_off_json(r: RoundOff) -> dict[str, Any]:
    return {"quantity": r.quantity, "dtype": r.dtype.value, "gap": _num(r.gap),
            "explained": _num(r.explained), "ratio": _num(r.ratio),
            "digits": {side.value: _num(d) for side, d in r.digits.items()},
            "worse_side": r.worse_side.value if r.worse_side else None}


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
        "round_off": None if s.round_off is None else _round_off_json(s.round_off),
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


# ---- output formats (`compare --format`) ---------------------------------------------------


def render(run: RunReport, fmt: OutputFormat, *, timings: bool = True) -> RenderableType:
    """`run` in the format asked for: a rich renderable for `table`, plain text (a `str`, to be
    written as is, never parsed as markup) for the others."""
    if fmt is OutputFormat.TABLE:
        return render_run(run)
    if fmt is OutputFormat.JSON:
        return render_json(run, timings=timings)
    if fmt is OutputFormat.MARKDOWN:
        return render_markdown(run)
    if fmt is OutputFormat.GITHUB:
        return render_github(run)
    assert_never(fmt)


def render_json(run: RunReport, *, timings: bool = True) -> str:
    """The JSON report as text, as `--json FILE` writes it."""
    return json.dumps(to_json(run, timings=timings), indent=2) + "\n"


def error_location(report: SpecReport) -> tuple[int | None, str]:
    """The line and the bare message of a spec's `error` (`file:line: message`, or
    `file: message` when the YAML gives no line)."""
    error = report.error or ""
    prefix = report.file + ":"
    if not error.startswith(prefix):
        return None, error
    rest = error[len(prefix):]
    found = re.match(r"(\d+)(?::\d+)?: ", rest)
    if found:
        return int(found.group(1)), rest[found.end():]
    return None, rest.lstrip()


def status_word(s: SpecReport) -> str:
    """What a spec ended as, in one word: its verdict, or error, skipped, interrupted."""
    if s.error is not None:
        return "error"
    if s.verdict is None and s.interrupted:
        return "interrupted"
    if s.skipped is not None:
        return "skipped"
    return "error" if s.verdict is None else s.verdict.value


def _message(s: SpecReport) -> str:
    """Explanation -- fix, and what was expected when that is why the spec is not ok."""
    text = s.explanation or status_word(s)
    if s.fix:
        text += f" -- {s.fix}"
    if s.verdict is not None and s.expect is not None and s.verdict is not s.expect:
        text += f" (expected {s.expect.value})"
    return text


# -- markdown (for $GITHUB_STEP_SUMMARY and pull-request comments)

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~!])")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)


def _md_text(text: str) -> str:
    """Plain text safe in markdown: one line, every markup character escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _md_prose(text: str) -> str:
    """A message whose `code spans` are meant as such: kept, while the text between them
    cannot open HTML or a table cell."""
    out, pos = [], 0
    text = " ".join(text.split())
    for span in _CODE_SPAN.finditer(text):
        out.append(_md_outside(text[pos:span.start()]))
        out.append(span.group(0))
        pos = span.end()
    out.append(_md_outside(text[pos:]))
    return "".join(out)


def _md_outside(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|"))


def render_markdown(run: RunReport) -> str:
    """A summary table and, per spec, the verdict, the explanation and the fix."""
    bad = sum(not s.ok for s in run.specs)
    total = len(run.specs)
    title = (f"all {total} specs ok" if bad == 0 and total > 1 else "ok" if bad == 0
             else f"{bad} of {total} specs not ok" if total > 1 else "not ok")
    env = [f"gaussdiag {__version__}", f"torch {run.torch_version}", f"device {run.device}"]
    if run.tf32 is not None:
        env.append(f"TF32 matmul {'on' if run.tf32 else 'off'}")
    lines = [f"## gaussdiag: {title}", "", _md_text(" · ".join(env)), "",
             "| spec | file | verdict | expected | ok |", "| --- | --- | --- | --- | --- |"]
    for s in run.specs:
        lines.append(f"| {_md_text(s.name or s.file)} | {_md_text(s.file)} "
                     f"| {status_word(s)} | {s.expect.value if s.expect else '-'} "
                     f"| {'ok' if s.ok else '**NOT ok**'} |")
    for s in run.specs:
        lines += ["", f"### {_md_text(s.name or s.file)}: {status_word(s)}", "",
                  f"File: {_md_text(s.file)}", ""]
        if s.error is not None:
            lines.append(f"**error:** {_md_prose(s.error)}")
            continue
        if s.skipped is not None:
            lines.append(f"**skipped:** {_md_prose(s.skipped)}")
            continue
        verdict = f"**verdict:** {status_word(s)}"
        if s.expect is not None:
            verdict += f" (expected {s.expect.value}: {'ok' if s.ok else '**NOT ok**'})"
        lines.append(verdict)
        if s.explanation:
            lines += ["", _md_prose(s.explanation)]
        if s.fix:
            lines += ["", f"**fix:** {_md_prose(s.fix)}"]
        for note in s.notes:
            lines += ["", f"**note:** {_md_prose(note)}"]
        for p in s.problems:
            lines += ["", f"**also:** {p.verdict.value}: {_md_prose(p.message)}"]
    return "\n".join(lines) + "\n"


# -- GitHub Actions workflow commands (annotations on the spec files)


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def _gh_command(kind: str, file: str, line: int | None, title: str | None,
                message: str) -> str:
    props = []
    if not file.startswith("<"):  # the built-in demo has no file to annotate
        props.append(f"file={_gh_property(file)}")
        if line is not None:
            props.append(f"line={line}")
    if title is not None:
        props.append(f"title={_gh_property(title)}")
    head = f"::{kind} {','.join(props)}" if props else f"::{kind}"
    return f"{head}::{_gh_data(message)}"


def render_github(run: RunReport) -> str:
    """One workflow command per spec: `::error` for a spec error or a verdict that is not
    acceptable (at the line of `expect:`, else of `a:`), `::notice` for an acceptable one,
    `::warning` for a skipped or interrupted one."""
    lines = []
    for s in run.specs:
        if s.error is not None:
            line, message = error_location(s)
            lines.append(_gh_command("error", s.file, line, None, message))
        elif s.skipped is not None or s.verdict is None:
            word = status_word(s)
            lines.append(_gh_command("notice" if s.ok else "warning", s.file, s.line,
                                     f"gaussdiag {word}", s.skipped or word))
        else:
            lines.append(_gh_command("notice" if s.ok else "error", s.file, s.line,
                                     f"gaussdiag {s.verdict.value}", _message(s)))
    return "".join(line + "\n" for line in lines)
