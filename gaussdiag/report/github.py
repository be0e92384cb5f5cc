"""GitHub Actions workflow commands (`--format github`): annotations on the spec files."""

from __future__ import annotations

from gaussdiag.report.status import message, status_word
from gaussdiag.report.text import user_text
from gaussdiag.results import RunReport


def _gh_data(text: str) -> str:
    return user_text(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def _gh_command(kind: str, file: str, line: int | None, title: str | None,
                text: str) -> str:
    props = []
    if not file.startswith("<"):  # the built-in demo has no file to annotate
        props.append(f"file={_gh_property(file)}")
        if line is not None:
            props.append(f"line={line}")
    if title is not None:
        props.append(f"title={_gh_property(title)}")
    head = f"::{kind} {','.join(props)}" if props else f"::{kind}"
    return f"{head}::{_gh_data(text)}"


def render_github(run: RunReport) -> str:
    """One workflow command per spec: `::error` for a spec error (at each located problem) or
    a verdict that is not acceptable (at the line of `expect:`, else of `a:`), `::notice` for
    an acceptable one, `::warning` for a skipped or interrupted one."""
    lines = []
    for s in run.specs:
        if s.error is not None:
            for at in s.error_at:
                lines.append(_gh_command("error", at.file, at.line, None, at.text))
            if not s.error_at:
                lines.append(_gh_command("error", s.file, None, None, s.error))
        elif s.skipped is not None or s.verdict is None:
            word = status_word(s)
            lines.append(_gh_command("notice" if s.ok else "warning", s.file, s.line,
                                     f"gaussdiag {word}", s.skipped or word))
        else:
            lines.append(_gh_command("notice" if s.ok else "error", s.file, s.line,
                                     f"gaussdiag {s.verdict.value}", message(s)))
    return "".join(line + "\n" for line in lines)
