"""`import_torch`: in the command's own process, torch imported with the collector off,
everything so far frozen, the collector's state given back; a process that has torch
already, or a user's program (no `own_process()`), is left alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def _owned(code: str) -> subprocess.CompletedProcess[str]:
    """`code` in a child process that the command owns, as the console entry point makes it."""
    return _run("import gc, sys\n"
                "from gaussdiag.torch_import import import_torch, own_process\n"
                "own_process()\n" + code)


def test_imports_torch_freezes_and_turns_the_collector_back_on() -> None:
    r = _owned("assert 'torch' not in sys.modules and gc.get_freeze_count() == 0\n"
             "seen = []\n"
             "gc.callbacks.append(lambda phase, info: seen.append(phase))\n"
             "import_torch()\n"
             "assert 'torch.distributions' in sys.modules\n"
             "assert not seen, seen  # no collection ran during the import\n"
             "assert gc.isenabled()\n"
             "assert gc.get_freeze_count() > 100_000, gc.get_freeze_count()\n"
             "gc.collect(); assert seen  # and collections run again afterwards\n")
    assert r.returncode == 0, r.stderr


def test_a_disabled_collector_stays_disabled() -> None:
    r = _owned("gc.disable(); import_torch(); assert not gc.isenabled()\n")
    assert r.returncode == 0, r.stderr


def test_leaves_a_process_that_has_torch_alone() -> None:
    r = _owned("import torch\n"
               "import_torch()\n"
               "assert gc.get_freeze_count() == 0 and gc.isenabled()\n")
    assert r.returncode == 0, r.stderr


def test_a_user_s_program_gets_a_plain_import() -> None:
    """`gaussdiag.diagnose` in a program that has not imported torch: nothing frozen."""
    r = _run("import gc, sys\n"
             "import gaussdiag\n"
             "report = gaussdiag.diagnose('configs/mvn_diag_fixed.yaml')\n"
             "assert report.verdict == 'agree', report.verdict\n"
             "assert 'torch' in sys.modules\n"
             "assert gc.get_freeze_count() == 0 and gc.isenabled()\n")
    assert r.returncode == 0, r.stderr


def test_a_failed_import_still_turns_the_collector_back_on() -> None:
    r = _owned("class Refuse:\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name == 'torch':\n"
             "            raise ImportError('no torch here')\n"
             "sys.meta_path.insert(0, Refuse())\n"
             "try:\n"
             "    import_torch()\n"
             "except ImportError:\n"
             "    pass\n"
             "else:\n"
             "    raise SystemExit('no error')\n"
             "assert gc.isenabled() and gc.get_freeze_count() == 0\n")
    assert r.returncode == 0, r.stderr


def test_compare_runs_with_the_collector_on_after_torch_is_in() -> None:
    """The console entry point really goes through it: by the time a spec runs, torch is
    frozen and the collector is on (a train-mode loop must still collect its garbage)."""
    r = _run("import gc, sys\n"
             "import gaussdiag.pipeline as p\n"
             "real = p.diagnose_problem\n"
             "def spy(*a, **k):\n"
             "    assert gc.isenabled() and gc.get_freeze_count() > 100_000\n"
             "    print('checked')\n"
             "    return real(*a, **k)\n"
             "p.diagnose_problem = spy\n"
             "from gaussdiag.cli import run\n"
             "sys.argv = ['gaussdiag', 'compare', '--demo', '--quiet']\n"
             "run()\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "checked" in r.stdout
