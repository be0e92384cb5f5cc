"""Ctrl-C and SIGTERM on the real process: SIGTERM restores the terminal and says
`terminated` (exit 143) as Ctrl-C says `interrupted` (exit 130); a second Ctrl-C close behind
the first, or one that lands as the results are written, loses neither the report, the
requested --json, nor that last line.

Signals that must land at a given moment come from inside the child (a patched step sends
them to its own process), so they land there on any machine; the others are sent on a
pseudo-terminal once the child says (in its progress line) that it is inside the endless spec.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.endless import ENDLESS, FINE

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and ptys")

HIDE, SHOW = "\x1b[?25l", "\x1b[?25h"
LIMIT = 120  # seconds: far above any of these runs, far below "never"


def on_terminal(args: list[str], cwd: Path, signals: list[int], gap: float,
                ready: str) -> tuple[int, str]:
    """Run `gaussdiag ARGS` on a pseudo-terminal; once `ready` shows in its output, send
    `signals` `gap` seconds apart. The exit code and everything it wrote."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: never returns
        os.chdir(cwd)
        os.environ.update({"COLUMNS": "100", "TERM": "xterm"})
        os.environ.pop("NO_COLOR", None)
        os.execv(sys.executable, [sys.executable, "-m", "gaussdiag", *args])
    out, sent, start, when = b"", 0, time.monotonic(), None
    status = None
    while status is None and time.monotonic() - start < LIMIT:
        if when is None and ready.encode() in out:
            when = time.monotonic()
        while when is not None and sent < len(signals) and time.monotonic() >= when + sent * gap:
            os.kill(pid, signals[sent])
            sent += 1
        if select.select([fd], [], [], 0.005)[0]:
            with contextlib.suppress(OSError):  # the child closed the terminal
                out += os.read(fd, 1 << 16)
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = raw
    if status is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail(f"still running after {LIMIT} s: {out.decode(errors='replace')[-2000:]}")
    while select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def _specs(folder: Path) -> None:
    (folder / "fine.yaml").write_text(FINE)
    (folder / "endless.yaml").write_text(ENDLESS)


def _saved(folder: Path) -> list[dict[str, object]]:
    """The --json report the run wrote: the finished spec and the one cut short."""
    data = json.loads((folder / "out.json").read_text())
    specs: list[dict[str, object]] = data["specs"]
    assert data["interrupted"] is True
    assert [s["name"] for s in specs] == ["fine", "endless"]
    assert specs[0]["verdict"] == "agree" and specs[1]["interrupted"] is True
    return specs


RUN = ["compare", "fine.yaml", "endless.yaml", "--json", "out.json"]
READY = "endless: side a in float32"  # the progress line, inside the endless spec


def test_sigterm_restores_the_terminal_says_terminated_and_keeps_what_finished(
        tmp_path: Path) -> None:
    _specs(tmp_path)
    code, out = on_terminal(RUN, tmp_path, [signal.SIGTERM], 0.0, READY)
    assert code == 143, out[-2000:]
    assert HIDE in out and out.rindex(SHOW) > out.rindex(HIDE), repr(out[-400:])
    assert out.rstrip().endswith("terminated"), repr(out[-400:])
    specs = _saved(tmp_path)
    assert specs[1]["skipped"] == "terminated by SIGTERM before it finished"


@pytest.mark.slow
@pytest.mark.parametrize("gap", [0.0, 0.05, 0.2])
def test_a_second_ctrl_c_close_behind_the_first_loses_nothing(gap: float,
                                                             tmp_path: Path) -> None:
    _specs(tmp_path)
    code, out = on_terminal(RUN, tmp_path, [signal.SIGINT, signal.SIGINT], gap, READY)
    assert code == 130, out[-2000:]
    assert out.rstrip().endswith("interrupted"), repr(out[-400:])
    assert "Traceback" not in out and out.rindex(SHOW) > out.rindex(HIDE)
    specs = _saved(tmp_path)
    assert specs[1]["skipped"] == "interrupted with Ctrl-C before it finished"


# Ctrl-C sent by the child to itself at one step of writing the results: once, or twice
# 50 ms apart (the second is the one that used to cut the writing short).
SELF_INTERRUPT = """\
import os, signal, sys, time
import {module} as target
original = target.{name}

def interrupted(*args, **kwargs):
    for i in range({times}):
        if i:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)  # the handler runs here, inside the step
    return original(*args, **kwargs)

target.{name} = interrupted
sys.argv[1:] = {args!r}
from gaussdiag.cli import run
run()
"""


def self_interrupted(folder: Path, module: str, name: str, times: int,
                     args: list[str]) -> subprocess.CompletedProcess[str]:
    code = SELF_INTERRUPT.format(module=module, name=name, times=times, args=args)
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=folder, env=env, timeout=300)


@pytest.mark.parametrize("times", [1, 2])
def test_ctrl_c_as_the_compare_report_is_written_keeps_it(times: int, tmp_path: Path) -> None:
    (tmp_path / "fine.yaml").write_text(FINE)
    r = self_interrupted(tmp_path, "gaussdiag.report", "render_json", times,
                         ["compare", "fine.yaml", "--json", "out.json"])
    assert r.returncode == 130, r.stderr
    assert r.stderr.splitlines()[-1] == "interrupted", r.stderr
    assert "verdict: agree" in r.stdout
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["specs"][0]["verdict"] == "agree"


@pytest.mark.slow
@pytest.mark.parametrize("times", [1, 2])
def test_ctrl_c_just_as_a_sweep_finishes_keeps_the_map(times: int, tmp_path: Path) -> None:
    r = self_interrupted(tmp_path, "gaussdiag.report.precision_text", "render_normal", times,
                         ["precision-check", "--quick", "--json", "out.json"])
    assert r.returncode == 130, r.stderr
    assert r.stderr.splitlines()[-1] == "interrupted", r.stderr
    assert "findings" in r.stdout  # the map was printed
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["format_version"] == 2 and "grad[scale]" in data["quantities"]
