"""Standard output belongs to the report: while a Python pairs file's code runs (its import,
its sides, threads they start), what it prints goes to stderr instead.

Redirected, not captured: `sys.stdout` is replaced for the run (Python's `print`, from any
thread) and so is file descriptor 1 (C code, child processes). Once the report is about to be
written, descriptor 1 is put back and only the main thread's writes reach stdout; a thread the
user's code left running still prints to stderr.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TextIO


class _Routed:
    """`sys.stdout` while user code may run: stderr, and the real stdout for the main thread
    once the report is being written."""

    def __init__(self, report: TextIO, other: TextIO) -> None:
        self._report, self._other = report, other
        self.reporting = False

    def _target(self) -> TextIO:
        main = threading.current_thread() is threading.main_thread()
        return self._report if self.reporting and main else self._other

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)


@contextmanager
def user_output_to_stderr(active: bool) -> Iterator[Callable[[], None]]:
    """With `active`, stdout goes to stderr within the block; the callable it yields marks
    the start of the report (stdout is the report's again, for the main thread). Everything
    is put back when the block ends."""
    if not active:
        yield lambda: None
        return
    report = sys.stdout
    routed = _Routed(report, sys.stderr)
    report.flush()
    saved = _redirect_descriptor()
    sys.stdout = routed  # type: ignore[assignment,unused-ignore]

    def reporting() -> None:
        for stream in (sys.stderr, sys.__stdout__):  # what the run wrote, to stderr first
            if stream is not None:
                with suppress(OSError, ValueError):
                    stream.flush()
        _restore_descriptor(saved)
        routed.reporting = True

    try:
        yield reporting
    finally:
        if not routed.reporting:
            _restore_descriptor(saved)
        sys.stdout = report
        if saved is not None:
            os.close(saved)


def _redirect_descriptor() -> int | None:
    """Point descriptor 1 at descriptor 2; the saved copy of 1, or None where there is no
    descriptor to move (a closed stdout)."""
    try:
        saved = os.dup(1)
    except OSError:
        return None
    try:
        os.dup2(2, 1)
    except OSError:
        os.close(saved)
        return None
    return saved


def _restore_descriptor(saved: int | None) -> None:
    if saved is not None:
        with suppress(OSError):
            os.dup2(saved, 1)
