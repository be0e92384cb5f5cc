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
