"""Bounds on what an untrusted spec may make the process do (no heavy imports: the CLI reads
them to build its options)."""

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
