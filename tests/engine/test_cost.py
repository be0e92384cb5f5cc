"""`gaussdiag.engine.cost`: the cost table's times are medians of warm calls, taken with a clock the
tests drive (no timing is asserted), and the report says how they were taken."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator

import pytest

import gaussdiag
from gaussdiag.engine import cost
from gaussdiag.engine.evaluate import run_side
from gaussdiag.frontends.yaml.bind import BoundSpec
from gaussdiag.limits import TIMING_CAP_SECONDS, TIMING_MIN_REPEATS, TIMING_MIN_SECONDS
from gaussdiag.vocab import DType, SideName
from tests.conftest import loaded, run

SPEC = """
    version: 1
    name: cost
    params:
      mean: {shape: [4], init: zeros}
      std: {shape: [4], init: {uniform: [0.5, 2.0]}}
    inputs:
      x: {shape: [8, 4], init: normal}
    a: {dist: MultivariateNormal, args: {loc: mean, scale_tril: "diag_embed(std)"}}
    b: {dist: Normal, args: {loc: mean, scale: std}, event_dims: 1}
    expect: round-off
"""


class Script:
    """A clock that moves only when a scripted call runs: each call advances it by the next
    duration its key was given, so every measured interval is known exactly."""

    def __init__(self, durations: dict[str, list[float]]) -> None:
        self.now = 0.0
        self.durations = {k: iter(v) for k, v in durations.items()}
        self.order: list[str] = []

    def clock(self) -> float:
        return self.now

    def call(self, key: str) -> Callable[[], None]:
        def run_it() -> None:
            self.order.append(key)
            self.now += next(self.durations[key])
        return run_it


def _ramp(first: float, step: float) -> Iterator[float]:
    """first, first + step, first + 2 step, ...: medians that tell calls apart."""
    k = 0
    while True:
        yield first + k * step
        k += 1


def test_warm_up_is_untimed_and_the_figure_is_the_median_of_the_timed_calls() -> None:
    # the warm-up (0.1 s) would dominate any mean; the timed calls ramp 1, 2, 3 ... ms
    a = [0.1, *(1e-3 * (k + 1) for k in range(100))]
    b = [0.1, *(2e-3 * (k + 1) for k in range(100))]
    script = Script({"a": a, "b": b})
    got = cost.time_interleaved({"a": script.call("a"), "b": script.call("b")},
                                {"a": 0.01, "b": 0.01}, clock=script.clock)
    for key, seq in (("a", a), ("b", b)):
        n = got[key].repeats
        timed = seq[1:1 + n]
        # just enough: the fewest calls that reach both the minimum time and count
        want = next(k for k in range(1, 100) if sum(seq[1:1 + k]) >= TIMING_MIN_SECONDS
                    and k >= TIMING_MIN_REPEATS)
        assert n == want >= 1
        assert got[key].seconds == pytest.approx(statistics.median(timed))
        assert got[key].seconds < seq[0]  # the warm-up is not in it
    # warm-ups first, then the sides in turn while both are being timed
    assert script.order[:4] == ["a", "b", "a", "b"]


def test_a_slow_first_call_stands_alone() -> None:
    script = Script({"a": [], "b": [0.001] * 100})
    got = cost.time_interleaved({"a": script.call("a"), "b": script.call("b")},
                                {"a": TIMING_CAP_SECONDS / 2, "b": 0.001}, clock=script.clock)
    assert got["a"] == cost.Timing(TIMING_CAP_SECONDS / 2, 0)
    assert "a" not in script.order and got["b"].repeats >= 1


def test_the_cap_bounds_a_side_that_never_reaches_the_minimum(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With a minimum out of reach, a side stops before its total, warm-up included, would
    pass the cap; at least one call is timed."""
    monkeypatch.setattr(cost, "TIMING_MIN_SECONDS", 1e9)
    monkeypatch.setattr(cost, "TIMING_MIN_REPEATS", 10**9)
    per_call = TIMING_CAP_SECONDS / 4.5
    script = Script({"a": [per_call] * 100})
    got = cost.time_interleaved({"a": script.call("a")}, {"a": per_call}, clock=script.clock)
    assert got["a"].repeats == 3  # warm-up + 3 = 4 calls = 0.89 cap; a 5th would pass it
    assert len(script.order) * per_call <= TIMING_CAP_SECONDS


def test_a_side_that_fails_when_called_again_keeps_its_first_call() -> None:
    calls = {"n": 0}

    def flaky() -> None:
        calls["n"] += 1
        if calls["n"] > 2:
            raise RuntimeError("changed its mind")

    got = cost.time_interleaved({"a": flaky}, {"a": 0.003})
    assert got["a"] == cost.Timing(0.003, 0)


def test_measure_costs_times_the_real_sides_with_the_clock_given() -> None:
    """On a real spec: each side in each dtype is called (warm-up, then timed calls) and its
    figure is the median of the intervals the clock gave for it."""
    problem = BoundSpec(loaded(SPEC))
    runs = {dt: {s: run_side(problem, s, dt) for s in SideName} for dt in problem.run_dtypes}
    ticks = iter(_ramp(0.0, 1e-3))  # every clock read 1 ms after the one before
    got = cost.measure_costs(problem, runs, clock=lambda: next(ticks))
    assert {(c.side, c.dtype) for c in got} == {(s, d) for s in SideName
                                                for d in problem.run_dtypes}
    for c in got:
        # each interval read start..end is exactly 1 ms: the median of them
        assert c.repeats >= 1 and c.seconds == pytest.approx(1e-3)
        first = runs[c.dtype][c.side]
        assert (c.memory_bytes, c.memory_kind) == (first.memory_bytes, first.memory_kind)


def test_a_report_says_how_its_costs_were_taken() -> None:
    report = gaussdiag.Report.of(run(SPEC))
    assert report.threads >= 1
    assert len(report.costs) == 4 and all(c.repeats >= 1 for c in report.costs)
    js = report.to_dict()
    assert js["threads"] == report.threads
    assert all(c["repeats"] >= 1 for c in js["costs"])
    shown = " ".join(str(report).split())  # the notes wrap at the width
    assert "median of warm calls" in shown
    assert f"on {report.threads} thread" in shown and f"· {report.threads} thread" in shown


def test_the_first_call_alone_is_marked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A side reported from its first call says so in the table."""
    monkeypatch.setattr(cost, "TIMING_CAP_SECONDS", 0.0)
    report = run(SPEC)
    assert all(c.repeats == 0 for c in report.costs)
    shown = " ".join(str(gaussdiag.Report.of(report)).split())
    assert "(1 call)" in shown and "the first call alone" in shown


@pytest.mark.parametrize("dtype", [DType.FLOAT32, DType.FLOAT64], ids=lambda d: d.value)
def test_a_timing_run_keeps_nothing(dtype: DType) -> None:
    """A timed repeat counts no memory and adds no warning or reference of its own."""
    problem = BoundSpec(loaded(SPEC))
    first = run_side(problem, SideName.A, dtype)
    notes = problem.warnings.notes
    again = run_side(problem, SideName.A, dtype, timing=True)
    assert first.memory_bytes is not None and again.memory_bytes is None
    assert problem.warnings.notes == notes
    assert again.value.equal(first.value)
