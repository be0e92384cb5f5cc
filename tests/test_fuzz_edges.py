"""Fuzzing the edges the spec grammar fuzz (test_fuzz.py) does not reach: every distribution a
spec may name with edge arguments (equal bounds, 1e+-30, subnormals, zero-width intervals), a
pairs file whose code exits, raises BaseException subclasses, prints or loops, and params of
every dtype.

Properties: a spec ends in a diagnosis, one clear located error, or a `timed out` report
(exit 0, 1, 2 or 124), never an internal error, a traceback or a run with no end; user code
can neither pass a gate (an exit or an exception is exit 2) nor put text on stdout beside
the report; a param that is not a floating tensor is refused by name. Seeds and bounds as in
test_fuzz.py: derandomized, no example database, a few dozen examples each, and a short
--timeout so that an endless example costs a second.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import event, given, settings
from hypothesis import strategies as st
from torch.distributions import Normal

import gaussdiag
from gaussdiag.cli import main
from gaussdiag.frontends.yaml.spec.names import ARGUMENTS
from tests.strategies import edge_distribution_specs, user_pairs_files
from tests.test_fuzz import FUZZ, Outcome, assert_one_error, compare, dump

# the fuzz of edge cases: every example is a child process; CI runs it with -m slow
pytestmark = pytest.mark.slow

# Endless examples (VonMises at concentration 1e30, a side that loops) stop after this.
TIMEOUT = ["--timeout", "2"]
# In-process, without the command's gc.freeze, a full collection may take a good part of a
# second on a busy machine: a bound of 1 s could stop a diagnosis that is merely slow.
USER_TIMEOUT = ["--timeout", "3"]
EDGES = settings(FUZZ, max_examples=8)  # per distribution: 35 of them
USER = settings(FUZZ, max_examples=60)
DTYPES = settings(FUZZ, max_examples=60)


def check_ends(result: Outcome, *, spec: Any, name: str = "spec.yaml") -> None:
    """A diagnosis, one clear located error or a timed-out report; nothing else written."""
    where = f"input: {spec!r}\nstdout: {result.out[-2000:]}\nstderr: {result.err}"
    assert result.code in (0, 1, 2, 124), where
    assert "Traceback" not in result.err and "internal error" not in result.err, where
    assert result.files == {name}, where
    if result.code == 2:
        assert_one_error(result.err, name, where)
    else:
        assert result.out, where
    if result.code == 124:
        assert "timed out" in result.out, where


@pytest.mark.parametrize("dist", sorted(ARGUMENTS))
def test_every_distribution_with_edge_arguments_ends(dist: str) -> None:
    @EDGES
    @given(edge_distribution_specs(dist, ARGUMENTS[dist]))
    def ends(tree: dict[str, Any]) -> None:
        text = dump(tree)
        result = compare(text, *TIMEOUT)
        event(f"exit {result.code}")
        check_ends(result, spec=text)

    ends()


def _side(m: torch.Tensor, n: Any) -> Normal:
    weight = n.weight.sum() if isinstance(n, torch.nn.Module) else n.sum()
    return Normal(m + 0 * weight, 1.0)


# ---- user code -------------------------------------------------------------------------------

# What each action must end as: an error (exit 2), a diagnosis (0: the sides agree), or the
# bound (124). A `return` at import returns from the function the file calls: no effect.
_ERRORS = {"exit_0", "exit_1", "exit_text", "exit_none", "generator_exit",
           "own_base_exception", "stop_iteration", "value_error", "type_error",
           "runtime_error", "str_raises"}
_ENDLESS = {"loop", "sleep"}
_PRINTS = {"print", "print_control", "print_dunder", "print_descriptor", "print_thread"}
# what those through sys.stdout print (the others write below it: test_user_code.py, in a child
# process, checks that they reach stderr)
_PRINTED = {"print": '{"ok": false}', "print_control": "hidden", "print_thread": "from a thread"}


def _expected(action: str, where: str) -> int:
    if action in _ERRORS:
        return 2
    if action in _ENDLESS:
        return 124
    if action in _PRINTS or where == "at_import":
        return 0
    return 2  # a side or a log_prob that returns what it may not


def run_pairs(source: str) -> Outcome:
    """`gaussdiag compare pairs.py --json -` in-process in a fresh folder; the import's
    traces (sys.path, sys.modules) are removed afterwards."""
    path, modules = list(sys.path), set(sys.modules)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "pairs.py").write_text(source)
        out, err = io.StringIO(), io.StringIO()
        before = Path.cwd()
        os.chdir(folder)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(["compare", "pairs.py", "--json", "-", *USER_TIMEOUT])
        finally:
            os.chdir(before)
            sys.path[:] = path
            for name in set(sys.modules) - modules:
                del sys.modules[name]
        files = frozenset(p.name for p in folder.iterdir()) - {"__pycache__"}
    return Outcome(code, out.getvalue(), err.getvalue(), files)


@pytest.fixture(scope="module")
def warm() -> None:
    """One diagnosis before the bounded ones: the first in a process imports the engine's
    modules and warms torch's kernels, which a bound of seconds must not be charged for."""
    gaussdiag.compare(_side, _side, params={"m": torch.zeros(3), "n": torch.zeros(3)},
                      inputs={"x": torch.tensor([0.5, -1.0, 2.0])})


