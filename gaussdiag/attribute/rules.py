"""RULES: the one place a verdict is decided. The rules are tried in this order and the first
that finds something is the verdict (spec-v1's precedence):

  1. invalid-parameters  a side's arguments break a constraint (any dtype), or a
                         linear-algebra step on them fails
  2. non-finite          NaN or inf in a value or gradient, any side, any dtype
  3. no-gradient         a param gets a gradient on one side and none on the other
  4. different-draws     rsample mode: same law, different map from noise to sample
  5. parameterization    something persists in float64, and one transform of one param on
                         one side (candidates.py, or a composition of two) explains everything
  6. mismatch            something persists in float64, unexplained
  7. round-off           not all within tol, nothing persists
  8. agree               every diff within tol(dtype) in every dtype

Thresholds (tol, persistence) live in `tolerance.py`; the search's order in `search.py`.
ALSO_REPORTED rules run even after a higher rule decided, so every side's problem is listed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from gaussdiag import tolerance as tl
from gaussdiag.attribute import accuracy
from gaussdiag.attribute.candidates import CANDIDATES
from gaussdiag.attribute.explain import describe
from gaussdiag.attribute.facts import Facts
from gaussdiag.attribute.quantities import normwise
from gaussdiag.build import ConstraintFailure
from gaussdiag.evaluate import SideRun, TrainFailure
from gaussdiag.results import Cause, Quantity, RoundOff
from gaussdiag.vocab import DType, Method, Mode, SideName, Verdict


@dataclass(frozen=True)
class Diagnosis:
    """A rule's answer: the verdict's explanation, its fix and (parameterization) its cause."""

    explanation: str
    fix: str
    cause: Cause | None = None
    round_off: RoundOff | None = None


Rule = Callable[[Facts], "Diagnosis | None"]


def _invalid(ev: Facts) -> Diagnosis | None:
    failures = ev.failures()
    if not failures and ev.trains is not None:
        stopped = [r for sides in ev.trains.values() for r in sides.values()
                   if isinstance(r, TrainFailure)]
        if stopped:
            f = stopped[0]
            cause = f.cause
            fix = cause.fix if isinstance(cause, ConstraintFailure) and cause.fix else ""
            return Diagnosis(f"training side {f.side.value} in {f.dtype.value}: step {f.step} "
                           f"produced parameters that break a constraint: {cause}",
                           fix or "lower the learning rate, or parameterize so the constraint "
                           "holds by construction (softplus, exp, a Cholesky factor)")
    if not failures:
        return None
    first = failures[0]
    where = _failed_dtypes(ev, first.side)
    only = ""
    ok_dtypes = [dt for dt in ev.runs if dt not in where]
    if ok_dtypes:
        only = (f" in {', '.join(d.value for d in where)} only "
                f"({', '.join(d.value for d in ok_dtypes)} is fine: round-off breaks it)")
    what = first.described
    if first.index and "index" not in (first.detail or ""):  # () is an unbatched argument
        what += f"; first failing batch index {list(first.index)}"
    return Diagnosis(f"side {first.side.value}{only}: {what}", first.fix or "")


def _failed_dtypes(ev: Facts, side: SideName) -> list[DType]:
    return [dt for dt, sides in ev.runs.items() if isinstance(sides[side], ConstraintFailure)]


def _non_finite(ev: Facts) -> Diagnosis | None:
    import torch

    found: list[str] = []
    value = "draws" if ev.problem.mode is Mode.RSAMPLE else "log_prob"
    # every side that ran, not only dtypes where both did: when the other side broke a
    # constraint, this side's NaN draws are still a problem of its own (listed as `also`)
    for dt, ran in ev.runs.items():
        for run in (r for r in ran.values() if isinstance(r, SideRun)):
            items: list[tuple[str, torch.Tensor | None]] = [(value, run.value)]
            items += [(f"grad[{n}]", g) for n, g in run.grads.items()]
            for qname, t in items:
                if t is None:
                    continue
                nan = int(torch.isnan(t).sum())
                inf = int(torch.isinf(t).sum())
                if nan or inf:
                    kinds = " and ".join(x for x in (f"{nan} NaN" if nan else "",
                                                     f"{inf} inf" if inf else "") if x)
                    found.append(f"side {run.side.value}, {dt.value}: {qname} has {kinds} "
                                 f"of {t.numel()} element(s)")
    for dt, sides in (ev.trains or {}).items():
        for r in sides.values():
            trained = r.partial if isinstance(r, TrainFailure) else r
            bad = next((i for i, p in enumerate(trained.params, 1)
                        if not bool(torch.isfinite(p).all())), None)
            if bad is None and not all(math.isfinite(x) for x in trained.losses):
                bad = next(i for i, x in enumerate(trained.losses, 1) if not math.isfinite(x))
            if bad is not None:
                found.append(f"training side {trained.side.value}, {dt.value}: non-finite "
                             f"parameters or loss from step {bad}")
    if not found:
        return None
    more = f"; and {len(found) - 6} more" if len(found) > 6 else ""
    return Diagnosis("; ".join(found[:6]) + more,
                   "see where precision breaks with `gaussdiag precision-check` (tiny scales, "
                   "far-out points); keep scales away from 0 with softplus(raw) plus a floor, or "
                   "work with log-scale parameters")


def _no_gradient(ev: Facts) -> Diagnosis | None:
    """The first param that gets a gradient on one side only, and with it every other param
    the same side cuts for the same reason (sample() cuts them all at once)."""
    pairs = ev.pairs()
    if DType.FLOAT64 not in pairs:
        return None
    a, b = pairs[DType.FLOAT64]
    cut: list[tuple[str, SideName, str]] = []  # (param, side without its gradient, why)
    for name in ev.problem.grad_names:
        has = {SideName.A: a.grads.get(name) is not None, SideName.B: b.grads.get(name) is not None}
        if has[SideName.A] != has[SideName.B]:
            without = SideName.A if not has[SideName.A] else SideName.B
            cut.append((name, without, _why_cut(ev, name, without)))
    if not cut:
        return None
    _, without, why = cut[0]
    names = [n for n, s, w in cut if (s, w) == (without, why)]
    if why == "unused":  # one param at a time: the fix is about that param
        name = names[0]
        return Diagnosis(f"`{name}` gets a gradient on side {without.other.value} and none on "
                         f"side {without.value}, which does not use `{name}` at all",
                         f"make side {without.value} depend on `{name}`, or "
                         f"{ev.problem.phrases.constant}")
    shown = _backticked(names)
    head = (f"{shown} {'gets' if len(names) == 1 else 'get'} a gradient on side "
            f"{without.other.value} and none on side {without.value}")
    if why == "sample":
        return Diagnosis(
            f"{head}: side {without.value} draws with sample(), which runs without autograd, "
            "so its draws are constants to backward()",
            f"{ev.problem.phrases.use_rsample.format(side=without.value)}, or write the "
            "reparameterization by hand so the noise stays out of the graph: "
            "sqrt(var) * randn_like(mean) + mean")
    if why == "constant draws":
        return Diagnosis(
            f"{head}: side {without.value}'s draws carry no gradient to any param, so they are "
            "constants to backward() (drawn with sample(), which runs without autograd, or "
            "detached)", f"keep the draws in the graph on side {without.value}: draw with "
            "rsample(), or remove the detach")
    them = "it" if len(names) == 1 else "them"
    return Diagnosis(f"{head}: side {without.value} uses {them}, but the graph is cut between "
                     f"{them} and the result (detach(), or sample() instead of rsample())",
                     f"keep {shown} in the graph on side {without.value}: remove the detach, "
                     "or draw with rsample()")


def _why_cut(ev: Facts, name: str, without: SideName) -> str:
    """Why side `without` gives `name` no gradient: unused, sample (a spec side's
    `method: sample`), constant draws (rsample mode, no param reaches the draws at all:
    sample() or a detach in a side the spec cannot see into) or cut (a detach)."""
    used = ev.problem.params_used(without, leaves_only=True)
    if name not in used:
        return "unused"
    if ev.problem.mode is Mode.RSAMPLE:
        if ev.problem.method(without) is Method.SAMPLE:
            return "sample"
        run = next(r for r in ev.pairs()[DType.FLOAT64] if r.side is without)
        if all(run.grads.get(n) is None for n in used):
            return "constant draws"
    return "cut"


def _backticked(names: list[str]) -> str:
    shown = [f"`{n}`" for n in names]
    return ", ".join(shown[:-1]) + f" and {shown[-1]}" if len(shown) > 1 else shown[0]


def _different_draws(ev: Facts) -> Diagnosis | None:
    """rsample mode: the draws persist, yet each side's log_prob agrees at both sides' draws
    (same law, different map from noise to sample)."""
    import torch

    if ev.problem.mode is not Mode.RSAMPLE:
        return None
    draws = next((q for q in ev.quantities if q.name == "draws"), None)
    if draws is None or not draws.persists:
        return None
    if any(ev.problem.kind(s) != "dist" for s in SideName):
        return None  # an `expr` side has no log_prob to test the law with
    pairs = ev.pairs()
    if DType.FLOAT64 not in pairs:
        return None
    tol64 = tl.search_tol(ev.kappa)
    worst = 0.0
    try:
        with torch.no_grad():
            built = {s: ev.problem.build(s, ev.problem.env(DType.FLOAT64, s, with_grad=False),
                                         DType.FLOAT64) for s in SideName}
            for run in pairs[DType.FLOAT64]:
                x = run.value
                lp = {s: built[s].log_prob(x) for s in SideName}  # type: ignore[misc]
                worst = max(worst, normwise(lp[SideName.A], lp[SideName.B]))
    except (ConstraintFailure, RuntimeError, ValueError):
        return None
    if worst > tol64:
        return None
    return Diagnosis(
        f"the draws differ (by {draws.diff[DType.FLOAT64]:.3g} in float64) although both sides "
        f"define the same distribution: their log_prob agrees at both sides' draws "
        f"(within {worst:.2g}). Same law, different map from noise to sample (for example "
        "another square root of the covariance), so seeded runs diverge sample by sample",
        "nothing is wrong with either distribution; if seeded draws must match, build both from "
        "the same factor (the same scale_tril), or compare log_prob instead of draws")


def _parameterization(ev: Facts) -> Diagnosis | None:
    if not ev.persisting():
        return None
    if not any(q.persists for q in ev.point_quantities):
        return None  # train mode: the sides agree at the start and drift apart later
    found = ev.explanation()
    if found is None:
        return None
    return Diagnosis(*describe(ev, found), cause=found.cause)


def _mismatch(ev: Facts) -> Diagnosis | None:
    persisting = ev.persisting()
    if not persisting:
        return None
    listed = ", ".join(f"{q.name} {q.diff[DType.FLOAT64]:.3g}" for q in persisting[:4])
    tried = ", ".join(c.name for c in CANDIDATES)
    zeros = _structural_zeros(ev, persisting)
    if zeros:
        return Diagnosis(
            f"differences persist in float64 ({listed}), and only in gradient entries where "
            f"{zeros} is exactly zero: one side reads only part of it (scale_tril reads the "
            "lower triangle), the other all of it (e.g. through L @ transpose(L)), so their "
            "gradients differ where the param is structurally zero. Values agree",
            f"derive {zeros} from a free parameter through the structure on both sides, e.g. "
            f"{ev.problem.phrases.structure}, so no gradient reaches the entries that must "
            "stay zero")
    if ev.trains is not None and not any(q.persists for q in ev.point_quantities):
        return Diagnosis(
            f"the trajectories drift apart in float64 too ({listed}), although the sides agree "
            "at the starting point: they differ somewhere training takes them (a clamp or a "
            "branch that only bites after some steps)",
            "find the step where the gap appears (see the table) and compare the sides at the "
            "parameters reached there")
    return Diagnosis(
        f"differences persist in float64 ({listed}): not round-off. No reparameterization of "
        f"one param on either side ({tried}, or a composition of two) explains them",
        f"the two sides compute different functions: compare them term by term "
        f"({ev.problem.phrases.bisect}), and check every argument's meaning in the "
        "torch.distributions docs")


def _structural_zeros(ev: Facts, persisting: list[Quantity]) -> str | None:
    """The leaf params (as `name` list) whose gradient diff lies only where the param is zero,
    when the values and every other quantity agree; None otherwise."""
    import torch

    pairs = ev.pairs()
    if DType.FLOAT64 not in pairs or any(not q.name.startswith("grad[") for q in persisting):
        return None
    a, b = pairs[DType.FLOAT64]
    tol64 = tl.search_tol(ev.kappa)
    names = []
    for q in persisting:
        name = q.name[len("grad["):-1]
        ga, gb, p = a.grads.get(name), b.grads.get(name), ev.problem.base.get(name)
        if ga is None or gb is None or p is None or p.shape != ga.shape:
            return None
        zero = p == 0
        off = torch.where(zero, 0.0, (ga.double() - gb.double()).abs())
        scale = max(float(ga.abs().max()), float(gb.abs().max()), 1e-300)
        if not bool(zero.any()) or float(off.max()) / scale > tol64:
            return None
        names.append(f"`{name}`")
    return ", ".join(names) if names else None


def _round_off(ev: Facts) -> Diagnosis | None:
    if all(q.verdict is Verdict.AGREE for q in ev.quantities):
        return None
    worst = max((q for q in ev.quantities if q.verdict is not Verdict.AGREE),
                key=lambda q: q.diff[tl.low_dtype(list(q.diff))])
    low = tl.low_dtype(list(worst.diff))
    gap = worst.diff[low]
    text = (f"differences exceed tol in {low.value} but shrink in float64 ({worst.name}: "
            f"{gap:.3g} in {low.value}, {worst.diff[DType.FLOAT64]:.3g} in float64): "
            "floating-point round-off, not a bug")
    explained = tl.explained(low, ev.kappa)
    ratio = gap / explained
    text += (f". The gap is {ratio:.3g}x what the conditioning explains "
             f"(tol({low.value}) x kappa = {explained:.3g}, kappa {ev.kappa:.3g})")
    digits = _side_digits(ev, low)
    worse = accuracy.worse_side(digits)
    fix = "nothing to fix in the parameterization"
    if low is not DType.FLOAT64:
        kept = ", ".join(f"{s.value} {d:.1f}" for s, d in digits.items() if not math.isnan(d))
        if worse is not None:
            text += (f"; side {worse.value} loses more digits against its own float64 run "
                     f"(digits kept in the worst quantity: {kept})")
            fix += (f"; if the {low.value} gap matters, rewrite side {worse.value} (prefer "
                    "better-conditioned forms: scale_tril over covariance_matrix, no explicit "
                    "inverse) or compute in float64")
        else:
            if kept:
                text += f"; both sides lose about as many digits ({kept})"
            fix += (f"; if the {low.value} gap matters, prefer better-conditioned forms "
                    "(scale_tril over covariance_matrix) or compute in float64")
    return Diagnosis(text, fix, round_off=RoundOff(worst.name, low, gap, explained, ratio,
                                                 digits, worse))


def _side_digits(ev: Facts, low: DType) -> dict[SideName, float]:
    """Each side's worst quantity, in digits its `low` run keeps against its own float64 run
    (accuracy.py, as `precision-check SPEC` computes them). NaN where unknown."""
    out = {s: math.nan for s in SideName}
    if low is DType.FLOAT64:
        return out
    for side, quantities in ev.side_accuracy(low).items():
        out[side] = accuracy.worst(quantities)
    return out


def _agree(ev: Facts) -> Diagnosis | None:
    return Diagnosis("every difference is within tol in every dtype", "")


# The precedence table: first match wins.
RULES: tuple[tuple[Verdict, Rule], ...] = (
    (Verdict.INVALID_PARAMETERS, _invalid),
    (Verdict.NON_FINITE, _non_finite),
    (Verdict.NO_GRADIENT, _no_gradient),
    (Verdict.DIFFERENT_DRAWS, _different_draws),
    (Verdict.PARAMETERIZATION, _parameterization),
    (Verdict.MISMATCH, _mismatch),
    (Verdict.ROUND_OFF, _round_off),
    (Verdict.AGREE, _agree),
)

# Problems cheap enough to look for even when a higher rule already decided the verdict.
ALSO_REPORTED = (Verdict.INVALID_PARAMETERS, Verdict.NON_FINITE, Verdict.NO_GRADIENT)
