"""SWITCH_RULES: where a switch check's verdict is decided. A switch (compile, device, tf32,
autocast) should change how a side runs, not its math; the side run with it is judged
against itself without it (gaussdiag/engine/switched.py), and the first rule that finds
something is the verdict:

  1. invalid-parameters  the side breaks a constraint under the switch
  2. non-finite          NaN or inf in a value or gradient under the switch where there is
                         none without it (elements non-finite alike with and without the
                         switch are the side's own: left out of the comparison, and said)
  3. no-gradient         a param gets a gradient with the switch and none without, or the
                         other way round
  4. mismatch            the switch changes the math. compile and device: a difference that
                         persists in float64 (the pair rules' persistence); tf32 and autocast:
                         the switched float32 run's error against float64 exceeds the side's
                         own float32 error by more than 64 x eps(format) x kappa
  5. round-off           not all within tol, and nothing beyond the switch's arithmetic
  6. agree               every difference within tol(dtype): the switch changes nothing seen

Thresholds live in `tolerance.py` (tol, persists, switch_explained); the words per switch
in `switch_words.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from gaussdiag import tolerance as tl
from gaussdiag.attribute.quantities import compute_quantities, normwise
from gaussdiag.attribute.rules import Diagnosis
from gaussdiag.attribute.switch_words import fix, what
from gaussdiag.engine.evaluate import SideRun
from gaussdiag.engine.failures import ConstraintFailure
from gaussdiag.engine.switched import SwitchRuns
from gaussdiag.results import SwitchQuantity
from gaussdiag.vocab import DType, SwitchKind, Verdict

if TYPE_CHECKING:
    import torch


@dataclass
class SwitchFacts:
    """A switch's runs, the problem's kappa and what the quantities are called."""

    runs: SwitchRuns
    kappa: float
    grad_names: list[str]
    value_name: str = "log_prob"
    _quantities: list[SwitchQuantity] | None = field(default=None, repr=False)
    _all_finite: bool | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.runs.switch.name

    def pairs(self) -> dict[DType, tuple[SideRun, SideRun]]:
        """Dtypes where the side ran both without and with the switch."""
        out = {}
        for dt, switched in self.runs.switched.items():
            without = self.runs.without.get(dt)
            if isinstance(without, SideRun) and isinstance(switched, SideRun):
                out[dt] = (without, switched)
        return out

    @property
    def arithmetic(self) -> tuple[str, float]:
        """A precision switch's format and its eps: ("TF32", 2**-10), ("bfloat16", 2**-7)."""
        if self.runs.switch.kind is SwitchKind.TF32:
            return "TF32", tl.TF32_EPS
        low = self.runs.switch.format or DType.BFLOAT16
        return low.value, tl.EPS[low]

    @property
    def quantities(self) -> list[SwitchQuantity]:
        if self._quantities is None:
            self._quantities = (self._precision() if self.runs.switch.precision
                                else self._exact())
        return self._quantities

    def items(self, without: SideRun, switched: SideRun
              ) -> list[tuple[str, torch.Tensor | None, torch.Tensor | None]]:
        """Each quantity's tensors without and with the switch (None: no gradient)."""
        out: list[tuple[str, torch.Tensor | None, torch.Tensor | None]]
        out = [(self.value_name, without.value, switched.value)]
        out += [(f"grad[{n}]", without.grads.get(n), switched.grads.get(n))
                for n in self.grad_names]
        return out

    @property
    def all_finite(self) -> bool:
        """Whether every value and gradient of every pair is finite (the usual case, told
        in three ops: the rules below look element by element only otherwise)."""
        if self._all_finite is None:
            import torch

            found = [t.reshape(-1)  # detached already; cat promotes float32 to float64
                     for without, switched in self.pairs().values()
                     for _, w, s in self.items(without, switched) for t in (w, s)
                     if t is not None]
            self._all_finite = not found or bool(torch.isfinite(torch.cat(found)).all())
        return self._all_finite

    @property
    def invalid_without_too(self) -> bool:
        """Every dtype the side breaks a constraint in under the switch, it breaks one in
        without it too: the side's own invalidity, which the pair's verdict answers for."""
        return all(isinstance(self.runs.without.get(dt), ConstraintFailure)
                   for dt, r in self.runs.switched.items() if isinstance(r, ConstraintFailure))

    def shared_non_finite(self) -> list[str]:
        """The quantities non-finite at the same elements, alike, with and without the
        switch: "log_prob (1 of 3 in float32)"."""
        if self.all_finite:
            return []
        out = []
        for dt, (without, switched) in self.pairs().items():
            for name, w, s in self.items(without, switched):
                alike = _alike_non_finite(w, s)
                if alike is not None and bool(alike.any()):
                    out.append(f"{name} ({int(alike.sum())} of {alike.numel()} in {dt.value})")
        return out

    def _exact(self) -> list[SwitchQuantity]:
        """compile, device: the pair rules' quantities, the unswitched run as side a, on
        the elements that are not non-finite alike in both (the side's own NaN or inf)."""
        compared = (self.pairs() if self.all_finite else
                    {dt: (_finite_part(w, s, self.grad_names), _finite_part(s, w, self.grad_names))
                     for dt, (w, s) in self.pairs().items()})
        found = compute_quantities(compared, self.kappa, self.grad_names, self.value_name)
        return [SwitchQuantity(q.name, q.verdict, q.diff, q.tol, q.persists, q.shrink)
                for q in found]

    def _precision(self) -> list[SwitchQuantity]:
        """tf32, autocast: the switched float32 run against float64, beyond the unswitched
        float32 run's own error."""
        f32, f64 = DType.FLOAT32, DType.FLOAT64
        ref, without, switched = (self.runs.without.get(f64), self.runs.without.get(f32),
                                  self.runs.switched.get(f32))
        if not (isinstance(ref, SideRun) and isinstance(without, SideRun)
                and isinstance(switched, SideRun)):
            return []
        explained = tl.switch_explained(self.arithmetic[1], self.kappa)
        items: list[tuple[str, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]]
        items = [(self.value_name, ref.value, without.value, switched.value)]
        items += [(f"grad[{n}]", ref.grads.get(n), without.grads.get(n), switched.grads.get(n))
                  for n in self.grad_names]
        out = []
        for name, r, w, s in items:
            if r is None or w is None or s is None or not r.shape == w.shape == s.shape:
                continue
            diff, error, error0 = normwise(s, w), normwise(s, r), normwise(w, r)
            verdict = (Verdict.AGREE if diff <= tl.tol(f32) else
                       Verdict.ROUND_OFF if error <= error0 + explained else Verdict.MISMATCH)
            out.append(SwitchQuantity(name, verdict, {f32: diff}, {f32: tl.tol(f32)},
                                      verdict is Verdict.MISMATCH, None, error, error0,
                                      explained))
        return out


