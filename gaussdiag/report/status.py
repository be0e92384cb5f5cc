"""What a spec ended as, in words shared by the text formats (markdown, github)."""

from __future__ import annotations

from gaussdiag.results import SpecReport
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


def message(s: SpecReport) -> str:
    """Explanation -- fix, and what was expected when that is why the spec is not ok."""
    text = s.explanation or status_word(s)
    if s.fix:
        text += f" -- {s.fix}"
    if s.verdict is not None and s.expect is not None and s.verdict is not s.expect:
        text += f" (expected {s.expect.value})"
    return text
