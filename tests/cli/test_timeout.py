"""The wall-clock bound on each spec, through the CLI in a child process: a spec that never
ends (torch's VonMises rejection sampler at concentration 1e30, a Python side that loops) is
stopped, reported as `timed out` with what had finished, the other specs still run, and the
exit code is 124. `timeout:` in a spec sets its own bound; --timeout overrides it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gaussdiag.report.json_schema import report_schema
from tests.cli.endless import ENDLESS, FINE

PAIRS = """\
import torch
import gaussdiag
from torch.distributions import Normal

def loops(m):
    while True:
        pass

def good(m):
    return Normal(m, 1.0)

PARAMS = {"m": torch.zeros(3)}
X = {"x": gaussdiag.sample("b", (4,))}
endless = gaussdiag.Pair(loops, good, params=PARAMS, inputs=X)
fine = gaussdiag.Pair(good, good, params=PARAMS, inputs=X)
"""
# Far above a bound of a few seconds, far below "never".
ENOUGH = 120


def gd(*args: str, cwd: Path, prelude: str = "") -> tuple[subprocess.CompletedProcess[str],
                                                           float]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    env.pop("GITHUB_STEP_SUMMARY", None)
    code = (f"{prelude}import sys\nfrom gaussdiag.cli import run\n"
            f"sys.argv[1:] = {list(args)!r}\nrun()\n")
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd,
                       env=env, timeout=ENOUGH)
    return r, time.monotonic() - start


def specs(r: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    jsonschema = pytest.importorskip("jsonschema")
    data = json.loads(r.stdout)
    jsonschema.Draft202012Validator(report_schema()).validate(data)
    found: list[dict[str, Any]] = data["specs"]
    return found


def test_a_spec_that_never_ends_times_out_and_the_next_one_runs(tmp_path: Path) -> None:
    # the bound set by the endless spec alone: the next one keeps the default, so a busy
    # machine cannot make it time out too
    (tmp_path / "endless.yaml").write_text(ENDLESS + "timeout: 2\n")
    (tmp_path / "fine.yaml").write_text(FINE)
    r, took = gd("compare", "endless.yaml", "fine.yaml", "--json", "-", cwd=tmp_path)
    assert r.returncode == 124, (r.returncode, r.stderr)
    endless, fine = specs(r)
    assert endless["timed_out"] and endless["status"] == "timed out" and not endless["ok"]
    assert endless["verdict"] is None
    assert endless["explanation"].startswith("ran past its bound of 2 s (the spec's "
                                             "`timeout:`); it stopped at: side a in float32"), \
        endless
    assert fine["verdict"] == "agree" and not fine["timed_out"]
    assert json.loads(r.stdout)["timed_out"] is True
    assert "Traceback" not in r.stderr
    assert took < ENOUGH / 2


@pytest.mark.slow
def test_the_table_says_timed_out_with_what_had_finished(tmp_path: Path) -> None:
    (tmp_path / "endless.yaml").write_text(ENDLESS.replace("mode: rsample",
                                                           "mode: rsample\ntimeout: 1"))
    r, _ = gd("compare", "endless.yaml", cwd=tmp_path)
    assert r.returncode == 124, r.stderr
    assert "timed out: ran past its bound of 1 s (the spec's `timeout:`)" in r.stdout


@pytest.mark.slow
def test_timeout_given_on_the_command_line_overrides_the_specs_own(tmp_path: Path) -> None:
    (tmp_path / "endless.yaml").write_text(ENDLESS + "timeout: 86400\n")
    r, took = gd("compare", "endless.yaml", "--timeout", "1", "--json", "-", cwd=tmp_path)
    assert r.returncode == 124, r.stderr
    (endless,) = specs(r)
    assert "bound of 1 s (--timeout)" in endless["explanation"]
    assert took < ENOUGH / 2


@pytest.mark.slow
def test_the_default_bound_is_on_without_any_setting(tmp_path: Path) -> None:
    """The default (300 s) lowered to 1 s in the child before the CLI reads it: a spec with
    no `timeout:`, run without --timeout, still ends."""
    (tmp_path / "endless.yaml").write_text(ENDLESS)
    prelude = "import gaussdiag.limits\ngaussdiag.limits.DEFAULT_TIMEOUT = 1.0\n"
    r, _ = gd("compare", "endless.yaml", "--json", "-", cwd=tmp_path, prelude=prelude)
    assert r.returncode == 124, r.stderr
    (endless,) = specs(r)
    assert endless["explanation"].startswith("ran past its bound of 1 s (the default bound")


def test_a_python_side_that_loops_times_out_and_the_next_pair_runs(tmp_path: Path) -> None:
    (tmp_path / "pairs.py").write_text(PAIRS)
    # a Pair has no key of its own: the bound leaves the fine Pair room on a busy machine
    r, took = gd("compare", "pairs.py", "--timeout", "5", "--json", "-", cwd=tmp_path)
    assert r.returncode == 124, r.stderr
    endless, fine = specs(r)
    assert endless["name"] == "pairs.py::endless" and endless["status"] == "timed out"
    assert "it stopped at: side a in float32" in endless["explanation"]
    assert fine["verdict"] == "agree"
    assert took < ENOUGH / 2


@pytest.mark.slow
def test_a_spec_error_keeps_exit_2_beside_a_timed_out_spec(tmp_path: Path) -> None:
    (tmp_path / "endless.yaml").write_text(ENDLESS)
    (tmp_path / "bad.yaml").write_text(FINE.replace("dist: Normal, args: {loc: m, scale: 1.0}}",
                                                    "dist: Normall, args: {loc: m}}", 1))
    r, _ = gd("compare", "endless.yaml", "bad.yaml", "--timeout", "1", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "timed out" in r.stdout and r.stderr.startswith("error: bad.yaml:")


@pytest.mark.parametrize(("value", "message"), [
    ("0", "expected a number > 0.0, found 0"),
    ("1.0e9", "expected a number <= 86400.0"),
    (".inf", "expected a finite number"),
])
def test_a_spec_timeout_out_of_range_is_a_located_error(value: str, message: str,
                                                        tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(FINE + f"timeout: {value}\n")
    r, _ = gd("compare", "spec.yaml", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: spec.yaml:8:") and message in r.stderr, r.stderr


@pytest.mark.parametrize(("fmt", "shown"), [
    ("github", "::error file=endless.yaml,line=6,title=gaussdiag timed out::ran past its bound"),
    ("markdown", "**timed out:** ran past its bound of 1 s (--timeout)"),
])
@pytest.mark.slow
def test_the_ci_formats_say_timed_out(fmt: str, shown: str, tmp_path: Path) -> None:
    (tmp_path / "endless.yaml").write_text(ENDLESS)
    r, _ = gd("compare", "endless.yaml", "--timeout", "1", "--format", fmt, cwd=tmp_path)
    assert r.returncode == 124, r.stderr
    assert shown in r.stdout, r.stdout
    if fmt == "markdown":
        assert "| endless | endless.yaml | timed out | - | **NOT ok** |" in r.stdout


FINALIZER = """\
import torch
import gaussdiag
from torch.distributions import Normal

