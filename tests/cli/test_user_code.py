"""A Python pairs file's own code, through the CLI in a child process: whatever a side does
(exit, raise a BaseException, raise from a broken __str__, return what is not a tensor, print,
print from a thread) is that Pair's located error or goes to stderr; it never ends the process
with its own code, prints a traceback, or puts text in front of the report on stdout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PRELUDE = """\
import os, sys, threading
import torch
import gaussdiag
from torch.distributions import Normal

def good(m, s):
    return Normal(m, s)

PARAMS = {"m": torch.zeros(3), "s": torch.ones(3)}
X = {"x": gaussdiag.sample("b", (4,))}
"""

# the body of side `bad`, the words its error line must hold (the last line of the body is
# where the user's code failed)
SIDES = {
    "exit_0": ("sys.exit(0)", "raised SystemExit: 0"),
    "exit_text": ("sys.exit('bye')", "raised SystemExit: bye"),
    "generator_exit": ("raise GeneratorExit('g')", "raised GeneratorExit: g"),
    "own_base_exception": ("class Stop(BaseException):\n    pass\nraise Stop('halt')",
                           "raised Stop: halt"),
    "str_raises": ("class Odd(Exception):\n    def __str__(self):\n        raise RuntimeError\n"
                   "raise Odd()", "raised Odd: (its message could not be shown: str() "
                   "raised RuntimeError)"),
}

def gd(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    env.pop("GITHUB_STEP_SUMMARY", None)
    return subprocess.run([sys.executable, "-m", "gaussdiag", "compare", *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def pairs_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pairs.py"
    path.write_text(PRELUDE + textwrap.dedent(body))
    return path


def line_of(path: Path, text: str) -> int:
    return next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if text in ln)


def one_error(r: subprocess.CompletedProcess[str], where: str, *words: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout[-800:], r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {where}"), r.stderr
    for word in words:
        assert word in errors[0], (word, errors[0])


def report_only(r: subprocess.CompletedProcess[str]) -> dict[str, object]:
    """stdout holds the JSON report and nothing else."""
    data: dict[str, object] = json.loads(r.stdout)
    return data


@pytest.mark.parametrize("case", sorted(SIDES))
def test_a_side_that_exits_or_raises_is_that_pairs_located_error(case: str,
                                                                 tmp_path: Path) -> None:
    body, words = SIDES[case]
    path = pairs_file(tmp_path, "def bad(m, s):\n" + textwrap.indent(body, "    ") + """
broken = gaussdiag.Pair(bad, good, params=PARAMS, inputs=X)
fine = gaussdiag.Pair(good, good, params=PARAMS, inputs=X)
""")
    r = gd("pairs.py", "--json", "-", cwd=tmp_path)
    pair_line = line_of(path, "broken = ")
    user_line = line_of(path, body.splitlines()[-1].strip())
    one_error(r, f"pairs.py:{pair_line}: broken: side a: bad(m, s) {words}",
              f"(at pairs.py:{user_line})")
    specs = report_only(r)["specs"]
    assert isinstance(specs, list)
    assert [s["status"] for s in specs] == ["error", "agree"]  # the next Pair still ran
    assert {p.name for p in tmp_path.iterdir()} <= {"pairs.py", "__pycache__"}


LOG_PROB = """
    class Mine(Normal):
        def log_prob(self, value):
            {body}

    def bad(m, s):
        return Mine(m, s)

    broken = gaussdiag.Pair(bad, good, params=PARAMS, inputs=X)
"""


@pytest.mark.parametrize(("body", "words"), [
    ("raise TypeError('no such value')",
     "returned a distribution whose log_prob raised TypeError: no such value"),
    ("return 1.5", "returned a distribution whose Mine.log_prob returned float, not a tensor"),
    ("sys.exit(3)", "returned a distribution whose log_prob raised SystemExit: 3"),
], ids=["type_error", "not_a_tensor", "exit"])
@pytest.mark.slow
def test_a_log_prob_that_raises_or_returns_no_tensor_is_located(body: str, words: str,
                                                                tmp_path: Path) -> None:
    path = pairs_file(tmp_path, LOG_PROB.format(body=body))
    r = gd("pairs.py", cwd=tmp_path)
    one_error(r, f"pairs.py:{line_of(path, 'broken = ')}: broken: side a: bad(m, s) {words}")
    if "raise" in words:
        assert f"(at pairs.py:{line_of(path, body)})" in r.stderr, r.stderr


@pytest.mark.parametrize(("param", "found"), [
    ("torch.arange(3)", "found int64"),
    ("torch.ones(3, dtype=torch.bool)", "found bool"),
    ("torch.ones(3, dtype=torch.complex64)", "found complex64"),
    ("torch.empty(3, device='meta')", "is on the meta device"),
], ids=["int64", "bool", "complex", "meta"])
def test_a_param_that_is_not_a_floating_tensor_is_refused_at_the_param(
        param: str, found: str, tmp_path: Path) -> None:
    path = pairs_file(tmp_path, f"""
        def side(m, n):
            return Normal(m, 1.0)

        broken = gaussdiag.Pair(side, side, params={{"m": torch.zeros(3), "n": {param}}},
                                inputs={{"x": gaussdiag.sample("b", (4,))}})
    """)
    r = gd("pairs.py", cwd=tmp_path)
    one_error(r, f"pairs.py:{line_of(path, 'broken = ')}: broken: params['n']", found)


def test_a_seed_beyond_torchs_range_is_refused_at_the_pair_before_any_side_runs(
        tmp_path: Path) -> None:
    path = pairs_file(tmp_path, """
        def side(m, s):
            print("the side ran")
            return Normal(m, s)

        broken = gaussdiag.Pair(side, side, params=PARAMS, inputs=X, seed=2**80)
    """)
    r = gd("pairs.py", cwd=tmp_path)
    one_error(r, f"pairs.py:{line_of(path, 'broken = ')}: cannot import: GaussdiagError: "
                 "seed must be between 0 and 2**64 - 1")
    assert "the side ran" not in r.stderr + r.stdout


PRINTS = """
    print("printed at import")
    os.write(1, b"written to descriptor 1 at import\\n")

    def noisy(m, s):
        print("printed in a side")
        t = threading.Thread(target=lambda: print("printed from a thread"))
        t.start()
        t.join()
        sys.__stdout__.write("written to sys.__stdout__\\n")
        os.write(1, b"written to descriptor 1 in a side\\n")
        return Normal(m, s)

    loud = gaussdiag.Pair(noisy, good, params=PARAMS, inputs=X)
"""
PRINTED = ["printed at import", "written to descriptor 1 at import", "printed in a side",
           "printed from a thread", "written to sys.__stdout__",
           "written to descriptor 1 in a side"]


@pytest.mark.parametrize("args", [["--json", "-"], ["--format", "json"], []],
                         ids=["json-dash", "format-json", "table"])
def test_what_user_code_prints_goes_to_stderr_never_into_the_report(args: list[str],
                                                                   tmp_path: Path) -> None:
    pairs_file(tmp_path, PRINTS)
    r = gd("pairs.py", *args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for text in PRINTED:
        assert text not in r.stdout, (text, r.stdout[:500])
        assert text in r.stderr, (text, r.stderr)
    if args:
        assert report_only(r)["ok"] is True
    else:
        assert r.stdout.startswith("gaussdiag ") and re.search(r"verdict: agree", r.stdout)
