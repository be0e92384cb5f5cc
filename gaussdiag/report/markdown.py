"""The markdown report (`--format markdown`, `$GITHUB_STEP_SUMMARY`, pull-request comments)."""

from __future__ import annotations

import re

from gaussdiag.numbers import number
from gaussdiag.printable import printable
from gaussdiag.report.quantity_table import shrink_text
from gaussdiag.report.status import check_word, relation_text, status_word
from gaussdiag.report.table import environment_line
from gaussdiag.results import RunReport, SpecReport, SwitchCheck

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~!])")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)


def _md_text(text: str) -> str:
    """Plain text safe in markdown: one line, every markup character escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(printable(text, multiline=True).split()))


def _md_prose(text: str) -> str:
    """A message whose `code spans` are meant as such: kept, while the text between them
    cannot open HTML or a table cell."""
    out, pos = [], 0
    text = " ".join(printable(text, multiline=True).split())
    for span in _CODE_SPAN.finditer(text):
        out.append(_md_outside(text[pos:span.start()]))
        out.append(span.group(0))
        pos = span.end()
    out.append(_md_outside(text[pos:]))
    return "".join(out)


def _md_outside(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|"))


def _numbers(s: SpecReport) -> list[str]:
    """The worst quantity's diff per dtype and its shrink, and the cause when one was found."""
    lines = []
    quantities = s.quantities or s.point_quantities
    if quantities and s.dtypes:
        low = s.dtypes[0]
        worst = max(quantities, key=lambda q: q.diff.get(low, 0.0) / (q.tol.get(low) or 1.0))
        diffs = " · ".join(f"{dt.value} {number(worst.diff.get(dt))}" for dt in s.dtypes)
        lines += ["", f"**worst diff:** {_md_text(worst.name)}: {diffs} · shrink "
                      f"{shrink_text(worst)} · tol {low.value} {number(worst.tol.get(low))}"]
    for label, cause in ([("cause", s.cause)] if s.cause is not None else []) + [
            ("or", a.cause) for a in s.also]:
        lines += ["", f"**{label}:** side {cause.side.value}, `{printable(cause.target)}` "
                      f"needs `{cause.transform}`"]
    if s.structure is not None:
        lines += ["", f"**relation:** {_md_text(relation_text(s.structure))}"]
    return lines


def render_markdown(run: RunReport) -> str:
    """A summary table and, per spec, the verdict, the explanation and the fix."""
    bad = sum(not s.ok for s in run.specs)
    total = len(run.specs)
    title = (f"all {total} specs ok" if bad == 0 and total > 1 else "ok" if bad == 0
             else f"{bad} of {total} specs not ok" if total > 1 else "not ok")
    if run.interrupted:
        title += " (interrupted)"
    lines = [f"## gaussdiag: {title}", "", _md_text(environment_line(run)), "",
             "| spec | file | verdict | expected | ok |", "| --- | --- | --- | --- | --- |"]
    for s in run.specs:
        lines.append(f"| {_md_text(s.name or s.file)} | {_md_text(s.file)} "
                     f"| {status_word(s)} | {s.expect.value if s.expect else '-'} "
                     f"| {'ok' if s.ok else '**NOT ok**'} |")
        for c in s.switches:
            lines.append(f"| {_md_text(s.name or s.file)}: {_md_text(check_word(c, 'title'))} "
                         f"| {_md_text(s.file)} | {check_word(c, 'status')} "
                         f"| {c.expect.value if c.expect else '-'} "
                         f"| {'ok' if c.ok else '**NOT ok**'} |")
    for s in run.specs:
        lines += ["", f"### {_md_text(s.name or s.file)}: {status_word(s)}", "",
                  f"File: {_md_text(s.file)}", ""]
        if s.not_run:
            lines.append("**not run:** Ctrl-C came before it started")
            continue
        if s.error is not None:
            lines.append(f"**error:** {_md_prose(s.error)}")
            continue
        if s.skipped is not None:
            lines.append(f"**skipped:** {_md_prose(s.skipped)}")
            continue
        if s.timed_out:
            lines.append(f"**timed out:** {_md_prose(s.explanation)}")
            continue
        verdict = f"**verdict:** {status_word(s)}"
        if s.expect is not None:
            verdict += f" (expected {s.expect.value}: {'ok' if s.ok else '**NOT ok**'})"
        lines.append(verdict)
        lines += _numbers(s)
        if s.explanation:
            lines += ["", _md_prose(s.explanation)]
        if s.fix:
            lines += ["", f"**fix:** {_md_prose(s.fix)}"]
        for note in s.notes:
            lines += ["", f"**note:** {_md_prose(note)}"]
        for p in s.problems:
            lines += ["", f"**also:** {p.verdict.value}: {_md_prose(p.message)}"]
        for c in s.switches:
            lines += _switch(c)
    return "\n".join(lines) + "\n"


def _switch(c: SwitchCheck) -> list[str]:
    """A switch check's section: its verdict, what was expected, its words."""
    head = f"**{check_word(c, 'status')}**"
    if c.expect is not None:
        head += f" (expected {c.expect.value}: {'ok' if c.ok else '**NOT ok**'})"
    lines = ["", f"#### {_md_text(check_word(c, 'title'))}: {check_word(c, 'status')}", "",
             f"**verdict:** {head}"]
    for label, text in (("", c.skipped or c.explanation), ("**fix:** ", c.fix),
                        *(("**note:** ", n) for n in c.notes)):
        if text:
            lines += ["", f"{label}{_md_prose(text)}"]
    return lines
