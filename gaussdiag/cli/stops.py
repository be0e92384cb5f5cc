"""Ctrl-C and SIGTERM in the command's own process: both stop a run the same way, and a second
one cannot lose what the first one saved.

- SIGTERM raises `Terminated`, a `KeyboardInterrupt`, where Ctrl-C raises KeyboardInterrupt:
  every cleanup Ctrl-C gets (the terminal's cursor, the partial report, the JSON) runs for it
  too; the run then says `terminated` and exits 143 instead of `interrupted` and 130.
- A stop signal within `REPEAT_GRACE` seconds of the one before is dropped: a double Ctrl-C
  lets the first one's report be written.
- Once the results are complete (`results_ready`), the first stop signal waits: the report
  and the JSON are written, then the run exits as stopped. A later one (the write hangs)
  stops the writing.
- Once `main` has returned, both signals are ignored: the output is complete.

Outside that process (`main()` called from a program or a test) nothing is installed, and a
KeyboardInterrupt is the interrupt it always was.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from types import FrameType

from gaussdiag.cli.exits import EXIT_INTERRUPTED, EXIT_TERMINATED

# Two presses of Ctrl-C a human makes "at once" are well within a second of each other.
REPEAT_GRACE = 1.0


class Terminated(KeyboardInterrupt):
    """SIGTERM, stopping the run as Ctrl-C does."""


@dataclass
class _State:
    first: int | None = None  # the first stop signal received
    quiet_until: float = 0.0  # repeats before this are dropped
    finishing: bool = False   # the results are being written
    waiting: bool = False     # a stop signal came while finishing, and waits for the end


_STATE = _State()


def install() -> None:
    """Handle SIGINT and SIGTERM as the module docstring says (the command's own process)."""
    signal.signal(signal.SIGINT, _on_stop)
    signal.signal(signal.SIGTERM, _on_stop)


def release() -> None:
    """Ignore both from now on: the command has finished and its output is complete."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _on_stop(signum: int, frame: FrameType | None) -> None:
    del frame
    now = time.monotonic()
    if _STATE.first is None:
        _STATE.first = signum
    if now < _STATE.quiet_until:
        return  # a repeat: the stop the first one began is under way
    _STATE.quiet_until = now + REPEAT_GRACE
    if _STATE.finishing and not _STATE.waiting:
        _STATE.waiting = True  # the report is being written: finish it, then stop
        return
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def reset() -> None:
    """A new command: no stop signal seen, no results yet."""
    global _STATE
    _STATE = _State()


def results_ready() -> None:
    """The results are complete (or what a stop left of them is): from here on the command
    writes them, and a stop signal waits until it has (see `waited`)."""
    _STATE.finishing = True


def waited() -> bool:
    """A stop signal came while the results were written: the run ends as stopped."""
    return _STATE.waiting


def word() -> str:
    """How the run was stopped, as the last line on stderr says it."""
    return "terminated" if _STATE.first == signal.SIGTERM else "interrupted"


def how() -> str:
    """What stopped it, for the report of a spec it cut short."""
    return "terminated by SIGTERM" if _STATE.first == signal.SIGTERM else \
        "interrupted with Ctrl-C"


def exit_code() -> int:
    return EXIT_TERMINATED if _STATE.first == signal.SIGTERM else EXIT_INTERRUPTED
