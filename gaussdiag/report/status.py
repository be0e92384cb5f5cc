"""What a spec ended as, in words shared by the text formats (markdown, github)."""

from __future__ import annotations

from gaussdiag.printable import printable
from gaussdiag.results import SpecReport


def status_word(s: SpecReport) -> str:
    """What a spec ended as, in one word: its verdict, or error, skipped, interrupted, not
    run."""
    if s.not_run:
        return "not run"
    if s.error is not None:
        return "error"
    if s.verdict is None and s.interrupted:
        return "interrupted"
    if s.skipped is not None:
        return "skipped"
    return "error" if s.verdict is None else s.verdict.value


def message(s: SpecReport) -> str:
    """Explanation -- fix, and what was expected when that is why the spec is not ok."""
    text = s.explanation or status_word(s)
    if s.fix:
        text += f" -- {s.fix}"
    if s.verdict is not None and s.expect is not None and s.verdict is not s.expect:
        text += f" (expected {s.expect.value})"
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
