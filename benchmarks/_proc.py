"""Helpers shared by the benchmarks that time whole processes: run a command, return its wall
time, exit code and peak memory.

Peak memory is the child's own maximum resident set size, read from `os.wait4`, which returns
the rusage of exactly the process it reaps. (`resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`
is the maximum over every child reaped so far, not a sum, so differences between two readings
say nothing about a child that used less memory than an earlier one.)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ProcRun:
    seconds: float
    returncode: int
    max_rss_kib: int          # Linux reports ru_maxrss in KiB (macOS in bytes: see `max_rss_mib`)
    stderr_tail: str

    @property
    def max_rss_mib(self) -> float:
        scale = 1024 * 1024 if sys.platform == "darwin" else 1024
        return self.max_rss_kib / scale


# gaussdiag's own way to import torch (gaussdiag/torch_import.py), put in front of a script:
# the collector off for the import, then everything so far frozen.
FROZEN_IMPORT = ("import gc, runpy, sys; gc.disable(); import torch.distributions; gc.freeze(); "
                 "gc.enable(); sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], "
                 "run_name='__main__')")


def with_frozen_import(cmd: Sequence[str]) -> list[str]:
    """`[python, script, *args]` run with torch imported as gaussdiag imports it, so a ratio
    against it leaves that import out of the comparison."""
    return [cmd[0], "-c", FROZEN_IMPORT, *cmd[1:]]


def child_env() -> dict[str, str]:
    """The environment for children: this checkout's package first on the path."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}


def run_once(cmd: Sequence[str], *, timeout: float = 600.0) -> ProcRun:
    """Run `cmd` to completion (stdout discarded, stderr kept for errors), timing from just
    before the fork to just after the reap."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL, stderr=err,
                                env=child_env(), cwd=ROOT)
        killer = threading.Timer(timeout, proc.kill)     # a hung child ends as a failed run
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read().decode("utf-8", "replace")[-400:]
    return ProcRun(elapsed, proc.returncode, int(usage.ru_maxrss), tail)


def median_seconds(runs: Sequence[ProcRun]) -> float:
    return statistics.median(r.seconds for r in runs)


def max_rss_mib(runs: Sequence[ProcRun]) -> float:
    return max(r.max_rss_mib for r in runs)