SwitchRule = Callable[[SwitchFacts], "Diagnosis | None"]


def _invalid(facts: SwitchFacts) -> Diagnosis | None:
    broken = [(dt, f) for dt, f in facts.runs.switched.items()
              if isinstance(f, ConstraintFailure)]
    if not broken:
        return None
    also = facts.invalid_without_too
    # where it is the switch's doing, a dtype that breaks only under the switch is named
    dt, failure = next((d, f) for d, f in broken
                       if also or not isinstance(facts.runs.without.get(d), ConstraintFailure))
    where = ("without the switch too: the side itself is invalid (see the pair's verdict)"
             if also else "it does not without the switch")
    return Diagnosis(f"{what(facts.runs)} breaks a constraint in {dt.value}, and {where}: "
                     f"{failure.message}",
                     failure.fix or fix(facts.runs.switch.kind, Verdict.INVALID_PARAMETERS))


def _non_finite(facts: SwitchFacts) -> Diagnosis | None:
    import torch

    if facts.all_finite:
        return None
    found = []
    for dt, (without, switched) in facts.pairs().items():
        for qname, w, s in facts.items(without, switched):
            if s is None or bool(torch.isfinite(s).all()):
                continue
            alike = _alike_non_finite(w, s)
            new = ~torch.isfinite(s) if alike is None else ~torch.isfinite(s) & ~alike
            if not bool(new.any()):
                continue  # non-finite alike without the switch: the side's own
            nan, inf = int((torch.isnan(s) & new).sum()), int((torch.isinf(s) & new).sum())
            kinds = " and ".join(x for x in (f"{nan} NaN" if nan else "",
                                             f"{inf} inf" if inf else "") if x)
            before = ("finite without the switch" if w is not None and
                      bool(torch.isfinite(w).all()) else "finite there without the switch")
            found.append(f"{qname} has {kinds} of {s.numel()} element(s) in {dt.value} "
                         f"({before})")
    if not found:
        return None
    return Diagnosis(f"{what(facts.runs)}: " + "; ".join(found[:4]),
                     fix(facts.runs.switch.kind, Verdict.NON_FINITE))


def _no_gradient(facts: SwitchFacts) -> Diagnosis | None:
    for dt, (without, switched) in facts.pairs().items():
        for name in facts.grad_names:
            before, after = without.grads.get(name), switched.grads.get(name)
            if (before is None) == (after is None):
                continue
            lost = after is None
            return Diagnosis(
                f"{what(facts.runs)}: `{name}` gets {'no' if lost else 'a'} gradient in "
                f"{dt.value}, and {'a' if lost else 'no'} gradient without the switch: the "
                "switched computation " + ("cuts the graph between it and the result" if lost
                                           else "reaches a param the side does not"),
                fix(facts.runs.switch.kind, Verdict.NO_GRADIENT))
    return None


