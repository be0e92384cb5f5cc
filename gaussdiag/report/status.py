"""What a spec ended as, in words shared by the text formats (markdown, github)."""

from __future__ import annotations

from gaussdiag.numbers import number
from gaussdiag.printable import printable
from gaussdiag.results import SpecReport, Structure, SwitchCheck
from gaussdiag.vocab import Status


def status_word(s: SpecReport) -> str:
    """What a spec ended as, in one word: its verdict, or a `Status` (error, skipped,
    interrupted, not run, timed out)."""
    if s.not_run:
        return Status.NOT_RUN.value
    if s.error is not None:
        return Status.ERROR.value
    if s.timed_out:
        return Status.TIMED_OUT.value
    if s.verdict is None and s.interrupted:
        return Status.INTERRUPTED.value
    if s.skipped is not None:
        return Status.SKIPPED.value
    return Status.ERROR.value if s.verdict is None else s.verdict.value


def check_word(c: SwitchCheck, what: str) -> str:
    """A switch check's `title` (`side a under compile:inductor`) or `status` (its verdict,
    skipped or error)."""
    if what == "title":
        return f"side {c.side.value} under {c.switch}"
    return c.verdict.value if c.verdict else "skipped" if c.skipped else "error"


def message(s: SpecReport) -> str:
    """Explanation -- fix, and what was expected when that is why the spec is not ok."""
    text = s.explanation or status_word(s)
    if s.fix:
        text += f" -- {s.fix}"
    if s.verdict is not None and s.expect is not None and s.verdict is not s.expect:
        text += f" (expected {s.expect.value})"
    return text


def relation_text(r: Structure) -> str:
    """A mismatch's relation in one line: `factor 0.05 = 1/20`, `offset 0.693 = log 2`,
    `point-term 2·log y`, `swap c1, c0`, `gradients-only log_std · 2 elements`."""
    parts = [r.kind.value]
    if r.value is not None:
        parts.append(number(r.value, 4) + (f" = {r.closed_form}" if r.closed_form else ""))
    elif r.closed_form:
        parts.append(r.closed_form)
    if r.constant is not None:
        parts[-1] += f" + {number(r.constant, 4)}"
    text = " ".join(parts)
    if r.params:
        text += f" · {', '.join(r.params)}"
    if r.elements:
        text += f" · {len(r.elements)} element{'s' if len(r.elements) > 1 else ''}"
    return text


def failure_line(s: SpecReport) -> str:
    """One line for a spec that is not ok, as `--quiet` prints it on stderr (a pre-commit hook
    or a CI log shows nothing else): where, what it ended as, what was expected, and why."""
    where = s.file if s.line is None else f"{s.file}:{s.line}"
    expected = s.expect.value if s.expect is not None else "agree or round-off"
    if s.not_run:
        why = "Ctrl-C came before it started"
    else:
        why = first_sentence(s.explanation) or s.skipped or status_word(s)
    name = f"{s.name}: " if s.name else ""
    return printable(f"{where}: {name}{status_word(s)} (expected {expected}): {why}")


def first_sentence(text: str) -> str:
    """`text` up to the end of its first sentence: a period outside parentheses followed by a
    space and a capital (e.g. and i.e. are followed by lower case)."""
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if ch == "." and depth == 0 and text[i + 1:i + 2] == " " and text[i + 2:i + 3].isupper():
            return text[:i + 1]
    return text
