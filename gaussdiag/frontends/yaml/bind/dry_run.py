"""The memory and work budget of a spec, checked before anything real is allocated.

The whole computation of both sides (params, inputs, sample draws, the distribution or
expression, log_prob or draws, backward) is rebuilt on torch's `meta` device, where tensors
have shapes but no storage, under a `budget.Meter`: every tensor torch creates on the
way (broadcasts inside log_prob and backward included) is checked against `--max-elements`,
the tensors alive at once against 4x that, and the multiply-adds, repeated once per dtype,
pass and training step, against the work budget. The first bound broken is a `SpecError` at
the key whose stage broke it.

The dry run mirrors the real build but cannot validate (`validate_args=False`: meta tensors
have no values). An op without a meta kernel, or one that needs values (`.item()`, a data-
dependent shape), makes the dry run of that side stop without an error: the real run then goes
ahead with its own per-tensor checks, as it did before the budget existed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gaussdiag.frontends.yaml.bind import dist_args
from gaussdiag.frontends.yaml.spec import ExprTensor, InitTensor, SampleInput, ValuesTensor
from gaussdiag.vocab import Mode, SideKind, SideName

if TYPE_CHECKING:
    import torch

    from gaussdiag.frontends.yaml.bind.budget import Meter
    from gaussdiag.frontends.yaml.bind.exprs import SpecExprs

# Full-size passes over both sides charged per dtype (and per training step). The jittered
# point and the search's confirmation add a few more at most; the budget's own margin (2**40
# multiply-adds, half a minute on one core) covers them, and charging them would refuse the
# 4096 x 4096 covariance the default limit is sized for.
PASSES = 1
LIVE_FLOOR = 2**20  # elements alive at once: 8 MiB in float64
WORK_FLOOR = 2**30  # multiply-adds: about a second on one core


def check_budget(problem: SpecExprs) -> None:
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
            base = _point(problem, meter)
            if base is not None:
                inputs: dict[str, torch.Tensor] = {}
                for side in SideName:
                    _side(problem, meter, side, base, inputs)
        spec = problem.spec
        steps = spec.train_settings.steps if spec.mode is Mode.TRAIN else 0
        check_repeats(meter.usage, repeats=len(spec.run_dtypes) * (1 + steps) * PASSES,
                      limits=limits, label="train.steps" if steps else "dtypes")
    except BudgetExceeded as err:
        raise problem.loaded.error(err.label, err.message) from None


def _point(problem: SpecExprs, meter: Meter) -> dict[str, torch.Tensor] | None:
    """The float64 point as meta tensors (None when a literal cannot be read: the real
    run reports it). Sizes over the per-tensor limit get the real run's own message."""
    import torch

    from gaussdiag.frontends.yaml.bind.point import check_size

    meta, f64 = torch.device("meta"), torch.float64
    base: dict[str, torch.Tensor] = {}
    spec = problem.spec
    declared: list[tuple[str, str, ValuesTensor | InitTensor]] = [
        ("params", n, p) for n, p in spec.params.items() if not isinstance(p, ExprTensor)]
    declared += [("inputs", n, i) for n, i in spec.inputs.items()
                 if isinstance(i, (ValuesTensor, InitTensor))]
    for group, name, p in declared:
        with meter.stage(f"{group}.{name}"):
            if isinstance(p, ValuesTensor):
                try:  # small by construction: the document's own numbers
                    shape = torch.tensor(p.values, dtype=f64).shape
                except (OverflowError, RuntimeError, ValueError, TypeError):
                    return None
            else:
                shape = torch.Size(p.shape)
                check_size(problem.loaded, (group, name, "shape"), math.prod(shape),
                           problem.max_elements)
            base[name] = torch.empty(shape, dtype=f64, device=meta)
    return base


def _side(problem: SpecExprs, meter: Meter, side: SideName, base: Mapping[str, torch.Tensor],
          inputs: dict[str, torch.Tensor]) -> None:
    """One side's forward and backward at the point; stops quietly where meta cannot follow
    (see the module docstring). `inputs` keeps sample draws across sides, as the real run."""
    from gaussdiag.frontends.yaml.bind.budget import BudgetExceeded

    try:
        values, leaves = _params(problem, meter, side, base)
        values.update(_inputs(problem, meter, base, inputs))
        out = _forward(problem, meter, side, values)
        with meter.stage(f"{side.value}.backward"):
            if out.requires_grad and leaves:
                import torch

                torch.autograd.grad(out.sum(), leaves, allow_unused=True)
    except BudgetExceeded:
        raise
    except Exception:  # noqa: BLE001 - no meta kernel, or a value needed: the real run decides
        return


