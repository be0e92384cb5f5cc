"""Bounds on what an untrusted spec may make the process do, and on what measuring its cost
may spend (no heavy imports: the CLI reads them to build its options)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from gaussdiag.tolerance import DTYPE_MAX
from gaussdiag.vocab import DType, Optimizer

# Largest tensor a spec may create, per tensor: 512 MiB in float64, room for a 4096 x 4096
# covariance. `--max-elements` overrides it.
DEFAULT_MAX_ELEMENTS = 2**26

# Most optimizer steps a `train:` block may ask for: each step rebuilds and differentiates both
# sides in every dtype, so the count bounds the run's time (the work budget bounds the rest).
MAX_TRAIN_STEPS = 100_000

# ---- what measuring the cost of a side may spend (compare's and precision-check's cost tables)

# The timed calls of each side in each dtype go on until they add up to this much and number
# at least TIMING_MIN_REPEATS, as timeit's autorange goes on to a minimum duration (0.2 s for
# its one figure; a spec has four, and a diagnosis of a small spec takes about 40 ms, so the
# timing would dominate it). A call of a small spec takes about 0.4 ms: 10 ms of them is a
# median of about 25; five calls at least keep the median clear of a single slow one (a
# thread waking, another process taking the core).
TIMING_MIN_SECONDS = 0.01
TIMING_MIN_REPEATS = 5

# Cap on the timing of one side in one dtype, its warm-up call included: no timed call starts
# that would take the total past it. A side whose first (cold) call took half the cap or more
# is reported from that call alone, as one call: its one-time costs (milliseconds) are small
# beside it, and timing it again would double the run of a big spec.
TIMING_CAP_SECONDS = 0.5

# Largest problem that runs on one intra-op thread unless --threads says otherwise: the
# largest tensor among its params and inputs, in elements. Below torch's own parallel grain
# (32768 elements per thread) an op runs on one thread anyway, so more threads only add
# fork/join barriers; on a machine shared with other processes each barrier waits for a
# descheduled thread (benchmarks/bench_threads.py on a busy 2-core machine: the train config
# about 3x and a Conv2d pair about 5x slower with 2 threads than with 1; at n = 2048, above
# the threshold, the two runs disagreed, so bigger problems keep torch's count). 2**16 keeps a
# 256 x 256 matrix or a batch of 64 x 1024 on one thread.
SMALL_PROBLEM_ELEMENTS = 2**16

# Wall-clock bound on one spec or Pair, in seconds, when neither --timeout nor the spec's
# `timeout:` sets one: far above a real diagnosis (about a second; the search at n = 4096 takes
# tens of seconds), short enough that a spec that never ends cannot hold a CI job for hours.
DEFAULT_TIMEOUT = 300.0
# Largest `timeout:` a spec may ask for: a day. --timeout may set any bound, or none (0).
MAX_TIMEOUT = 86_400.0
# Code that swallows the timeout (a bare `except:` in a side) is stopped again this often.
TIMEOUT_RETRY = 5.0

# Adam's first step is lr / (1 - beta1) with torch's default beta1 = 0.9: ten times lr.
_ADAM_FIRST_STEP = 1 / (1 - 0.9)


def lr_overflow(lr: float, optimizer: Optimizer, dtypes: Iterable[DType]) -> str | None:
    """Why the optimizer's step cannot be taken with this `lr` in one of the run `dtypes`, or
    None. torch converts the step to the parameters' type (SGD: lr itself) or, for Adam, to
    float32 for every dtype but float64 (its first step is 10 x lr), and refuses a finite
    value beyond that type's largest ("value cannot be converted ... without overflow")."""
    for dtype in sorted(dtypes, key=lambda d: d.rank):
        if dtype is DType.FLOAT64:
            continue  # a float64 step never overflows a finite lr: it rounds to inf at worst
        if optimizer is Optimizer.ADAM:
            step, largest, kind = lr * _ADAM_FIRST_STEP, DTYPE_MAX[DType.FLOAT32], "float32"
        else:
            step, largest, kind = lr, DTYPE_MAX[dtype], dtype.value
        if step > largest:
            bound = largest / _ADAM_FIRST_STEP if optimizer is Optimizer.ADAM else largest
            how = (f"adam's first step is 10 x lr, taken in {kind} for {dtype.value} params"
                   if optimizer is Optimizer.ADAM else f"sgd's step is lr, taken in {kind}")
            return (f"{lr:g} is too large for the {dtype.value} run: {how}, whose largest "
                    f"value is {largest:.6g}; use lr <= {_two_digits_down(bound):g}")
    return None


def _two_digits_down(x: float) -> float:
    """`x` cut to two significant digits, rounding down: an advised bound that holds."""
    scale = 10.0 ** (math.floor(math.log10(x)) - 1)
    return math.floor(x / scale) * scale
