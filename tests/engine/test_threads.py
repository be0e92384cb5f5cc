"""`gaussdiag.engine.threads`: a small problem is diagnosed on one intra-op thread, a big one on
torch's own count, `--threads N` overrides both, the report says which, and torch's count is
restored after."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import gaussdiag.engine.evaluate as evaluate
from gaussdiag.engine.threads import choose_threads, intra_op_threads, largest_tensor
from gaussdiag.errors import UsageError
from gaussdiag.limits import SMALL_PROBLEM_ELEMENTS
from gaussdiag.report import spec_json
from tests.conftest import run

SMALL = """
    version: 1
    name: small
    params:
      mean: {shape: [4], init: zeros}
      std: {shape: [4], init: {uniform: [0.5, 2.0]}}
    a: {dist: Normal, args: {loc: mean, scale: std}}
    b: {dist: Normal, args: {loc: mean, scale: std}}
    inputs:
      x: {shape: [%d, 4], init: normal}
"""


def test_choose_threads() -> None:
    assert choose_threads(None, SMALL_PROBLEM_ELEMENTS, 8) == 1
    assert choose_threads(None, SMALL_PROBLEM_ELEMENTS + 1, 8) == 8
    assert choose_threads(3, 10, 8) == 3 and choose_threads(3, 10**9, 8) == 3
    with pytest.raises(UsageError, match="at least 1"):
        choose_threads(0, 10, 8)
    assert largest_tensor({"a": torch.zeros(3, 5), "b": torch.zeros(7)}) == 15
    assert largest_tensor({}) == 0


def test_the_count_is_set_inside_and_restored_after() -> None:
    before = torch.get_num_threads()
    with intra_op_threads(None, {"x": torch.zeros(4)}) as n:
        assert n == 1 == torch.get_num_threads()
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), intra_op_threads(None, {"x": torch.zeros(4)}):
        raise RuntimeError("a failing diagnosis restores it too")
    assert torch.get_num_threads() == before


def _seen_threads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """torch's thread count at every side evaluation."""
    seen: list[int] = []
    real = evaluate.run_side

    def spy(*args: object, **kw: object) -> object:
        seen.append(torch.get_num_threads())
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(evaluate, "run_side", spy)
    return seen


@pytest.mark.parametrize(("rows", "threads", "want"), [
    pytest.param(8, None, 1, id="small-auto"),
    pytest.param(8, 2, 2, id="small-asked-2"),
    pytest.param(SMALL_PROBLEM_ELEMENTS // 4 + 1, None, None, id="big-auto"),
])
def test_the_diagnosis_runs_on_the_count_it_reports(
        monkeypatch: pytest.MonkeyPatch, rows: int, threads: int | None,
        want: int | None) -> None:
    before = torch.get_num_threads()
    want = before if want is None else want
    seen = _seen_threads(monkeypatch)
    report = run(SMALL % rows, threads=threads)
    assert report.verdict is not None, report.error
    assert report.threads == want and spec_json(report)["threads"] == want
    assert seen and set(seen) == {want}
    assert torch.get_num_threads() == before


def test_cli_threads_option(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SMALL % 8)
    out = tmp_path / "r.json"
    for flag, want in (([], 1), (["--threads", "2"], 2)):
        r = subprocess.run([sys.executable, "-m", "gaussdiag", "compare", str(spec), "--json",
                            str(out), *flag], capture_output=True, text=True, check=False,
                           env={**os.environ, "NO_COLOR": "1",
                                "COLUMNS": "100"})
        assert r.returncode == 0, r.stderr
        assert json.loads(out.read_text())["specs"][0]["threads"] == want
        assert f"· {want} thread" in r.stdout
    r = subprocess.run([sys.executable, "-m", "gaussdiag", "compare", str(spec), "--threads",
                        "0"], capture_output=True, text=True, check=False)
    assert r.returncode == 2 and "--threads" in r.stderr