def _params(problem: SpecExprs, meter: Meter, side: SideName | None,
            base: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor],
                                                      list[torch.Tensor]]:
    import torch

    meta = torch.device("meta")
    values: dict[str, torch.Tensor] = {}
    leaves: list[torch.Tensor] = []
    for name, p in problem.spec.params.items():
        with meter.stage(f"params.{name}"):
            if isinstance(p, ExprTensor):
                t = problem.eval_expr(("params", name, "expr"), p.expr, values, torch.float64,
                                      meta, side)
                if not p.grad:
                    t = t.detach()
            else:
                t = base[name].clone()
                if p.grad and side is not None:
                    t.requires_grad_(True)
                    leaves.append(t)
        values[name] = t
    return values, leaves


def _inputs(problem: SpecExprs, meter: Meter, base: Mapping[str, torch.Tensor],
            drawn: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    import torch

    from gaussdiag.frontends.yaml.bind.point import check_size

    meta = torch.device("meta")
    out: dict[str, torch.Tensor] = {}
    for name, i in problem.spec.inputs.items():
        with meter.stage(f"inputs.{name}"):
            if isinstance(i, SampleInput):
                if name not in drawn:
                    check_size(problem.loaded, ("inputs", name, "sample_shape"),
                               math.prod(i.sample_shape), problem.max_elements)
                    with torch.no_grad():
                        values, _ = _params(problem, meter, i.sample, base)
                        values.update({k: v for k, v in base.items() if k not in values})
                        values.update(drawn)
                        dist = _dist(problem, meter, i.sample, values)
                        drawn[name] = dist.sample(torch.Size(i.sample_shape))
                out[name] = drawn[name]
            elif isinstance(i, ExprTensor):
                values, _ = _params(problem, meter, None, base)
                out[name] = problem.eval_expr(("inputs", name, "expr"), i.expr,
                                              {**values, **out}, torch.float64, meta,
                                              None).detach()
            else:
                out[name] = base[name].clone()
    return out


def _forward(problem: SpecExprs, meter: Meter, side: SideName,
             values: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """What the real run sums and differentiates: log_prob at the input, or the draws."""
    import torch

    from gaussdiag.engine.device import seeded
    from gaussdiag.frontends.yaml.expr import torch_functions

    s = problem.spec.side(side)
    meta = torch.device("meta")
    if s.kind is SideKind.LOG_PROB:
        assert s.log_prob is not None
        with meter.stage(f"{side.value}.log_prob"):
            return problem.eval_expr((side.value, "log_prob"), s.log_prob, values,
                                     torch.float64, meta, side)
    shape = torch.Size(problem.spec.sample_shape)
    if s.kind is SideKind.EXPR:
        assert s.expr is not None
        functions = torch_functions(sample_shape=tuple(shape), max_elements=problem.max_elements)
        with meter.stage(f"{side.value}.expr"), seeded(problem.spec.seed):
            return problem.eval_expr((side.value, "expr"), s.expr, values, torch.float64, meta,
                                     side, functions=functions, allow_randn=True)
    dist = _dist(problem, meter, side, values)
    with meter.stage(f"{side.value}.dist"):
        if problem.spec.mode is Mode.RSAMPLE:
            draw: Callable[..., torch.Tensor] = dist.rsample if dist.has_rsample else dist.sample
            return draw(shape)
        return dist.log_prob(values[_at(problem, side)])  # type: ignore[no-any-return]


def _dist(problem: SpecExprs, meter: Meter, side: SideName,
          values: Mapping[str, torch.Tensor]) -> Any:
    """The side's distribution on meta, unvalidated (meta tensors hold no values)."""
    import torch

    from gaussdiag.frontends.yaml.bind.sides import wrap

    s = problem.spec.side(side)
    assert s.dist is not None
    meta, f64 = torch.device("meta"), torch.float64

    def arg(key: str, source: Any) -> torch.Tensor:
        with meter.stage(f"{side.value}.args.{key}"):
            return problem.eval_expr((side.value, "args", key), source, values, f64, meta, side)

    args = dist_args.arguments(
        s.dist, s.args, arg,
        lambda k, message: problem.loaded.error((side.value, "args", k), message))
    with meter.stage(f"{side.value}.dist"):
        base = dist_args.torch_class(s.dist)(**args, validate_args=False)
        dist: Any = wrap(problem, side, base, values, f64, meta, validate=False)
    return dist


def _at(problem: SpecExprs, side: SideName) -> str:
    at = problem.spec.at_for(side)
    if at is None:  # the real run says so, located
        raise LookupError("no input to evaluate log_prob at")
    return at
