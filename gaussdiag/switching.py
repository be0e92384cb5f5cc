"""The switch checks of a diagnosis (the coordinator's second part, after the pair's own):
each side run with a switch (torch.compile, another device, TF32, autocast) against itself
without it, judged by `attribute.switch_rules`; a single side's report, whose verdict is its
checks' most severe."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from gaussdiag.engine.switch import Switch, SwitchPlan
from gaussdiag.errors import DeviceError, GaussdiagError
from gaussdiag.results import SideCost, SpecReport, SwitchCheck
from gaussdiag.vocab import DType, Mode, SideName, SwitchKind, Verdict

if TYPE_CHECKING:
    from gaussdiag.engine.compiled import CompileCache
    from gaussdiag.engine.evaluate import SideRun
    from gaussdiag.engine.failures import ConstraintFailure
    from gaussdiag.engine.problem import Problem

Progress = Callable[[str], None]


def absent_devices(problem: Problem, plan: SwitchPlan) -> dict[str, str]:
    """Each switch's device, checked before anything runs: an absent one is a DeviceError
    naming the switch, or (skip_absent) a skipped check: switch name -> why."""
    from gaussdiag.engine.switched import require

    skipped: dict[str, str] = {}
    for switch in plan.switches:
        for side in plan.sides:
            try:
                require(problem, side, switch)
            except DeviceError as err:
                if not plan.skip_absent:
                    raise
                skipped[switch.name] = str(err)
    return skipped


def switch_checks(problem: Problem, plan: SwitchPlan,
                   runs: Mapping[DType, Mapping[SideName, SideRun | ConstraintFailure]],
                   kappa: float, absent: Mapping[str, str], progress: Progress | None
                   ) -> tuple[SwitchCheck, ...]:
    """Each side of `plan` under each switch, the sides' own runs reused as the side without
    the switch; compiled sides are cached per (side, backend) for the diagnosis."""
    cache: CompileCache = {}
    out = []
    for switch in plan.switches:
        for side in plan.sides:
            expect = plan.expected(switch, side)
            if switch.name in absent:
                out.append(SwitchCheck(switch.name, side, None, expect, ok=True,
                                       skipped=absent[switch.name]))
                continue
            if progress:
                progress(f"{problem.name}: side {side.value} under {switch.name}")
            reuse = {dt: sides[side] for dt, sides in runs.items() if side in sides}
            out.append(_check(problem, side, switch, reuse, kappa, expect, plan, cache))
    return tuple(out)


def _check(problem: Problem, side: SideName, switch: Switch,
           reuse: Mapping[DType, SideRun | ConstraintFailure], kappa: float,
           expect: Verdict | None, plan: SwitchPlan, cache: CompileCache) -> SwitchCheck:
    """One side under one switch: run (engine), judge (SWITCH_RULES), and for a compile
    mismatch in float64 the reproducer."""
    from gaussdiag import tolerance as tl
    from gaussdiag.attribute.switch_rules import SwitchFacts, judge_switch
    from gaussdiag.engine.evaluate import SideRun
    from gaussdiag.engine.reproducer import write_reproducer
    from gaussdiag.engine.switched import run_switched

    try:
        runs = run_switched(problem, side, switch, reuse, cache)
    except GaussdiagError as err:  # the side cannot run under the switch at all
        return SwitchCheck(switch.name, side, None, expect, ok=False, error=str(err),
                           explanation=str(err))
    value = "draws" if problem.mode is Mode.RSAMPLE else "log_prob"
    facts = SwitchFacts(runs, kappa, problem.grad_names, value)
    verdict, diagnosis = judge_switch(facts)
    explanation, notes, reproducer = diagnosis.explanation, [], None
    if switch.kind is SwitchKind.COMPILE and runs.graphs:  # none: nothing was compiled
        counts = ", ".join(f"{n} in {dt.value}" for dt, n in runs.graphs.items())
        notes.append(f"torch.compile captured graphs from the side: {counts}" +
                     ("; none: the side ran eagerly, so the check compared eager with eager"
                      if not any(runs.graphs.values()) else
                      "; the draw is a graph of its own, reseeded first as an eager run is"
                      if problem.mode is Mode.RSAMPLE else ""))
        persists = any(q.persists for q in facts.quantities)
        if verdict is Verdict.MISMATCH and persists:
            made = write_reproducer(cache[(side, switch.arg)],
                                    title=f"{problem.name}, side {side.value}: "
                                          f"{problem.labels.get(side, '')}",
                                    threshold=tl.search_tol(kappa), directory=plan.repro_dir,
                                    stem=f"repro_{_stem(problem.name)}_{side.value}")
            explanation += f". {made.note[0].upper()}{made.note[1:]}"
            reproducer = made.path
    # a side invalid without the switch too is the pair's verdict to answer, not the switch's
    own = verdict is Verdict.INVALID_PARAMETERS and facts.invalid_without_too
    ok = (expect is verdict if expect is not None
          else own or verdict.acceptable_without_expect)
    costs = tuple(SideCost(side, dt, r.seconds, r.memory_bytes, r.memory_kind)
                  for dt, r in runs.switched.items() if isinstance(r, SideRun))
    return SwitchCheck(switch.name, side, verdict, expect, ok, explanation, diagnosis.fix,
                       tuple(facts.quantities), tuple(notes), runs.device, costs,
                       dict(runs.compile_seconds), reproducer)


def _stem(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)[:40] or "side"


def single_report(problem: Problem, plan: SwitchPlan, checks: tuple[SwitchCheck, ...],
                   runs: Mapping[DType, Mapping[SideName, object]], kappa: float,
                   notes: list[str], start: float) -> SpecReport:
    """A single side's report: no pair, the verdict the most severe of its switch checks
    (in the pair verdicts' precedence), ok when every check is; its `expect` is the plan's
    default (a single side's plain `expect:`)."""
    from gaussdiag.engine.evaluate import SideRun

    order = list(Verdict)
    judged = [c for c in checks if c.verdict is not None]
    worst = min(judged, key=lambda c: order.index(c.verdict or Verdict.AGREE), default=None)
    skipped = None
    if not judged and checks and all(c.skipped for c in checks):
        skipped = "; ".join(dict.fromkeys(c.skipped or "" for c in checks))
    costs = tuple(SideCost(r.side, r.dtype, r.seconds, r.memory_bytes, r.memory_kind)
                  for sides in runs.values() for r in sides.values() if isinstance(r, SideRun))
    return SpecReport(
        file=problem.file, name=problem.name, verdict=worst.verdict if worst else None,
        expect=plan.default, ok=all(c.ok for c in checks),
        explanation=worst.explanation if worst else "", fix=worst.fix if worst else "",
        costs=costs, notes=tuple(notes) + problem.warnings.notes, kappa=kappa,
        dtypes=tuple(problem.run_dtypes), device=str(problem.side_devices[SideName.A]),
        mode=problem.mode, labels={SideName.A: problem.labels[SideName.A]},
        skipped=skipped, seconds=time.perf_counter() - start, switches=checks, single=True)
