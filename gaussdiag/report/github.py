"""GitHub Actions workflow commands (`--format github`): annotations on the spec files."""

from __future__ import annotations

from gaussdiag.printable import printable
from gaussdiag.report.status import check_word, message, status_word
from gaussdiag.results import RunReport


def _gh_data(text: str) -> str:
    shown = printable(text, multiline=True)
    return shown.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def _gh_command(kind: str, file: str, line: int | None, title: str | None,
                text: str, col: int | None = None) -> str:
    props = []
    if not file.startswith("<"):  # the built-in demo has no file to annotate
        props.append(f"file={_gh_property(file)}")
        if line is not None:
            props.append(f"line={line}")
            if col is not None:
                props.append(f"col={col}")
    if title is not None:
        props.append(f"title={_gh_property(title)}")
    head = f"::{kind} {','.join(props)}" if props else f"::{kind}"
    return f"{head}::{_gh_data(text)}"


def render_github(run: RunReport) -> str:
    """Annotations only where a reader should look: `::error` at each located problem of a
    spec error and for a spec that is not ok (at the line of `expect:`, else of `a:`; a
    mismatch's title names its relation, the message carries the relation's sentence),
    `::warning` for an interrupted spec and for each other problem seen in a spec that is
    not ok. An ok spec says nothing: the step summary carries the whole report."""
    lines = []
    for s in run.specs:
        if s.ok:
            continue
        for c in s.switches:  # each check that is not ok, at the spec's line
            if not c.ok:
                text = c.explanation + (f" -- {c.fix}" if c.fix else "")
                if c.expect is not None and c.verdict is not c.expect:
                    text += f" (expected {c.expect.value})"
                lines.append(_gh_command("error", s.file, s.line, f"gaussdiag "
                                         f"{check_word(c, 'title')}: {check_word(c, 'status')}",
                                         text))
        if s.verdict is not None and s.switches and (s.single or s.pair_ok):
            continue  # not ok through its switch checks alone: annotated above
        if s.error is not None:
            for at in s.error_at:
                lines.append(_gh_command("error", at.file, at.line, None, at.text, at.col))
            if not s.error_at:
                lines.append(_gh_command("error", s.file, None, None, s.error))
            continue
        if s.timed_out:  # no verdict, and the gate fails: an error where the spec is
            lines.append(_gh_command("error", s.file, s.line, "gaussdiag timed out",
                                     s.explanation))
            continue
        if s.verdict is None:
            word = status_word(s)
            text = "Ctrl-C came before it started" if s.not_run else s.skipped or word
            lines.append(_gh_command("warning", s.file, s.line, f"gaussdiag {word}", text))
            continue
        kind = f" ({s.structure.kind.value})" if s.structure is not None else ""
        lines.append(_gh_command("error", s.file, s.line, f"gaussdiag {s.verdict.value}{kind}",
                                 message(s)))
        for p in s.problems:
            if p.verdict is not s.verdict:
                lines.append(_gh_command("warning", s.file, s.line,
                                         f"gaussdiag also {p.verdict.value}", p.message))
    return "".join(line + "\n" for line in lines)

