"""RULES: the one place a verdict is decided. The rules are tried in this order and the first
that finds something is the verdict (spec-v1's precedence):

  1. invalid-parameters  a side's arguments break a constraint (any dtype), or a
                         linear-algebra step on them fails
  2. non-finite          NaN or inf in a value or gradient, any side, any dtype
  3. no-gradient         a param gets a gradient on one side and none on the other
  4. different-draws     rsample mode: same law, different map from noise to sample
  5. parameterization    something persists in float64, and one transform of one param on
                         one side (candidates.py, or a composition of two) explains everything
  6. mismatch            something persists in float64, unexplained by a reparameterization;
                         what relates the sides (relations.py) gives its words and structure
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
from gaussdiag.attribute.candidates import CANDIDATES
from gaussdiag.attribute.cause_words import describe
from gaussdiag.attribute.facts import Facts
from gaussdiag.attribute.quantities import normwise
from gaussdiag.attribute.relation_words import words
from gaussdiag.attribute.relations import relate
from gaussdiag.attribute.round_off_words import float64_only, shrunk
from gaussdiag.engine.evaluate import SideRun, TrainFailure
from gaussdiag.engine.failures import ConstraintFailure
from gaussdiag.results import Alternative, Cause, Quantity, RoundOff, Structure
from gaussdiag.vocab import DType, Method, Mode, SideKind, SideName, Verdict


@dataclass(frozen=True)
class Diagnosis:
    """A rule's answer: the verdict's explanation, its fix and (parameterization) its cause
    and the other side's fixes, (round-off) its size and blame, (mismatch) the relation
    between the sides."""

    explanation: str
    fix: str
    cause: Cause | None = None
    round_off: RoundOff | None = None
    structure: Structure | None = None
    also: tuple[Alternative, ...] = ()


Rule = Callable[[Facts], "Diagnosis | None"]


def _invalid(facts: Facts) -> Diagnosis | None:
    failures = facts.failures()
    if not failures and facts.trains is not None:
        stopped = [r for sides in facts.trains.values() for r in sides.values()
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
    where = _failed_dtypes(facts, first.side)
    only = ""
    ok_dtypes = [dt for dt in facts.runs if dt not in where]
    if ok_dtypes:
        only = (f" in {', '.join(d.value for d in where)} only "
                f"({', '.join(d.value for d in ok_dtypes)} is fine: round-off breaks it)")
    what = first.described
    if first.index and "index" not in (first.detail or ""):  # () is an unbatched argument
        what += f"; first failing batch index {list(first.index)}"
    return Diagnosis(f"side {first.side.value}{only}: {what}", first.fix or "")


def _failed_dtypes(facts: Facts, side: SideName) -> list[DType]:
    return [dt for dt, sides in facts.runs.items() if isinstance(sides[side], ConstraintFailure)]


def _non_finite(facts: Facts) -> Diagnosis | None:
    import torch

    found: list[str] = []
    value = "draws" if facts.problem.mode is Mode.RSAMPLE else "log_prob"
    # every side that ran, not only dtypes where both did: when the other side broke a
    # constraint, this side's NaN draws are still a problem of its own (listed as `also`)
    for dt, ran in facts.runs.items():
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
    for dt, sides in (facts.trains or {}).items():
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


def _no_gradient(facts: Facts) -> Diagnosis | None:
    """The first param that gets a gradient on one side only, and with it every other param
    the same side cuts for the same reason (sample() cuts them all at once)."""
    pairs = facts.pairs()
    if DType.FLOAT64 not in pairs:
        return None
    a, b = pairs[DType.FLOAT64]
    cut: list[tuple[str, SideName, str]] = []  # (param, side without its gradient, why)
    for name in facts.problem.grad_names:
        has = {SideName.A: a.grads.get(name) is not None, SideName.B: b.grads.get(name) is not None}
        if has[SideName.A] != has[SideName.B]:
            without = SideName.A if not has[SideName.A] else SideName.B
            cut.append((name, without, _why_cut(facts, name, without)))
    if not cut:
        return None
    _, without, why = cut[0]
    names = [n for n, s, w in cut if (s, w) == (without, why)]
    if why == "unused":  # one param at a time: the fix is about that param
        name = names[0]
        return Diagnosis(f"`{name}` gets a gradient on side {without.other.value} and none on "
                         f"side {without.value}, which does not use `{name}` at all",
                         f"make side {without.value} depend on `{name}`, or "
                         f"{facts.problem.phrases.constant}")
    shown = _backticked(names)
    head = (f"{shown} {'gets' if len(names) == 1 else 'get'} a gradient on side "
            f"{without.other.value} and none on side {without.value}")
    if why == "sample":
        return Diagnosis(
            f"{head}: side {without.value} draws with sample(), which runs without autograd, "
            "so its draws are constants to backward()",
            f"{facts.problem.phrases.use_rsample.format(side=without.value)}, or write the "
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


def _why_cut(facts: Facts, name: str, without: SideName) -> str:
    """Why side `without` gives `name` no gradient: unused, sample (a spec side's
    `method: sample`), constant draws (rsample mode, no param reaches the draws at all:
    sample() or a detach in a side the spec cannot see into) or cut (a detach)."""
    used = facts.problem.params_used(without, leaves_only=True)
    if name not in used:
        return "unused"
    if facts.problem.mode is Mode.RSAMPLE:
        if facts.problem.method(without) is Method.SAMPLE:
            return "sample"
        run = next(r for r in facts.pairs()[DType.FLOAT64] if r.side is without)
        if all(run.grads.get(n) is None for n in used):
            return "constant draws"
    return "cut"


def _backticked(names: list[str]) -> str:
    shown = [f"`{n}`" for n in names]
    return ", ".join(shown[:-1]) + f" and {shown[-1]}" if len(shown) > 1 else shown[0]


def _different_draws(facts: Facts) -> Diagnosis | None:
    """rsample mode: the draws persist, yet each side's log_prob agrees at both sides' draws
    (same law, different map from noise to sample)."""
    import torch

    if facts.problem.mode is not Mode.RSAMPLE:
        return None
    draws = next((q for q in facts.quantities if q.name == "draws"), None)
    if draws is None or not draws.persists:
        return None
    if any(facts.problem.kind(s) is not SideKind.DIST for s in SideName):
        return None  # an `expr` side has no log_prob to test the law with
    pairs = facts.pairs()
    if DType.FLOAT64 not in pairs:
        return None
    tol64 = tl.search_tol(facts.kappa)
    worst = 0.0
    try:
        with torch.no_grad():
            built = {s: facts.problem.build(s, facts.problem.env(DType.FLOAT64, s, with_grad=False),
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


def _parameterization(facts: Facts) -> Diagnosis | None:
    if not facts.persisting():
        return None
    if not any(q.persists for q in facts.point_quantities):
        return None  # train mode: the sides agree at the start and drift apart later
    found = facts.explanation()
    if found is None:
        return None
    text, fix, also = describe(facts, found)
    return Diagnosis(text, fix, cause=found.cause, also=also)


def _mismatch(facts: Facts) -> Diagnosis | None:
    persisting = facts.persisting()
    if not persisting:
        return None
    listed = ", ".join(f"{q.name} {q.diff[DType.FLOAT64]:.3g}" for q in persisting[:4])
    tried = ", ".join(c.name for c in CANDIDATES)
    # what relates the sides at the point (relations.py); none when only training drifts
    found = relate(facts) if any(q.persists for q in facts.point_quantities) else None
    structure = found.structure if found is not None else None
    zeros = _structural_zeros(facts, persisting)
    if zeros:
        return Diagnosis(
            f"differences persist in float64 ({listed}), and only in gradient entries where "
            f"{zeros} is exactly zero: one side reads only part of it (scale_tril reads the "
            "lower triangle), the other all of it (e.g. through L @ transpose(L)), so their "
            "gradients differ where the param is structurally zero. Values agree",
            f"derive {zeros} from a free parameter through the structure on both sides, e.g. "
            f"{facts.problem.phrases.structure}, so no gradient reaches the entries that must "
            "stay zero", structure=structure)
    if facts.trains is not None and not any(q.persists for q in facts.point_quantities):
        return Diagnosis(
            f"the trajectories drift apart in float64 too ({listed}), although the sides agree "
            "at the starting point: they differ somewhere training takes them (a clamp or a "
            "branch that only bites after some steps)",
            "find the step where the gap appears (see the table) and compare the sides at the "
            "parameters reached there")
    if found is not None:
        text, fix = words(facts.problem, found)
        said = ("at the starting point, " if facts.trains is not None else "") + text
        said = said[0].upper() + said[1:]
        return Diagnosis(f"differences persist in float64 ({listed}): not round-off, and no "
                         f"reparameterization of one param explains them. {said}", fix,
                         structure=structure)
    return Diagnosis(
        f"differences persist in float64 ({listed}): not round-off. No reparameterization of "
        f"one param on either side ({tried}, or a composition of two) explains them, and "
        "there is no simple relation between the sides (no common factor or constant, no term "
        "of the point alone, no subset of params or elements)",
        f"the two sides compute different functions: compare them term by term "
        f"({facts.problem.phrases.bisect}), and check every argument's meaning in the "
        "torch.distributions docs")


def _structural_zeros(facts: Facts, persisting: list[Quantity]) -> str | None:
    """The leaf params (as `name` list) whose gradient diff lies only where the param is zero,
    when the values and every other quantity agree; None otherwise."""
    import torch

    pairs = facts.pairs()
    if DType.FLOAT64 not in pairs or any(not q.name.startswith("grad[") for q in persisting):
        return None
    a, b = pairs[DType.FLOAT64]
    tol64 = tl.search_tol(facts.kappa)
    names = []
    for q in persisting:
        name = q.name[len("grad["):-1]
        ga, gb, p = a.grads.get(name), b.grads.get(name), facts.problem.base.get(name)
        if ga is None or gb is None or p is None or p.shape != ga.shape:
            return None
        zero = p == 0
        off = torch.where(zero, 0.0, (ga.double() - gb.double()).abs())
        scale = max(float(ga.abs().max()), float(gb.abs().max()), 1e-300)
        if not bool(zero.any()) or float(off.max()) / scale > tol64:
            return None
        names.append(f"`{name}`")
    return ", ".join(names) if names else None


def _round_off(facts: Facts) -> Diagnosis | None:
    if all(q.verdict is Verdict.AGREE for q in facts.quantities):
        return None
    off = [q for q in facts.quantities if q.verdict is not Verdict.AGREE]
    worst = max(off, key=lambda q: q.diff[tl.low_dtype(list(q.diff))])
    low = tl.low_dtype(list(worst.diff))
    if low is not DType.FLOAT64 and all(q.diff[low] <= tl.tol(low) for q in off):
        text, fix, size = float64_only(facts, off, low)  # nothing shrank: low shows no gap
    else:
        text, fix, size = shrunk(facts, worst, low)
    return Diagnosis(text, fix, round_off=size)


def _agree(facts: Facts) -> Diagnosis | None:
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