class Slow:
    def __del__(self):
        while True:
            pass

def lingers(m):
    Slow()  # dropped at once: its finalizer runs here, and never ends
    while True:
        pass

def good(m):
    return Normal(m, 1.0)

endless = gaussdiag.Pair(lingers, good, params={"m": torch.zeros(3)},
                         inputs={"x": gaussdiag.sample("b", (4,))})
"""


@pytest.mark.slow
def test_a_bound_that_lands_in_a_finalizer_still_stops_the_spec_quietly(tmp_path: Path) -> None:
    """Python drops an exception raised in a finalizer (printing "Exception ignored"): the
    bound is raised again a few seconds later, and the dropped one is not shown."""
    (tmp_path / "pairs.py").write_text(FINALIZER)
    r, took = gd("compare", "pairs.py", "--timeout", "1", "--json", "-", cwd=tmp_path)
    assert r.returncode == 124, r.stderr
    (endless,) = specs(r)
    assert endless["status"] == "timed out"
    assert "Exception ignored" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert took < ENOUGH / 2


@pytest.mark.slow
def test_precision_check_bounds_each_spec_too(tmp_path: Path) -> None:
    """precision-check SPEC runs the same sides: an endless one is stopped at its bound,
    named on stderr and left out of the report; the next spec is checked; exit 124."""
    (tmp_path / "endless.yaml").write_text(ENDLESS + "timeout: 2\n")
    (tmp_path / "fine.yaml").write_text(FINE)
    r, took = gd("precision-check", "endless.yaml", "fine.yaml", "--json", "-", cwd=tmp_path)
    assert r.returncode == 124, (r.returncode, r.stderr)
    out = json.loads(r.stdout)
    assert [Path(s["spec"]).name for s in out["specs"]] == ["fine.yaml"]
    # the JSON names what it leaves out, with its bound and where the bound came from
    [late] = out["timed_out"]
    assert (Path(late["spec"]).name, late["seconds"], late["bound"]) == (
        "endless.yaml", 2, "the spec's `timeout:`")
    assert r.stderr.strip().splitlines()[-1] == (
        "precision-check timed out: endless.yaml: ran past its bound of 2 s (the spec's "
        "`timeout:`); left out of the report")
    assert "Traceback" not in r.stderr and took < ENOUGH / 2


# torch's import made slower than a spec's bound: it must not be charged to the spec
SLOW_TORCH = """\
import sys, time
class _SlowTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            time.sleep(8)
        return None
sys.meta_path.insert(0, _SlowTorch())
"""


@pytest.mark.slow
@pytest.mark.parametrize("command", ["compare", "precision-check"])
def test_importing_torch_is_not_a_specs_time(command: str, tmp_path: Path) -> None:
    """A bound landing inside torch's import would leave torch half imported for every
    later spec: torch is imported before any spec's bound starts."""
    # a bound a small spec meets with room to spare, well under the import's 8 s
    (tmp_path / "fine.yaml").write_text(FINE + "timeout: 5\n")
    (tmp_path / "again.yaml").write_text(FINE + "name: again\ntimeout: 5\n")
    r, _ = gd(command, "fine.yaml", "again.yaml", cwd=tmp_path, prelude=SLOW_TORCH)
    assert r.returncode == 0, (r.returncode, r.stdout[-2000:], r.stderr)
    assert "timed out" not in r.stdout + r.stderr
