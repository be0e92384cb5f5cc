"""Untrusted specs that once crashed or never ended, through the CLI in a child process:
distributions whose `arg_constraints` is a property (Uniform, Wishart) end in
`invalid-parameters` naming the argument, and a learning rate beyond the optimizer's range in
a run dtype is one located error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def gd(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    env.pop("GITHUB_STEP_SUMMARY", None)
    return subprocess.run([sys.executable, "-m", "gaussdiag", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=timeout)


def one_error(r: subprocess.CompletedProcess[str], where: str) -> str:
    """Exit 2, one `error:` line naming `where` (file:line: key), no traceback."""
    assert r.returncode == 2, (r.returncode, r.stdout[-1000:], r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {where}"), r.stderr
    return lines[0]


UNIFORM = """\
version: 1
params:
  lo: {{shape: [3], init: {{full: {low}}}}}
inputs:
  x: {{shape: [3], init: {{full: {low}}}}}
a: {{dist: Uniform, args: {{low: lo, high: "{high}"}}}}
b: {{dist: Uniform, args: {{low: lo - 1.0, high: lo + 1.0}}}}
"""


@pytest.mark.parametrize(("low", "high"), [("0.0", "lo"), ("1.0e30", "lo + 1.0e-30")],
                         ids=["equal-bounds", "1e-30-wide-at-1e30"])
def test_uniform_with_an_empty_interval_is_invalid_parameters(low: str, high: str,
                                                              tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(UNIFORM.format(low=low, high=high))
    r = gd("compare", "spec.yaml", "--json", "-", cwd=tmp_path)
    assert r.returncode == 1, r.stderr  # a verdict that is not acceptable without expect
    spec = json.loads(r.stdout)["specs"][0]
    assert spec["verdict"] == "invalid-parameters", spec
    # torch checks low < high first: the argument named is `low`, its constraint `high`'s
    assert "Expected parameter low" in spec["explanation"]
    assert f"value {float(low):.4g} at index [0]" in spec["explanation"]
    assert "high = low + softplus(raw_width)" in spec["fix"]


def test_wishart_with_a_covariance_not_positive_definite_is_invalid_parameters(
        tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(
        "version: 1\nparams:\n  c: {shape: [3, 3], init: {eye: true}}\n"
        "inputs:\n  x: {shape: [3, 3], init: {eye: true}}\n"
        "a: {dist: Wishart, args: {df: 4.0, covariance_matrix: -c}}\n"
        "b: {dist: Wishart, args: {df: 4.0, covariance_matrix: c}}\n")
    r = gd("compare", "spec.yaml", "--json", "-", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    spec = json.loads(r.stdout)["specs"][0]
    assert spec["verdict"] == "invalid-parameters", spec
    assert "Expected parameter covariance_matrix" in spec["explanation"]
    assert "smallest eigenvalue -1" in spec["explanation"]  # read through the constraint


TRAIN = """\
version: 1
mode: train
dtypes: [{dtype}]
train: {{steps: 2, optimizer: {optimizer}, lr: {lr}}}
params:
  m: {{shape: [3], init: zeros}}
inputs:
  x: {{values: [0.5, -1.0, 2.0]}}
a: {{dist: Normal, args: {{loc: m, scale: 1.0}}}}
b: {{dist: Normal, args: {{loc: m, scale: 1.0}}}}
"""


# (dtype, optimizer, an lr torch refuses, the largest lr advised, shown as in the message)
LR_CASES = [
    ("float32", "adam", "1.0e39", "3.4e+37"),   # the issue's case: above float32's largest
    ("float32", "adam", "1.0e38", "3.4e+37"),   # adam's first step is 10 x lr
    ("float32", "sgd", "1.0e39", "3.4e+38"),
    ("float16", "sgd", "1.0e5", "65000"),       # above float16's 65504
    ("bfloat16", "sgd", "3.395e38", "3.3e+38"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("dtype", "optimizer", "lr", "advised"), LR_CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in LR_CASES])
def test_an_lr_beyond_the_dtype_range_is_one_located_error(
        dtype: str, optimizer: str, lr: str, advised: str, tmp_path: Path) -> None:
    text = TRAIN.format(dtype=dtype, optimizer=optimizer, lr=lr)
    (tmp_path / "spec.yaml").write_text(text)
    line = one_error(gd("compare", "spec.yaml", cwd=tmp_path), "spec.yaml:4:")
    assert "train.lr:" in line and f"too large for the {dtype} run" in line, line
    assert f"use lr <= {advised}" in line, line
    # the advised bound is taken: a diagnosis, not an internal error
    (tmp_path / "spec.yaml").write_text(TRAIN.format(dtype=dtype, optimizer=optimizer,
                                                     lr=advised.replace("+", "")))
    r = gd("compare", "spec.yaml", cwd=tmp_path)
    assert r.returncode in (0, 1), r.stderr
    assert "verdict: " in r.stdout and "internal error" not in r.stderr
