"""A wall-clock bound on one spec's diagnosis, and the report of a spec that ran past it.

The bound is an alarm (POSIX `setitimer`, SIGALRM) handled in the main thread: its handler
raises `TimedOut` there between two Python bytecodes, so it stops the loops that data can make
endless, written in Python over torch ops (torch's VonMises rejection sampler at concentration
1e30, a side that loops) as well as sleeps and waits. Running the spec in a worker thread
instead would leave nothing able to stop it: a Python thread cannot be killed. Two limits
follow: one long C call (a single huge matmul) finishes before the handler runs, and code that
swallows `TimedOut` (a side's bare `except:`) gets it again every `TIMEOUT_RETRY` seconds
until the spec ends. So does code that cannot pass it on: a finalizer or a garbage-collector
callback the alarm lands in (Python drops exceptions raised there; the run's stderr is not
told about this one). Where no alarm can be set (Windows, a thread other than the main one)
the spec runs without a bound.

`TimedOut` is a `BaseException`, as `KeyboardInterrupt` is, so the engine's and the sides'
`except Exception` handlers let it through.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from gaussdiag.limits import TIMEOUT_RETRY
from gaussdiag.results import SpecReport
from gaussdiag.vocab import Verdict


class TimedOut(BaseException):
    """The bound of `seconds` ran out while a spec was being diagnosed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"timed out after {seconds:g} s")


def can_bound() -> bool:
    """Whether `deadline` can set an alarm here: POSIX, in the main thread."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise `TimedOut` in the block once `seconds` have passed (None or inf: no bound). An
    alarm set before is put back afterwards, with the time it had left."""
    if seconds is None or not math.isfinite(seconds) or not can_bound():
        yield
        return
    armed = True

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        if armed:  # a late alarm, after the block ended, is dropped
            raise TimedOut(seconds)

    def unraisable(info: Any) -> None:
        if not isinstance(info.exc_value, TimedOut):  # the retry raises it again
            hook(info)

    hook = sys.unraisablehook
    sys.unraisablehook = unraisable
    previous = signal.signal(signal.SIGALRM, on_alarm)
    start = time.monotonic()
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds, TIMEOUT_RETRY)
    try:
        yield
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
        sys.unraisablehook = hook
        if old_delay > 0:
            left = max(old_delay - (time.monotonic() - start), 1e-6)
            signal.setitimer(signal.ITIMER_REAL, left, old_interval)


class Stages:
    """A progress callback that remembers each step a diagnosis announced (and passes it on),
    so a spec that times out can say what had finished and where it stopped."""

    def __init__(self, forward: Callable[[str], None] | None, name: str) -> None:
        self._forward = forward
        self._prefix = f"{name}: "
        self.seen: list[str] = []

    def __call__(self, message: str) -> None:
        step = message.removeprefix(self._prefix)
        # a step repeated with a new count (training's "step 7/100") replaces the last one
        if self.seen and step.split(":")[0] == self.seen[-1].split(":")[0] and ":" in step:
            self.seen[-1] = step
        else:
            self.seen.append(step)
        if self._forward:
            self._forward(message)

    def account(self) -> str:
        """What had finished and where the diagnosis stopped, in words."""
        if not self.seen:
            return "it stopped while setting up, before either side ran"
        *done, current = self.seen
        # the search announces each candidate it tries: counted, not listed
        tried = sum(step.startswith("trying ") for step in done)
        done = [step for step in done if not step.startswith("trying ")]
        if tried:
            done.append(f"{tried} candidate fix{'es' if tried > 1 else ''} tried")
        finished = f"; finished before it: {', '.join(done)}" if done else ""
        return f"it stopped at: {current}{finished}"


def timed_out_report(*, file: str, name: str, expect: Verdict | None, seconds: float,
                     source: str, stages: Stages, line: int | None = None) -> SpecReport:
    """The report of a spec stopped by its bound: no verdict, not ok, what had finished."""
    return SpecReport(
        file=file, name=name, verdict=None, expect=expect, ok=False, timed_out=True,
        explanation=f"ran past its bound of {seconds:g} s ({source}); {stages.account()}",
        seconds=seconds, line=line)
