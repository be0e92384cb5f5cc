"""The cost of each side in each dtype: the median of warm forward + backward calls.

A side's first call in a dtype (the run whose values are diagnosed) pays one-time costs: a
thread pool waking, kernels and buffers met for the first time. A table built from it told a
user that the n = 10 MultivariateNormal cost 7.5 ms in float32 and 0.94 ms in float64, where
both take about 0.4 ms warm. So each side that evaluated is warmed up once (an untimed
call), then timed call by call, the sides of a dtype in turn (a, b, a, b, ...) so that both
meet the same load on the machine, until its timed calls add up to `TIMING_MIN_SECONDS` and
number `TIMING_MIN_REPEATS` (as timeit's autorange goes on to a minimum duration), or the next
one would take its total, warm-up included, past `TIMING_CAP_SECONDS`; at least one call is
timed. The figure is their median. A side whose
first call took half the cap or more, or that fails when called again, is reported from its
first call (`repeats` 0).

No torch here: the calls are the caller's (`measure_costs` makes them from a problem).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from gaussdiag.limits import TIMING_CAP_SECONDS, TIMING_MIN_REPEATS, TIMING_MIN_SECONDS
from gaussdiag.results import SideCost
from gaussdiag.vocab import DType, SideName

if TYPE_CHECKING:
    from gaussdiag.engine.problem import Problem

K = TypeVar("K", bound=Hashable)
Clock = Callable[[], float]


@dataclass(frozen=True)
class Timing:
    """The median of `repeats` warm timed calls, or (repeats 0) the first call's seconds."""

    seconds: float
    repeats: int


def time_interleaved(calls: Mapping[K, Callable[[], object]], first: Mapping[K, float], *,
                     clock: Clock = time.perf_counter) -> dict[K, Timing]:
    """Warm up and time each call in turn, as the module docstring says; `first` is each
    call's cold run, in seconds, already made by the caller."""
    out = {k: Timing(first[k], 0) for k in calls if first[k] >= TIMING_CAP_SECONDS / 2}
    spent: dict[K, float] = {}
    times: dict[K, list[float]] = {}

    def timed(k: K) -> float | None:
        start = clock()
        try:
            calls[k]()
        except Exception:  # noqa: BLE001 - a side that fails again: its first call stands
            out[k] = Timing(first[k], 0)
            return None
        return clock() - start

    for k in calls:  # the warm-up
        if k not in out and (seconds := timed(k)) is not None:
            spent[k], times[k] = seconds, []
    active = list(times)
    while active:
        for k in list(active):
            seconds = timed(k)
            if seconds is None:
                active.remove(k)
                del times[k]
                continue
            times[k].append(seconds)
            spent[k] += seconds
            enough = (sum(times[k]) >= TIMING_MIN_SECONDS
                      and len(times[k]) >= TIMING_MIN_REPEATS)
            if enough or spent[k] + statistics.median(times[k]) > TIMING_CAP_SECONDS:
                active.remove(k)
    out.update({k: Timing(statistics.median(ts), len(ts)) for k, ts in times.items()})
    return out


def measure_costs(problem: Problem, runs: Mapping[DType, Mapping[SideName, object]], *,
                  clock: Clock = time.perf_counter) -> tuple[SideCost, ...]:
    """The cost of every side that evaluated (a `SideRun` in `runs`), per dtype, with the
    memory its first run counted."""
    from gaussdiag.engine.evaluate import SideRun, run_side

    costs: list[SideCost] = []
    for dtype, sides in runs.items():
        done = {s: r for s, r in sides.items() if isinstance(r, SideRun)}
        calls = {s: partial(run_side, problem, s, dtype, timing=True) for s in done}
        timings = time_interleaved(calls, {s: r.seconds for s, r in done.items()},
                                   clock=clock)
        costs += [SideCost(s, dtype, timings[s].seconds, r.memory_bytes, r.memory_kind,
                           timings[s].repeats) for s, r in done.items()]
    return tuple(costs)
