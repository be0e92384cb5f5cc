"""The same specs and seeds give the same JSON report, byte for byte on CPU, once the
measurements of time and memory are left out (`--no-timings`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gaussdiag.report import TIMING_KEYS

ROOT = Path(__file__).parent.parent
SPECS = ["configs/mvn_diag_vs_normal.yaml", "configs/sample_vs_rsample.yaml"]


def report_bytes(out: Path, *flags: str) -> bytes:
    """Run compare in a fresh interpreter (nothing cached between the runs)."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    r = subprocess.run([sys.executable, "-m", "gaussdiag", "compare", *SPECS, "--json",
                        str(out), *flags], capture_output=True, text=True, cwd=ROOT, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return out.read_bytes()


def test_same_specs_give_the_same_bytes_without_timings(tmp_path: Path) -> None:
    first = report_bytes(tmp_path / "first.json", "--no-timings")
    second = report_bytes(tmp_path / "second.json", "--no-timings")
    assert first == second
    specs = json.loads(first)["specs"]
    assert [s["verdict"] for s in specs] == ["parameterization", "no-gradient"]
    for spec in specs:
        assert not set(TIMING_KEYS) & set(spec)


def test_only_the_timings_differ_with_them(tmp_path: Path) -> None:
    with_timings = json.loads(report_bytes(tmp_path / "t.json"))
    without = json.loads(report_bytes(tmp_path / "n.json", "--no-timings"))
    assert all(spec["costs"] for spec in with_timings["specs"])
    for spec in with_timings["specs"]:
        for key in TIMING_KEYS:
            spec.pop(key, None)
    assert with_timings == without