@pytest.mark.usefixtures("warm")
@USER
@given(user_pairs_files())
def test_user_code_that_exits_raises_prints_or_loops_never_passes_a_gate(
        drawn: tuple[str, str, str]) -> None:
    source, action, where = drawn
    result = run_pairs(source)
    shown = f"{action} {where}\nstdout: {result.out[-1500:]}\nstderr: {result.err[-1500:]}"
    assert result.code == _expected(action, where), shown
    assert "Traceback" not in result.err and "internal error" not in result.err, shown
    report = json.loads(result.out)  # stdout holds the report and nothing else
    assert report["ok"] is (result.code == 0), shown
    assert result.files == {"pairs.py"}, shown
    if result.code == 2:
        lines = [ln for ln in result.err.splitlines() if ln.startswith("error: ")]
        assert lines and all(ln.startswith("error: pairs.py:") for ln in lines), shown
    if action in _PRINTED:  # Python-level prints reach the captured stderr here
        assert _PRINTED[action] in result.err, shown


# ---- params of every dtype -------------------------------------------------------------------

_ALL_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.uint8,
               torch.int8, torch.int16, torch.int32, torch.int64, torch.bool, torch.complex64,
               torch.complex128]


@DTYPES
@given(st.sampled_from(_ALL_DTYPES), st.sampled_from(["cpu", "meta"]), st.booleans(),
       st.lists(st.integers(0, 3), max_size=2))
def test_params_of_every_dtype_are_diagnosed_or_refused_by_name(
        dtype: torch.dtype, device: str, module: bool, shape: list[int]) -> None:
    if module:
        if not (dtype.is_floating_point or device == "meta"):
            return  # torch itself refuses a module with integer parameters
        n: Any = torch.nn.Linear(3, 3, device=device, dtype=dtype if
                                 dtype.is_floating_point else torch.float32)
    else:
        n = torch.zeros(shape, dtype=dtype, device=device)
    params = {"m": torch.zeros(3), "n": n}
    name = "n.weight" if module else "n"
    try:
        report = gaussdiag.compare(_side, _side, params=params,
                                   inputs={"x": torch.tensor([0.5, -1.0, 2.0])})
    except gaussdiag.GaussdiagError as err:
        floating = dtype.is_floating_point or module
        assert device == "meta" or not floating, (dtype, device, module, str(err))
        assert str(err).startswith(f"params['{name}']"), str(err)
        return
    assert (dtype.is_floating_point or module) and device == "cpu", (dtype, device)
    assert report.verdict is not None, report.error

