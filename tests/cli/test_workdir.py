"""A working folder removed while `gaussdiag compare` runs, through the CLI in a child process:
one error naming the folder (exit 2) wherever the run needed it, never an internal error or
oneMKL aborting the torch import.

The folder is removed at a fixed point of the run (an audit hook on an import: as torch's
import starts, halfway through it, during the diagnosis, as the report is rendered) rather
than after a delay, so every run removes it at the same place on any machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

CHILD = """\
import os, shutil, sys
folder = os.getcwd()
trigger = sys.argv.pop(1)

def remove_on_import(event, args):
    if event == "import" and args[0] == trigger and os.path.isdir(folder):
        shutil.rmtree(folder)

sys.addaudithook(remove_on_import)
from gaussdiag.cli import run
run()
"""
PAIRS = """\
import torch
import gaussdiag
from torch.distributions import Normal

def side(m):
    return Normal(m, 1.0)

pair = gaussdiag.Pair(side, side, params={"m": torch.zeros(3)},
                      inputs={"x": gaussdiag.sample("b", (4,))})
"""
# where the folder goes: as torch's import starts (oneMKL's loader aborted), halfway
# through it (inspect failed on a relative file name), in the diagnosis, as the JSON is made
WHEN = ["torch", "torch._higher_order_ops", "gaussdiag.attribute",
        "gaussdiag.report.json_report"]


def removed_while_running(tmp_path: Path, trigger: str, *args: str
                          ) -> subprocess.CompletedProcess[str]:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "spec.yaml").write_text((ROOT / "configs" / "mvn_diag_fixed.yaml").read_text())
    (folder / "pairs.py").write_text(PAIRS)
    env = {**os.environ, "NO_COLOR": "1"}
    r = subprocess.run([sys.executable, "-c", CHILD, trigger, *args], capture_output=True,
                       text=True, cwd=folder, env=env, timeout=300)
    assert not folder.exists()  # the trigger fired
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    assert "FATAL" not in r.stdout + r.stderr, r.stderr
    return r


@pytest.mark.parametrize("trigger", WHEN)
def test_a_report_to_write_there_is_one_error_naming_the_folder(trigger: str,
                                                                 tmp_path: Path) -> None:
    r = removed_while_running(tmp_path, trigger, "compare", "spec.yaml", "--json", "out.json")
    assert r.returncode == 2, r.stderr
    folder = tmp_path / "work"
    assert r.stderr.splitlines() == [f"error: cannot write out.json: the working folder "
                                     f"{folder} was removed during the run"], r.stderr


@pytest.mark.slow
@pytest.mark.parametrize("trigger", WHEN[:2])
def test_a_diagnosis_that_needs_nothing_there_still_ends_in_its_verdict(trigger: str,
                                                                       tmp_path: Path) -> None:
    r = removed_while_running(tmp_path, trigger, "compare", "spec.yaml")
    assert r.returncode == 0, r.stderr  # mvn_diag_fixed: agree
    assert "verdict: agree" in r.stdout


@pytest.mark.slow
@pytest.mark.parametrize("trigger", WHEN[:2])
def test_files_not_read_yet_are_errors_naming_the_folder(trigger: str, tmp_path: Path) -> None:
    """The pairs file imports torch before it is read itself; the spec after it is read
    later still."""
    r = removed_while_running(tmp_path, trigger, "compare", "pairs.py", "spec.yaml")
    assert r.returncode == 2, r.stderr
    folder = tmp_path / "work"
    assert r.stderr.splitlines() == [
        f"error: pairs.py: the working folder {folder} was removed during the run",
        f"error: spec.yaml: the working folder {folder} was removed during the run"], r.stderr
