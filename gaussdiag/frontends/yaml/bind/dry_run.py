"""The memory and work budget of a spec, checked before anything real is allocated.

The whole computation of both sides (params, inputs, sample draws, the distribution or
expression, log_prob or draws, backward) is rebuilt on torch's `meta` device, where tensors
have shapes but no storage, under a `budget.Meter`: every tensor torch creates on the
way (broadcasts inside log_prob and backward included) is checked against `--max-elements`,
the tensors alive at once against 4x that, and the multiply-adds, repeated once per dtype,
pass and training step, against the work budget. The first bound broken is a `SpecError` at
the key whose stage broke it.

The dry run is the real build (`BoundSpec.on_meta`: its point is `point.empty`'s shapes, its
sides and sample inputs are built by the same code on meta, each step under `stage` of its
key) but cannot validate (`validate_args=False`, no singular-matrix check: meta tensors have
no values). A literal torch cannot read, an op without a meta kernel, or one that needs values
(`.item()`, a data-dependent shape) makes the dry run (of that side) stop without an error, as
does any error of the spec's own: the real run then reports it, or goes ahead with its own
per-tensor checks, as it did before the budget existed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from gaussdiag.engine.problem import Problem
from gaussdiag.vocab import DType, Mode, SideName

if TYPE_CHECKING:
    from gaussdiag.frontends.yaml.bind.budget import Meter
    from gaussdiag.frontends.yaml.bind.exprs import Stage
    from gaussdiag.frontends.yaml.spec import LoadedSpec

# Full-size passes over both sides charged per dtype (and per training step). The jittered
# point and the search's confirmation add a few more at most; the budget's own margin (2**40
# multiply-adds, half a minute on one core) covers them, and charging them would refuse the
# 4096 x 4096 covariance the default limit is sized for.
PASSES = 1
LIVE_FLOOR = 2**20  # elements alive at once: 8 MiB in float64
WORK_FLOOR = 2**30  # multiply-adds: about a second on one core


class Metered(Problem, Protocol):
    """What the dry run reads of a spec's problem (a `BoundSpec`)."""

    @property
    def loaded(self) -> LoadedSpec: ...
    @property
    def max_elements(self) -> int: ...
    def on_meta(self, stages: Stage) -> Problem: ...


def check_budget(problem: Metered) -> None:
    """Refuse `problem`'s spec, located, if its computation would break a bound."""

    from gaussdiag.frontends.yaml.bind.budget import BudgetExceeded, Limits, Meter, check_repeats

    scaled = Limits.for_max_elements(problem.max_elements)
    # A low --max-elements caps each tensor; the totals keep a floor so that a small spec's
    # scalars and bookkeeping (trivially cheap) are never refused.
    limits = Limits(scaled.max_elements, max(scaled.max_live, LIVE_FLOOR),
                    max(scaled.max_work, WORK_FLOOR))
    meter = Meter(limits, label="params")
    try:
        with meter:
            meta = _on_meta(problem, meter)
            if meta is not None:
                for side in SideName:  # sample inputs are drawn once, for both
                    _side(meta, meter, side)
        steps = problem.train_settings.steps if problem.mode is Mode.TRAIN else 0
        check_repeats(meter.usage, repeats=len(problem.run_dtypes) * (1 + steps) * PASSES,
                      limits=limits, label="train.steps" if steps else "dtypes")
    except BudgetExceeded as err:
        raise problem.loaded.error(err.label, err.message) from None


def _on_meta(problem: Metered, meter: Meter) -> Problem | None:
    """The problem on meta, its point included (None when a literal cannot be read: the real
    run reports it). Sizes over the per-tensor limit get the real run's own message."""
    try:
        return problem.on_meta(meter.stage)
    except (OverflowError, RuntimeError, ValueError, TypeError):
        return None


def _side(meta: Problem, meter: Meter, side: SideName) -> None:
    """One side's forward and backward at the point, as the real run computes them; stops
    quietly where meta cannot follow (see the module docstring)."""
    import torch

    from gaussdiag.engine.evaluate import compared
    from gaussdiag.frontends.yaml.bind.budget import BudgetExceeded

    try:
        # what torch says on meta is dropped: the real run says it again, as a note
        with meta.warnings.during(side, DType.FLOAT64, keep=False):
            env = meta.env(DType.FLOAT64, side)
            out = compared(meta, side, env, DType.FLOAT64, validate=False)
            with meter.stage(f"{side.value}.backward"):
                if out.requires_grad and env.leaves:
                    torch.autograd.grad(out.sum(), list(env.leaves.values()),
                                        allow_unused=True)
    except BudgetExceeded:
        raise
    except Exception:  # noqa: BLE001 - no meta kernel, or a value needed: the real run decides
        return
