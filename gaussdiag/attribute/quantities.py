"""The compared quantities and their own verdicts: normwise differences, `judge` (tolerance.py's
thresholds applied to one quantity), the point's quantities, and train mode's trajectories."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from gaussdiag import tolerance as tl
from gaussdiag.engine.evaluate import SideRun, TrainFailure, TrainRun
from gaussdiag.results import Quantity, Trajectory
from gaussdiag.vocab import DType, SideName, Verdict

if TYPE_CHECKING:
    import torch

Trains = dict[DType, dict[SideName, "TrainRun | TrainFailure"]]


def normwise(a: torch.Tensor, b: torch.Tensor) -> float:
    """max|a - b| / max(max|a|, max|b|), in float64; 0 when both are zero."""
    import torch

    a64, b64 = a.detach().double(), b.detach().double()
    if a64.numel() == 0:
        return 0.0
    scale = max(float(a64.abs().max()), float(b64.abs().max()))
    # identical elements (equal infinities included) differ by nothing
    diff = float(torch.where(a64 == b64, 0.0, (a64 - b64).abs()).max())
    if math.isnan(diff) or math.isnan(scale):
        return math.nan
    if scale == 0.0:
        return 0.0
    if math.isinf(scale):
        return 0.0 if diff == 0 or math.isnan(diff) else math.inf
    return diff / scale


def runs_agree(x: SideRun, y: SideRun, tol: float) -> bool:
    """Values (and gradients, when both runs computed them) within tol."""
    if x.value.shape != y.value.shape or normwise(x.value, y.value) > tol:
        return False
    if not x.grads or not y.grads:  # a forward-only run: values are all there is
        return True
    for name in set(x.grads) | set(y.grads):
        gx, gy = x.grads.get(name), y.grads.get(name)
        if (gx is None) != (gy is None):
            return False
        if gx is not None and gy is not None and normwise(gx, gy) > tol:
            return False
    return True


def compute_quantities(pairs: Mapping[DType, tuple[SideRun, SideRun]], kappa: float,
                       grad_names: list[str], value_name: str = "log_prob") -> list[Quantity]:
    """The value (log_prob or draws) and grad[p] for every param with a gradient on both
    sides."""
    if DType.FLOAT64 not in pairs:
        return []
    diffs: dict[str, dict[DType, float]] = {value_name: {}}
    for dt, (a, b) in pairs.items():
        diffs[value_name][dt] = normwise(a.value, b.value) if a.value.shape == b.value.shape \
            else math.inf
        for name in grad_names:
            ga, gb = a.grads.get(name), b.grads.get(name)
            if ga is not None and gb is not None:
                diffs.setdefault(f"grad[{name}]", {})[dt] = normwise(ga, gb)
    return [judge(name, diff, kappa) for name, diff in diffs.items() if DType.FLOAT64 in diff]


def judge(name: str, diff: dict[DType, float], kappa: float) -> Quantity:
    """A quantity's own verdict from its diffs (tolerance.py's thresholds). A persisting one
    is `mismatch` until the search explains it."""
    agree = tl.within(diff)
    persist = not agree and tl.persists(diff, kappa)
    verdict = Verdict.AGREE if agree else Verdict.MISMATCH if persist else Verdict.ROUND_OFF
    return Quantity(name, verdict, dict(diff), {dt: tl.tol(dt) for dt in diff},
                    tl.shrink(diff), persist)


def _gaps(a: TrainRun, b: TrainRun) -> list[float]:
    # a run that ended early (Ctrl-C, a broken constraint) is compared over its steps only
    return [normwise(pa, pb) for pa, pb in zip(a.params, b.params, strict=False)]


def _runs_of(sides: Mapping[SideName, TrainRun | TrainFailure]) -> tuple[TrainRun, TrainRun]:
    a, b = (r.partial if isinstance(r, TrainFailure) else r for r in
            (sides[SideName.A], sides[SideName.B]))
    return a, b


def trajectory_quantity(trains: Trains, kappa: float) -> list[Quantity]:
    """train mode's one quantity: the largest gap over the steps, per dtype."""
    diff: dict[DType, float] = {}
    for dt, sides in trains.items():
        gaps = _gaps(*_runs_of(sides))
        if gaps:
            diff[dt] = max(gaps, key=lambda g: -1.0 if math.isnan(g) else g)
    if DType.FLOAT64 not in diff:
        return []
    return [judge("trajectory", diff, kappa)]


def trajectories(trains: Trains) -> list[Trajectory]:
    out = []
    for dt, sides in trains.items():
        a, b = _runs_of(sides)
        gaps = _gaps(a, b)
        failed = next((str(r) for r in sides.values() if isinstance(r, TrainFailure)), None)
        out.append(Trajectory(dt, tuple(gaps), a.losses, b.losses, growth_rate(gaps), failed))
    return out


def growth_rate(gaps: list[float]) -> float | None:
    """The gap's fitted growth factor per step (least squares on log10 of the non-zero,
    finite gaps): ~1 flat, > 1 growing. Round-off that grows exponentially marks an unstable
    problem."""
    pts = [(i, math.log10(g)) for i, g in enumerate(gaps, 1) if g > 0 and math.isfinite(g)]
    if len(pts) < 3:
        return None
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in pts) / sxx
    return float(10.0 ** slope)
