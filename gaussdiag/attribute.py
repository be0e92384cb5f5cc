"""Decide a spec's verdict: the one place where verdicts are made.

RULES below is the spec's precedence, first match wins:

  1. invalid-parameters  a side's arguments break a constraint (any dtype), or a
                         linear-algebra step on them fails
  2. non-finite          NaN or inf in a value or gradient, any side, any dtype
  3. no-gradient         a param gets a gradient on one side and none on the other
  4. different-draws     rsample mode: same law, different map from noise to sample
  5. parameterization    something persists in float64, and one transform of one param on
                         one side (CANDIDATES, or a composition of two) explains everything
  6. mismatch            something persists in float64, unexplained
  7. round-off           not all within tol, nothing persists
  8. agree               every diff within tol(dtype) in every dtype

Thresholds (tol, persistence) live in `tolerance.py`. The search tries CANDIDATES in order,
for each one side a then side b, params in declaration order; it tests values before
gradients and the spec's point before the jittered one, and stops at the first transform that
explains every quantity. Compositions of two are tried only when no single transform explains.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gaussdiag import accuracy
from gaussdiag import expr as ex
from gaussdiag import tolerance as tl
from gaussdiag.build import ConstraintFailure, Overrides
from gaussdiag.evaluate import SideRun, TrainFailure, TrainRun, moments, run_side
from gaussdiag.results import Cause, Evidence, Quantity, RoundOff, Trajectory
from gaussdiag.results import Problem as Issue
from gaussdiag.spec import AffineTransform, ExprTensor, PowerTransform
from gaussdiag.vocab import DType, Method, Mode, SideName, Verdict

if TYPE_CHECKING:
    import torch

    from gaussdiag.build import Problem as SpecProblem
    from gaussdiag.problem import Problem

Runs = dict[DType, dict[SideName, "SideRun | ConstraintFailure"]]
Trains = dict[DType, dict[SideName, "TrainRun | TrainFailure"]]
Progress = Callable[[str], None]


# ---- reparameterization candidates -----------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """`fn` applied to a param on one side; `template` writes it into a fix ({} is the param);
    `expects` says in words what the side really wants; `inverse` undoes it (a composition of
    a candidate with its inverse is a no-op and is never tried)."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    template: str
    expects: str
    inverse: str
    matrix: bool = False


