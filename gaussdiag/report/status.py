"""What a spec ended as, in words shared by the text formats (markdown, github)."""

from __future__ import annotations

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