def _mismatch(facts: SwitchFacts) -> Diagnosis | None:
    changed = [q for q in facts.quantities if q.verdict is Verdict.MISMATCH]
    if not changed:
        return None
    kind = facts.runs.switch.kind
    if facts.runs.switch.precision:
        q = changed[0]
        assert q.error is not None and q.explained is not None and q.error_without is not None
        name, eps = facts.arithmetic
        return Diagnosis(
            f"{what(facts.runs)}: the switched float32 run's error against float64 is "
            f"{q.error:.3g} in {q.name} ({q.error / eps:.3g} x {name}'s eps), beyond the "
            f"{q.error_without:.3g} of float32 without it plus what {name}'s arithmetic "
            f"explains ({q.explained:.3g} = {tl.SWITCH_FACTOR:g} x eps x kappa, kappa "
            f"{facts.kappa:.3g}): the switch changes more than rounding",
            fix(kind, Verdict.MISMATCH))
    listed = ", ".join(f"{q.name} {q.diff[DType.FLOAT64]:.3g}" for q in changed[:4])
    said = {SwitchKind.COMPILE: "compiled and eager differ in float64 too: a compiler "
                                "problem, not round-off",
            SwitchKind.DEVICE: f"{facts.runs.device} and the CPU differ in float64 too: the "
                               "device computes something else, not just other roundings"}
    return Diagnosis(f"{what(facts.runs)}: {said.get(kind, 'the switch changes the math')} "
                     f"(differences in float64: {listed})", fix(kind, Verdict.MISMATCH))


def _round_off(facts: SwitchFacts) -> Diagnosis | None:
    off = [q for q in facts.quantities if q.verdict is not Verdict.AGREE]
    if not off:
        return None
    if facts.runs.switch.precision:
        q = max(off, key=lambda q: (q.error or 0.0) / (q.explained or 1.0))
        assert q.error is not None and q.explained is not None
        name, eps = facts.arithmetic
        text = (f"the switched float32 run's error against float64 is {q.error:.3g} in "
                f"{q.name}, {q.error / eps:.3g} x {name}'s eps ({q.error_without:.3g} without "
                f"the switch), within what {name}'s arithmetic explains ({q.explained:.3g} = "
                f"{tl.SWITCH_FACTOR:g} x eps x kappa, kappa {facts.kappa:.3g})")
    else:
        low = tl.low_dtype(list(off[0].diff))
        q = max(off, key=lambda q: q.diff[low])
        text = (f"the differences shrink in float64 ({q.name}: {q.diff[low]:.3g} in "
                f"{low.value}, {q.diff[DType.FLOAT64]:.3g} in float64)")
    return Diagnosis(f"{what(facts.runs)} changes only rounding, by the amount its arithmetic "
                     f"explains: {text}", fix(facts.runs.switch.kind, Verdict.ROUND_OFF))


def _agree(facts: SwitchFacts) -> Diagnosis | None:
    return Diagnosis(f"{what(facts.runs)}: every difference is within tol in every dtype run",
                     "")


# The precedence table: first match wins.
SWITCH_RULES: tuple[tuple[Verdict, SwitchRule], ...] = (
    (Verdict.INVALID_PARAMETERS, _invalid),
    (Verdict.NON_FINITE, _non_finite),
    (Verdict.NO_GRADIENT, _no_gradient),
    (Verdict.MISMATCH, _mismatch),
    (Verdict.ROUND_OFF, _round_off),
    (Verdict.AGREE, _agree),
)


def judge_switch(facts: SwitchFacts) -> tuple[Verdict, Diagnosis]:
    """Apply SWITCH_RULES in order; the first that finds something is the verdict. Elements
    non-finite alike with and without the switch are said, not judged."""
    verdict, found = next((v, d) for v, rule in SWITCH_RULES if (d := rule(facts)) is not None)
    shared = [] if facts.runs.switch.precision else facts.shared_non_finite()
    if shared and verdict is not Verdict.INVALID_PARAMETERS:
        found = replace(found, explanation=(
            f"{found.explanation}; left out of the comparison, as the side's own: the elements "
            f"non-finite alike with and without the switch, of {', '.join(shared[:4])} (see "
            "the pair's verdict)"))
    return verdict, found


def _alike_non_finite(w: torch.Tensor | None, s: torch.Tensor | None) -> torch.Tensor | None:
    """Where both are non-finite alike (NaN and NaN, or the same infinity); None when they
    cannot be compared element by element."""
    import torch

    if w is None or s is None or w.shape != s.shape:
        return None
    return ~torch.isfinite(s) & ((w == s) | (torch.isnan(w) & torch.isnan(s)))


def _finite_part(run: SideRun, other: SideRun, grad_names: list[str]) -> SideRun:
    """`run` with the elements non-finite alike in `other` set to 0 (in both, they then
    agree)."""
    def part(t: torch.Tensor | None, o: torch.Tensor | None) -> torch.Tensor | None:
        alike = _alike_non_finite(o, t)
        return t if t is None or alike is None or not bool(alike.any()) else \
            t.masked_fill(alike, 0.0)

    value = part(run.value, other.value)
    assert value is not None
    grads = {n: part(run.grads.get(n), other.grads.get(n)) for n in grad_names
             if n in run.grads}
    return replace(run, value=value, grads={**run.grads, **grads})