def _softplus(t: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F

    return F.softplus(t)


def _softplus_inv(t: torch.Tensor) -> torch.Tensor:
    return t + (-(-t).expm1()).log()  # log(expm1(t)) without overflow for large t


def _logit(t: torch.Tensor) -> torch.Tensor:
    return t.log() - (-t).log1p()  # NaN outside [0, 1]: such a candidate changes nothing


def _inverse(t: torch.Tensor) -> torch.Tensor:
    import torch

    out: torch.Tensor = torch.linalg.inv(t)
    return out


def _cholesky(t: torch.Tensor) -> torch.Tensor:
    import torch

    out: torch.Tensor = torch.linalg.cholesky(t)
    return out


# Ordered by how often the mix-up happens: std vs variance first (the seed thread), then a
# forgotten exp of a log-scale, softplus, precision vs variance, then the matrix forms.
CANDIDATES: tuple[Candidate, ...] = (
    Candidate("square", lambda t: t.square(), "{p}**2",
              "the square of `{p}` (a variance where `{p}` is a standard deviation)", "sqrt"),
    Candidate("sqrt", lambda t: t.sqrt(), "sqrt({p})",
              "the square root of `{p}` (a standard deviation where `{p}` is a variance)",
              "square"),
    Candidate("exp", lambda t: t.exp(), "exp({p})",
              "exp(`{p}`) (`{p}` is a log-scale value and the exp is missing)", "log"),
    Candidate("log", lambda t: t.log(), "log({p})",
              "log(`{p}`) (`{p}` is used as a log-scale value but holds the scale itself)", "exp"),
    Candidate("softplus", _softplus, "softplus({p})",
              "softplus(`{p}`) (`{p}` is a raw value and the softplus is missing)",
              "softplus_inv"),
    Candidate("softplus_inv", _softplus_inv, "log(expm1({p}))",
              "the inverse softplus of `{p}` (softplus is applied to a value already positive)",
              "softplus"),
    Candidate("reciprocal", lambda t: t.reciprocal(), "1 / {p}",
              "1 / `{p}` (a precision where a variance is given, or a rate where a scale is)",
              "reciprocal"),
    # Probabilities: logits passed where probabilities are expected (Bernoulli, Binomial,
    # Geometric: probs= against logits=), and the complementary probability (scipy's p is
    # torch's 1 - p for NegativeBinomial). Categorical normalizes its logits, so there the
    # mix-up is `log` (logits=log(p) is probs=p).
    Candidate("sigmoid", lambda t: t.sigmoid(), "sigmoid({p})",
              "sigmoid(`{p}`) (`{p}` holds logits where a probability is expected)", "logit"),
    Candidate("logit", _logit, "log({p}) - log1p(-{p})",
              "logit(`{p}`) (`{p}` holds a probability where logits are expected)", "sigmoid"),
    Candidate("complement", lambda t: 1 - t, "1 - {p}",
              "1 - `{p}` (the complementary probability: success and failure swapped)",
              "complement"),
    Candidate("gram", lambda t: t @ t.transpose(-1, -2), "{p} @ transpose({p})",
              "`{p} @ transpose({p})` (a covariance where `{p}` is a Cholesky factor)",
              "cholesky", matrix=True),
    Candidate("cholesky", _cholesky, "cholesky({p})",
              "the Cholesky factor of `{p}` (a scale_tril where `{p}` is a covariance)", "gram",
              matrix=True),
    Candidate("inverse", _inverse, "inverse({p})",
              "the inverse of `{p}` (a precision matrix where `{p}` is a covariance)", "inverse",
              matrix=True),
)

# Idiomatic alternatives to a fix, keyed by (argument name, transform): the argument swap that
# says the same thing without the transform.
ALTERNATIVES: dict[tuple[str, str], str] = {
    ("covariance_matrix", "square"): "scale_tril",
    ("covariance_matrix", "gram"): "scale_tril",
    ("precision_matrix", "inverse"): "covariance_matrix",
    ("covariance_matrix", "inverse"): "precision_matrix",
    ("covariance_matrix", "reciprocal"): "precision_matrix",
    ("probs", "sigmoid"): "logits",
    ("logits", "logit"): "probs",
    ("logits", "log"): "probs",
}


@dataclass(frozen=True)
class Explanation:
    """The search's answer: which transform explains, and whether the jittered point was
    checked too (False only when it is invalid for the other side)."""

    cause: Cause
    steps: tuple[Candidate, ...]
    jitter_checked: bool


# ---- findings and rules ----------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A rule's answer: the verdict's explanation, its fix and (parameterization) its cause."""

    explanation: str
    fix: str
    cause: Cause | None = None
    round_off: RoundOff | None = None


@dataclass
class Facts:
    """What the rules look at. Quantities and the search are computed on first use."""

    problem: Problem
    runs: Runs
    kappa: float
    progress: Progress | None = None
    trains: Trains | None = None
    notes: list[str] = field(default_factory=list)
    _quantities: list[Quantity] | None = None
    _trajectory: list[Quantity] | None = None
    _explanation: Explanation | None = None
    _searched: bool = False
    _checker: _Checker | None = None

    # ---- base data ---------------------------------------------------------------------

    def pairs(self) -> dict[DType, tuple[SideRun, SideRun]]:
        """Dtypes in which both sides ran."""
        out = {}
        for dt, sides in self.runs.items():
            a, b = sides[SideName.A], sides[SideName.B]
            if isinstance(a, SideRun) and isinstance(b, SideRun):
                out[dt] = (a, b)
        return out

    def failures(self) -> list[ConstraintFailure]:
        return [r for sides in self.runs.values() for r in sides.values()
                if isinstance(r, ConstraintFailure)]

    @property
    def point_quantities(self) -> list[Quantity]:
        """log_prob (or the draws) and grad[p] at the spec's point."""
        if self._quantities is None:
            name = "draws" if self.problem.mode is Mode.RSAMPLE else "log_prob"
            self._quantities = compute_quantities(self.pairs(), self.kappa,
                                                  self.problem.grad_names, value_name=name)
        return self._quantities

    @property
    def quantities(self) -> list[Quantity]:
        """What the verdict is judged on: the trajectory in train mode, else the point's."""
        if self.trains is None:
            return self.point_quantities
        if self._trajectory is None:
            self._trajectory = trajectory_quantity(self.trains, self.kappa)
        return self._trajectory

    def persisting(self) -> list[Quantity]:
        return [q for q in self.quantities if q.persists]

    # ---- the search --------------------------------------------------------------------

    def explanation(self) -> Explanation | None:
        if not self._searched:
            self._searched = True
            self._explanation = self._search()
        return self._explanation

    def reference(self, side: SideName, jittered: bool, grads: bool) -> SideRun | None:
        """A float64 run of `side` on the full problem without overrides (cached)."""
        return self._full.reference(side, jittered, grads)

    @property
    def _full(self) -> _Checker:
        if self._checker is None:
            self._checker = _Checker(self.problem, self.kappa, self.runs.get(DType.FLOAT64, {}))
        return self._checker

    def _screen(self) -> _Checker | None:
        """A sliced copy of the problem for cheap screening, if it is faithful: the same
        quantities persist (beyond tol in float64) as on the full problem."""
        small = self.problem.sliced()
        if small is None:
            return None
        checker = _Checker(small, self.kappa, {})
        a = checker.reference(SideName.A, False, True)
        b = checker.reference(SideName.B, False, True)
        if a is None or b is None:
            return None
        tol64 = tl.search_tol(self.kappa)
        sliced = {q.name: q.diff[DType.FLOAT64] > tol64 for q in compute_quantities(
            {DType.FLOAT64: (a, b)}, self.kappa, self.problem.grad_names)}
        full = {q.name.replace("draws", "log_prob"): q.persists for q in self.point_quantities}
        return checker if sliced == full else None

    def _search(self) -> Explanation | None:
        screen = self._screen()
        if screen is not None:
            self.notes.append("the explanation search screened candidates on a slice of the "
                              "largest dimension, then confirmed at full size")
        targets = [(s, p) for s in SideName for p in self.problem.params_used(s)]
        singles = [(c,) for c in CANDIDATES]
        for steps_list in (singles, list(_compositions())):
            for steps in steps_list:
                for side, param in targets:
                    fn = _chain(steps)
                    first = screen or self._full
                    if not first.changes(side, param, fn, steps):
                        continue
                    if self.progress:
                        self.progress(f"trying {_name(steps)}({param}) on side {side.value}")
                    jitter_checked = first.explains(side, param, fn)
                    if jitter_checked is None:
                        continue
                    if screen is not None:  # confirm at full size
                        confirmed = self._full.explains(side, param, fn, screened=True)
                        if confirmed is None:
                            continue
                        jitter_checked = jitter_checked and confirmed
                    return Explanation(Cause(side, param, _name(steps)), steps,
                                       jitter_checked)
        return None


def _chain(steps: tuple[Candidate, ...]) -> Callable[[torch.Tensor], torch.Tensor]:
    def fn(t: torch.Tensor) -> torch.Tensor:
        for c in steps:
            t = c.fn(t)
        return t

    return fn


def _name(steps: tuple[Candidate, ...]) -> str:
    return "∘".join(c.name for c in reversed(steps))


class _Checker:
    """Tests candidates on one problem (the full one, or a slice of it) in float64, caching
    the other side's reference runs."""

    def __init__(self, problem: Problem, kappa: float,
                 base: Mapping[SideName, SideRun | ConstraintFailure]) -> None:
        self.problem = problem
        self.tol64 = tl.search_tol(kappa)
        self._cache: dict[tuple[SideName, bool, bool], SideRun | ConstraintFailure] = {
            (s, False, True): r for s, r in base.items()}

    def reference(self, side: SideName, jittered: bool, grads: bool) -> SideRun | None:
        key = (side, jittered, grads)
        if key not in self._cache and (side, jittered, True) in self._cache:
            key = (side, jittered, True)  # a run with gradients has the value too
        if key not in self._cache:
            try:
                self._cache[key] = run_side(self.problem, side, DType.FLOAT64,
                                            jittered=jittered, grads=grads)
            except ConstraintFailure as f:
                self._cache[key] = f
        got = self._cache[key]
        return got if isinstance(got, SideRun) else None

    def changes(self, side: SideName, param: str, fn: Callable[[torch.Tensor], torch.Tensor],
                steps: tuple[Candidate, ...]) -> bool:
        """Applicable, and not a no-op at the jittered point (so exp∘log never explains)."""
        import torch

        try:
            with torch.no_grad():
                p = self.problem.env(DType.FLOAT64, side, jittered=True,
                                     with_grad=False).values[param]
                if any(c.matrix for c in steps) and (p.ndim < 2 or p.shape[-1] != p.shape[-2]):
                    return False
                moved = fn(p)
        except (RuntimeError, ValueError, ConstraintFailure):
            return False
        if moved.shape != p.shape or not bool(torch.isfinite(moved).all()):
            return False
        return normwise(moved, p) > tl.CHANGE_FACTOR * tl.tol(DType.FLOAT64)

    def explains(self, side: SideName, param: str, fn: Callable[[torch.Tensor], torch.Tensor],
                 *, screened: bool = False) -> bool | None:
        """None if the override does not make `side` match the other side in float64;
        else whether the jittered point was checked (False: invalid for the other side).

        Unscreened: values before gradients, the spec's point before the jittered one, so
        wrong candidates fail on a forward pass. Screened (the candidate already explains a
        slice of the problem, gradients at the jittered point included): one forward and
        backward at the spec's point and a forward at the jittered point confirm it."""
        other = side.other
        overrides = {param: fn}
        jitter_ok = self.reference(other, True, grads=False) is not None
        plan = [(False, True), (True, False)] if screened else \
            [(False, False), (True, False), (False, True), (True, True)]
        for jittered, grads in plan:
            if jittered and not jitter_ok:
                continue
            ref = self.reference(other, jittered, grads=grads)
            got = None if ref is None else self._run(side, jittered, overrides, grads=grads)
            if ref is None or got is None or not runs_agree(got, ref, self.tol64):
                return None
        return jitter_ok

    def _run(self, side: SideName, jittered: bool, overrides: Overrides,
             grads: bool) -> SideRun | None:
        try:
            return run_side(self.problem, side, DType.FLOAT64, jittered=jittered,
                            overrides=overrides, grads=grads)
        except (ConstraintFailure, RuntimeError, ValueError):
            return None


def _compositions() -> Iterable[tuple[Candidate, ...]]:
    for first in CANDIDATES:
        for second in CANDIDATES:
            if second.name != first.inverse:  # a candidate then its inverse is a no-op
                yield (first, second)


Rule = Callable[[Facts], "Finding | None"]


def _invalid(ev: Facts) -> Finding | None:
    failures = ev.failures()
    if not failures and ev.trains is not None:
        stopped = [r for sides in ev.trains.values() for r in sides.values()
                   if isinstance(r, TrainFailure)]
        if stopped:
            f = stopped[0]
            cause = f.cause
            fix = cause.fix if isinstance(cause, ConstraintFailure) and cause.fix else ""
            return Finding(f"training side {f.side.value} in {f.dtype.value}: step {f.step} "
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
    what = first.message.rstrip(":")
    if first.detail:
        what += f"; {first.detail}"
    if first.index and "index" not in (first.detail or ""):  # () is an unbatched argument
        what += f"; first failing batch index {list(first.index)}"
    return Finding(f"side {first.side.value}{only}: {what}", first.fix or "")


def _failed_dtypes(ev: Facts, side: SideName) -> list[DType]:
    return [dt for dt, sides in ev.runs.items() if isinstance(sides[side], ConstraintFailure)]


def _non_finite(ev: Facts) -> Finding | None:
    import torch

    found: list[str] = []
    for dt, (a, b) in ev.pairs().items():
        for run in (a, b):
            items: list[tuple[str, torch.Tensor | None]] = [("log_prob", run.value)]
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
    return Finding("; ".join(found[:6]) + more,
                   "see where precision breaks with `gaussdiag precision-check` (tiny scales, "
                   "far-out points); keep scales away from 0 with softplus(raw) plus a floor, or "
                   "work with log-scale parameters")


def _no_gradient(ev: Facts) -> Finding | None:
    pairs = ev.pairs()
    if DType.FLOAT64 not in pairs:
        return None
    a, b = pairs[DType.FLOAT64]
    for name in ev.problem.grad_names:
        has = {SideName.A: a.grads.get(name) is not None, SideName.B: b.grads.get(name) is not None}
        if has[SideName.A] == has[SideName.B]:
            continue
        without = SideName.A if not has[SideName.A] else SideName.B
        if name not in ev.problem.params_used(without, leaves_only=True):
            return Finding(f"`{name}` gets a gradient on side {without.other.value} and none on "
                           f"side {without.value}, which does not use `{name}` at all",
                           f"make side {without.value} depend on `{name}`, or set `grad: false` "
                           "on it if it is meant to be a constant")
        if ev.problem.mode is Mode.RSAMPLE and ev.problem.method(without) is Method.SAMPLE:
            return Finding(
                f"`{name}` gets a gradient on side {without.other.value} and none on side "
                f"{without.value}: side {without.value} draws with sample(), which runs without "
                "autograd, so its draws are constants to backward()",
                f"draw with rsample() on side {without.value} (`method: rsample`), or write the "
                "reparameterization by hand so the noise stays out of the graph: "
                "sqrt(var) * randn_like(mean) + mean")
        return Finding(f"`{name}` gets a gradient on side {without.other.value} and none on side "
                       f"{without.value}: side {without.value} uses `{name}`, but the graph is cut "
                       "between it and the result (detach(), or sample() instead of rsample())",
                       f"keep `{name}` in the graph on side {without.value}: remove the detach, "
                       "or draw with rsample()")
    return None


def _different_draws(ev: Facts) -> Finding | None:
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
    return Finding(
        f"the draws differ (by {draws.diff[DType.FLOAT64]:.3g} in float64) although both sides "
        f"define the same distribution: their log_prob agrees at both sides' draws "
        f"(within {worst:.2g}). Same law, different map from noise to sample (for example "
        "another square root of the covariance), so seeded runs diverge sample by sample",
        "nothing is wrong with either distribution; if seeded draws must match, build both from "
        "the same factor (the same scale_tril), or compare log_prob instead of draws")


def _parameterization(ev: Facts) -> Finding | None:
    if not ev.persisting():
        return None
    if not any(q.persists for q in ev.point_quantities):
        return None  # train mode: the sides agree at the start and drift apart later
    found = ev.explanation()
    if found is None:
        return None
    return Finding(*_describe(ev, found), cause=found.cause)


def _mismatch(ev: Facts) -> Finding | None:
    persisting = ev.persisting()
    if not persisting:
        return None
    listed = ", ".join(f"{q.name} {q.diff[DType.FLOAT64]:.3g}" for q in persisting[:4])
    tried = ", ".join(c.name for c in CANDIDATES)
    zeros = _structural_zeros(ev, persisting)
    if zeros:
        return Finding(
            f"differences persist in float64 ({listed}), and only in gradient entries where "
            f"{zeros} is exactly zero: one side reads only part of it (scale_tril reads the "
            "lower triangle), the other all of it (e.g. through L @ transpose(L)), so their "
            "gradients differ where the param is structurally zero. Values agree",
            f"derive {zeros} from a free parameter through the structure on both sides, e.g. "
            "`{expr: \"tril(raw)\"}`, so no gradient reaches the entries that must stay zero")
    if ev.trains is not None and not any(q.persists for q in ev.point_quantities):
        return Finding(
            f"the trajectories drift apart in float64 too ({listed}), although the sides agree "
            "at the starting point: they differ somewhere training takes them (a clamp or a "
            "branch that only bites after some steps)",
            "find the step where the gap appears (see the table) and compare the sides at the "
            "parameters reached there")
    return Finding(
        f"differences persist in float64 ({listed}): not round-off. No reparameterization of "
        f"one param on either side ({tried}, or a composition of two) explains them",
        "the two sides compute different functions: compare them term by term (write one side "
        "as a hand-written `log_prob:` expression and bisect), and check every argument's "
        "meaning in the torch.distributions docs")


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


def _round_off(ev: Facts) -> Finding | None:
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
    return Finding(text, fix, round_off=RoundOff(worst.name, low, gap, explained, ratio,
                                                 digits, worse))


def _side_digits(ev: Facts, low: DType) -> dict[SideName, float]:
    """Each side's worst quantity, in digits its `low` run keeps against its own float64 run
    (accuracy.py, as `precision-check SPEC` computes them). NaN where unknown."""
    out = {s: math.nan for s in SideName}
    if low is DType.FLOAT64:
        return out
    for side in SideName:
        ref = ev.runs.get(DType.FLOAT64, {}).get(side)
        run = ev.runs.get(low, {}).get(side)
        if ev.problem.mode is Mode.RSAMPLE:  # the low run must map float64's noise
            try:
                run = accuracy.run_low(ev.problem, side, low)
            except ConstraintFailure:
                run = None
        if isinstance(ref, SideRun) and isinstance(run, SideRun):
            out[side] = accuracy.worst(accuracy.side_accuracy(ev.problem, run, ref))
    return out


def _agree(ev: Facts) -> Finding | None:
    return Finding("every difference is within tol in every dtype", "")


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
_ALSO_REPORTED = (Verdict.INVALID_PARAMETERS, Verdict.NON_FINITE, Verdict.NO_GRADIENT)


@dataclass(frozen=True)
class Attribution:
    verdict: Verdict
    finding: Finding
    quantities: tuple[Quantity, ...]
    problems: tuple[Issue, ...]
    evidence: tuple[Evidence, ...]
    notes: tuple[str, ...]
    point_quantities: tuple[Quantity, ...] = ()
    trajectories: tuple[Trajectory, ...] = ()


def attribute(problem: Problem, runs: Runs, kappa: float,
              progress: Progress | None = None, trains: Trains | None = None) -> Attribution:
    """Apply RULES in order; the first that finds something is the verdict."""
    ev = Facts(problem, runs, kappa, progress, trains)
    evidence = tuple(_moment_evidence(problem)) if ev.pairs() else ()
    problem.release_references()  # the search builds its own; at n = 4096 this is 256 MiB
    verdict, finding = next((v, f) for v, rule in RULES if (f := rule(ev)) is not None)
    others = [Issue(v, f.explanation) for v, rule in RULES
              if v in _ALSO_REPORTED and v is not verdict and (f := rule(ev)) is not None]
    quantities = ev.quantities if ev.pairs() else []
    if verdict is Verdict.PARAMETERIZATION:
        quantities = [_relabel(q, Verdict.PARAMETERIZATION) if q.persists else q
                      for q in quantities]
    elif verdict is Verdict.DIFFERENT_DRAWS:
        quantities = [_relabel(q, Verdict.DIFFERENT_DRAWS) if q.persists else q
                      for q in quantities]
    notes = list(ev.notes)
    coincidence = (_coincidence(ev) if ev.pairs() and verdict is not Verdict.INVALID_PARAMETERS
                   else None)
    if coincidence:
        notes.append(coincidence)
    point = tuple(ev.point_quantities) if trains is not None and ev.pairs() else ()
    return Attribution(verdict, finding, tuple(quantities), tuple(others), evidence,
                       tuple(notes), point,
                       tuple(trajectories(trains)) if trains is not None else ())


def _relabel(q: Quantity, verdict: Verdict) -> Quantity:
    return Quantity(q.name, verdict, q.diff, q.tol, q.shrink, q.persists)


# ---- quantities ------------------------------------------------------------------------------


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


# ---- what a side uses ------------------------------------------------------------------------


def side_sources(problem: SpecProblem, side: SideName) -> list[tuple[tuple[str | int, ...], str]]:
    """(key path, expression) for every expression a side evaluates itself."""
    s = problem.spec.side(side)
    out: list[tuple[tuple[str | int, ...], str]] = []
    for k, v in s.args.items():
        if isinstance(v, str):
            out.append(((side.value, "args", k), v))
    for i, t in enumerate(s.transforms):
        if isinstance(t, AffineTransform):
            for k in ("loc", "scale"):
                v = getattr(t.affine, k)
                if isinstance(v, str):
                    out.append(((side.value, "transforms", i, "affine", k), v))
        elif isinstance(t, PowerTransform) and isinstance(t.power, str):
            out.append(((side.value, "transforms", i, "power"), t.power))
    for key in ("log_prob", "expr"):
        v = getattr(s, key)
        if isinstance(v, str):
            out.append(((side.value, key), v))
    return out


def params_used(problem: SpecProblem, side: SideName, *, leaves_only: bool = False
                ) -> list[str]:
    """A spec's params the side depends on (directly or through derived params), in
    declaration order."""
    spec = problem.spec
    allow = spec.mode is Mode.RSAMPLE
    names: set[str] = set()
    for _, src in side_sources(problem, side):
        names |= problem.parsed(src, allow_randn=allow).names
    at = spec.at_for(side)
    if at is not None:
        names.add(at)
    # close over derived params and expr inputs, latest first
    for name in reversed(list(spec.params) + list(spec.inputs)):
        entry = spec.params.get(name) or spec.inputs.get(name)
        if name in names and isinstance(entry, ExprTensor):
            names |= problem.parsed(entry.expr).names
    ordered = [n for n in spec.params if n in names]
    if leaves_only:
        ordered = [n for n in ordered if not isinstance(spec.params[n], ExprTensor)]
    return ordered


# ---- words -----------------------------------------------------------------------------------


def _describe(ev: Facts, found: Explanation) -> tuple[str, str]:
    cause = found.cause
    side, other, p = cause.side.value, cause.side.other.value, cause.param
    if len(found.steps) == 1:
        expects = found.steps[0].expects.format(p=p)
    else:
        expects = f"{cause.transform}(`{p}`)"
    where = "at the spec's point and at a jittered point" if found.jitter_checked else (
        "at the spec's point (the jittered point was not valid for the other side)")
    text = (f"side {side} treats `{p}` differently from side {other}: side {side} expects "
            f"{expects}. With `{p}` replaced by {cause.transform}({p}) on side {side}, every "
            f"value and gradient matches side {other} in float64, {where}")
    template = _template(found.steps)
    return text, ev.problem.fix(cause.side, p, template, cause.transform)


def spec_fix(problem: SpecProblem, side_name: SideName, p: str, template: str,
             transform: str) -> str:
    """A spec's fix: the side's expressions with `p` rewritten by `template`."""
    side = side_name.value
    fixes: list[str] = []
    for key, src in side_sources(problem, side_name):
        e = problem.parsed(src, allow_randn=problem.spec.mode is Mode.RSAMPLE)
        if p not in e.names:
            continue
        new = ex.substitute(e, p, template)
        argname = str(key[-1])
        fixes.append(f"{argname}={new}")
        alt = ALTERNATIVES.get((argname, transform))
        if alt:
            fixes.append(f"or {alt}={src}")
    if not fixes:  # p reaches the side only through a derived param or an input
        fixes.append(f"use {template.format(p=p)} wherever side {side} uses `{p}`")
    return f"on side {side}, pass " + ", ".join(fixes)


def _template(steps: tuple[Candidate, ...]) -> str:
    out = "{p}"
    for c in steps:
        out = c.template.replace("{p}", f"({out})" if out != "{p}" else "{p}")
    return out.replace("{p}", "{}")


def _coincidence(ev: Facts) -> str | None:
    """Values agree at the spec's point but a gradient persists: do the values still agree at a
    jittered point? If not, they agreed by coincidence (std == 1 makes std == std**2)."""
    qs = {q.name: q for q in ev.point_quantities}
    value = qs.get("log_prob")
    if value is None or value.persists or not any(q.persists for q in ev.point_quantities):
        return None
    a = ev.reference(SideName.A, True, grads=False)
    b = ev.reference(SideName.B, True, grads=False)
    if a is None or b is None:
        return None
    d = normwise(a.value, b.value)
    if d <= tl.search_tol(ev.kappa):
        return None
    special = [n for n in ev.problem.leaf_names
               if bool((ev.problem.base[n] == 1).all()) or bool((ev.problem.base[n] == 0).all())]
    why = ""
    if special:
        why = (f" ({', '.join(f'`{n}`' for n in special)} "
               f"{'is' if len(special) == 1 else 'are'} all ones or all zeros at the spec's point, "
               "where x, x**2, sqrt(x) and friends coincide)")
    return (f"log_prob agrees at the spec's point only by coincidence{why}: at a jittered point "
            f"it differs by {d:.3g} in float64")


def _moment_evidence(problem: Problem) -> list[Evidence]:
    try:
        ma, mb = moments(problem, SideName.A), moments(problem, SideName.B)
    except (ConstraintFailure, RuntimeError, ValueError):
        return []
    out = []
    for name in ("mean", "variance", "covariance_matrix"):
        if name in ma and name in mb and ma[name].shape == mb[name].shape:
            d = normwise(ma[name], mb[name])
            out.append(Evidence(name, _head(ma[name]), _head(mb[name]), d))
    return out


def _head(t: torch.Tensor, n: int = 4) -> tuple[float, ...]:
    return tuple(float(x) for x in t.detach().double().flatten()[:n])


# ---- conditioning ----------------------------------------------------------------------------


def estimate_kappa(problem: Problem) -> float:
    """cond(L) for the covariance each side implies (largest over the batch and both sides):
    log_prob standardizes x through a triangular solve with the scale L, whose condition number
    is sqrt(cond(covariance)). 1 when no side has a covariance-like argument. Exact (from the
    eigenvalues) up to n = EXACT_KAPPA_MAX; above that, max|L_ii| / min|L_ii| of the Cholesky
    factor the distribution already holds: O(n), a lower bound, exact for diagonal scales.

    Why not cond(covariance) itself: it is a worst-case bound. Measured here (n = 8, random
    rotations), covariance_matrix vs precision_matrix or scale_tril differ in float32 by about
    0.05 x cond x eps, so 64 x eps x cond would call even badly amplified round-off `agree`;
    cond(L) leaves it visible as `round-off` while still widening the float64 persistence test
    as the conditioning grows.
    """
    import torch

    kappa = 1.0
    for side in SideName:
        if problem.kind(side) != "dist":
            continue
        try:
            built = problem.reference(side)
        except (ConstraintFailure, RuntimeError, ValueError):
            continue
        args = {k: v.detach().double() for k, v in built.args.items()}
        n = next((v.shape[-2] for k, v in args.items() if k in _MATRIX_ARGS and v.ndim >= 2), 0)
        if n == 0:
            continue
        if n > EXACT_KAPPA_MAX:
            tril = getattr(built.dist, "scale_tril", None)
            if isinstance(tril, torch.Tensor):
                d = torch.diagonal(tril.detach().double(), dim1=-2, dim2=-1).abs()
                kappa = max(kappa, float((d.amax(-1) / d.amin(-1)).max()))
            continue
        mats = [args[k] for k in ("covariance_matrix", "precision_matrix") if k in args]
        if "scale_tril" in args:
            tril = args["scale_tril"]
            mats.append(tril @ tril.transpose(-1, -2))
        if "cov_factor" in args and "cov_diag" in args:
            w, d = args["cov_factor"], args["cov_diag"]
            mats.append(w @ w.transpose(-1, -2) + torch.diag_embed(d))
        for m in mats:
            e = torch.linalg.eigvalsh(m)
            lo, hi = e.amin(-1), e.amax(-1)
            if bool((lo > 0).all()):
                kappa = max(kappa, math.sqrt(float((hi / lo).max())))
    return kappa if math.isfinite(kappa) else 1.0


# Above this size the eigenvalues cost more than the diagnosis itself.
EXACT_KAPPA_MAX = 512
_MATRIX_ARGS = ("covariance_matrix", "precision_matrix", "scale_tril", "cov_factor")
