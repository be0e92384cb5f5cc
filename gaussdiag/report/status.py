"""What a spec ended as, in words shared by the text formats (markdown, github)."""

from __future__ import annotations

from gaussdiag.numbers import number
from gaussdiag.results import SpecReport, Structure, SwitchCheck


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
