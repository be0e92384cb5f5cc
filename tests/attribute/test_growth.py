"""The training-gap growth note: decided in attribute/ (thresholds in tolerance.py), carried
as a report note, so every output format has it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gaussdiag import tolerance as tl
from gaussdiag.attribute.explain import growth_note
from gaussdiag.attribute.quantities import growth_rate
from gaussdiag.cli import main
from gaussdiag.results import Trajectory
from gaussdiag.vocab import DType


def _trajectory(gaps: list[float]) -> Trajectory:
    return Trajectory(DType.FLOAT32, tuple(gaps), (), (), growth_rate(gaps))


def test_exponential_growth_is_called_unstable() -> None:
    gaps = [1e-7 * 1.1**k for k in range(60)]  # x1.1 a step, 1e2.4 over the run
    rate = growth_rate(gaps)
    assert rate is not None and math.isclose(rate, 1.1, rel_tol=1e-9)
    note = growth_note([_trajectory(gaps)])
    assert note is not None and "x1.1 per step" in note and "unstable problem" in note


def test_slow_growth_only_accumulates() -> None:
    gaps = [1e-7 * (1 + k) for k in range(20)]  # linear: a span of 20, under GROWTH_SPAN
    note = growth_note([_trajectory(gaps)])
    assert note is not None and "grows slowly" in note and "unstable" not in note


def test_a_fast_rate_over_a_narrow_span_is_not_unstable() -> None:
    """Both conditions are needed: a rate above GROWTH_RATE whose gaps span less than
    GROWTH_SPAN is accumulation, not blow-up."""
    n = tl.GROWTH_MIN_STEPS
    factor = (tl.GROWTH_SPAN / 2) ** (1 / (n - 1))  # spans half of GROWTH_SPAN
    assert factor > tl.GROWTH_RATE
    note = growth_note([_trajectory([1e-7 * factor**k for k in range(n)])])
    assert note is not None and "grows slowly" in note


def test_short_runs_and_float64_alone_say_nothing() -> None:
    short = [1e-7 * 2.0**k for k in range(tl.GROWTH_MIN_STEPS - 1)]
    assert growth_note([_trajectory(short)]) is None
    only64 = Trajectory(DType.FLOAT64, (1e-16,) * 20, (), (), 1.0)
    assert growth_note([only64]) is None


def test_the_note_reaches_json_and_markdown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    out = tmp_path / "r.json"
    assert main(["compare", "tests/specs/valid/train_log_prob.yaml", "--format", "markdown",
                 "--json", str(out), "--no-timings"]) == 0
    notes = json.loads(out.read_text())["specs"][0]["notes"]
    grows = [n for n in notes if "gap grows" in n]
    assert len(grows) == 1
    assert grows[0] in " ".join(capsys.readouterr().out.split())
