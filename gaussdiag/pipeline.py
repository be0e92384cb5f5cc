"""The coordinator: a problem from any front end -> run both sides in every dtype (engine)
-> attribute (the judge) -> SpecReport. Both front ends call `diagnose_problem`; `Options`
and `located` are what they share around it.

Returns frozen results; never prints. Progress goes through an optional callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gaussdiag.engine.switch import Switch, SwitchPlan
from gaussdiag.errors import DeviceError, GaussdiagError, SpecError
from gaussdiag.limits import DEFAULT_MAX_ELEMENTS
from gaussdiag.results import Interruption, Located, SideCost, SpecReport, SwitchCheck
from gaussdiag.vocab import DType, Mode, SideName, SwitchKind, Verdict

if TYPE_CHECKING:
    from gaussdiag.engine.compiled import CompileCache
    from gaussdiag.engine.evaluate import SideRun, TrainFailure, TrainRun
    from gaussdiag.engine.failures import ConstraintFailure
    from gaussdiag.engine.problem import Problem

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    """How to run, from the command line or the API: the device to override the problem's,
    the per-tensor element limit, whether an absent pinned device skips the spec (and an
    absent switch device its check), and switches to check besides a problem's own."""

    device: str | None = None
    max_elements: int = DEFAULT_MAX_ELEMENTS
    skip_absent_devices: bool = False
    switches: tuple[Switch, ...] = ()


def located(err: GaussdiagError, file: str) -> tuple[Located, ...]:
    """Where `err` is, one entry per problem: a `SpecError` knows each problem's file, line,
    column and key; any other error is about the whole of `file`."""
    if isinstance(err, SpecError):
        return tuple(Located(p.file, p.line, p.key, p.message, p.col) for p in err.problems)
    return (Located(file, None, None, str(err)),)


def diagnose_problem(problem: Problem, progress: Progress | None = None,
                     start: float | None = None, plan: SwitchPlan | None = None) -> SpecReport:
    """The engine, for a problem from any front end: run both sides in every dtype, train
    in train mode, attribute; then each side under each switch of `plan` (side a alone, and
    no pair diagnosed, for a single side). Raises GaussdiagError for what the user must fix,
    DeviceError (naming the switch) for an absent switch device unless it is skipped."""
    from gaussdiag.attribute import attribute, estimate_kappa
    from gaussdiag.engine.evaluate import SideRun, run_side
    from gaussdiag.engine.failures import ConstraintFailure

    start = time.perf_counter() if start is None else start
    plan = plan or SwitchPlan()
    absent = _absent_devices(problem, plan)
    runs: dict[DType, dict[SideName, SideRun | ConstraintFailure]] = {}
    for dtype in problem.run_dtypes:
        runs[dtype] = {}
        for side in plan.sides:
            if progress:
                progress(f"{problem.name}: side {side.value} in {dtype.value}")
            try:
                runs[dtype][side] = run_side(problem, side, dtype)
            except ConstraintFailure as failure:
                runs[dtype][side] = failure
            except SpecError as err:
                if dtype in (DType.FLOAT16, DType.BFLOAT16):
                    raise SpecError(err.file, f"{err.message} (in {dtype.value}: drop "
                                    f"{dtype.value} from `dtypes` if torch lacks it here)",
                                    key=err.key, line=err.line, col=err.col) from None
                raise
    kappa_notes: list[str] = []
    if plan.single:
        kappa = estimate_kappa(problem, kappa_notes)
        checks = _switch_checks(problem, plan, runs, kappa, absent, progress)
        return _single_report(problem, plan, checks, runs, kappa, kappa_notes, start)
    if problem.mode is not Mode.RSAMPLE:
        _check_shapes(problem, runs)
    trains, stop = (_train(problem, progress) if problem.mode is Mode.TRAIN
                    else (None, None))
    if progress:
        progress(f"{problem.name}: attributing")
    kappa = estimate_kappa(problem, kappa_notes)
    result = attribute(problem, runs, kappa, progress, trains)
    costs = tuple(SideCost(r.side, r.dtype, r.seconds, r.memory_bytes, r.memory_kind)
                  for sides in runs.values() for r in sides.values() if isinstance(r, SideRun))
    verdict: Verdict | None = result.verdict
    explanation, fix = result.diagnosis.explanation, result.diagnosis.fix
    structure = result.diagnosis.structure
    if stop is not None:  # a partial run decides nothing: say so rather than judge the part
        verdict, fix, structure = None, "", None
        explanation = _interrupted_text(stop)
    expect = problem.expect
    ok = verdict is not None and (verdict is expect if expect is not None
                                  else verdict.acceptable_without_expect)
    checks = (_switch_checks(problem, plan, runs, kappa, absent, progress)
              if stop is None else ())
    devices = {problem.side_devices[s] for s in SideName}
    return SpecReport(
        file=problem.file, name=problem.name, verdict=verdict, expect=expect,
        explanation=explanation, fix=fix,
        cause=result.diagnosis.cause, round_off=result.diagnosis.round_off,
        structure=structure,
        quantities=result.quantities, problems=result.problems,
        evidence=result.evidence, costs=costs,
        notes=result.notes + tuple(kappa_notes) + problem.warnings.notes,
        kappa=kappa,
        dtypes=tuple(problem.run_dtypes), device=", ".join(sorted(str(d) for d in devices)),
        mode=problem.mode, labels=problem.labels,
        trajectories=result.trajectories, point_quantities=result.point_quantities,
        interrupted=stop is not None, interrupted_at=stop,
        seconds=time.perf_counter() - start,
        switches=checks, ok=ok and all(c.ok for c in checks), pair_ok=ok,
    )


def _interrupted_text(stop: Interruption) -> str:
    done = stop.step - 1
    other = ("" if stop.side is SideName.B else
             f"; side b had not started in {stop.dtype.value}")
    return (f"interrupted with Ctrl-C while training side {stop.side.value} in "
            f"{stop.dtype.value}, after {done} of {stop.steps} steps{other}. The gaps shown "
            "are over the steps both sides finished in each dtype; no verdict from a partial "
            "run")


def _train(problem: Problem, progress: Progress | None
           ) -> tuple[dict[DType, dict[SideName, TrainRun | TrainFailure]], Interruption | None]:
    """Train both sides in every dtype; on Ctrl-C, stop there and keep every finished step
    (with an empty run for a side b that had not started), and say where it stopped."""
    from gaussdiag.engine.evaluate import TrainFailure, TrainRun, train_side

    trains: dict[DType, dict[SideName, TrainRun | TrainFailure]] = {}
    for dtype in problem.run_dtypes:
        trains[dtype] = {}
        for side in SideName:
            try:
                run = train_side(problem, side, dtype, progress=progress)
            except TrainFailure as failure:
                trains[dtype][side] = failure
                continue
            trains[dtype][side] = run
            if run.interrupted:
                if side is SideName.A:
                    trains[dtype][SideName.B] = TrainRun(SideName.B, dtype, (), (), 0.0, True)
                steps = problem.train_settings.steps
                return trains, Interruption(dtype, side, len(run.params) + 1, steps)
    return trains, None


def _check_shapes(problem: Problem,
                  runs: Mapping[DType, Mapping[SideName, object]]) -> None:
    """Sides whose log_prob shapes differ cannot be compared: a spec error with the fix."""
    from gaussdiag.engine.evaluate import SideRun

    for sides in runs.values():
        a, b = sides[SideName.A], sides[SideName.B]
        if not (isinstance(a, SideRun) and isinstance(b, SideRun)):
            continue
        sa, sb = list(a.value.shape), list(b.value.shape)
        if sa == sb:
            return
        big, small = (SideName.B, SideName.A) if len(sb) > len(sa) else (SideName.A, SideName.B)
        shapes = {SideName.A: sa, SideName.B: sb}
        k = len(shapes[big]) - len(shapes[small])
        if k > 0 and shapes[big][:len(shapes[small])] == shapes[small]:
            hint = problem.shape_hint(big, k)
        else:
            hint = ("make both sides describe the same event: check `event_dims` and the args' "
                    "shapes")
        raise problem.error(big, f"{big.value}'s log_prob has shape {shapes[big]}, "
                           f"{small.value}'s {shapes[small]}: {hint}")


# ---- switches ----------------------------------------------------------------------------

def _absent_devices(problem: Problem, plan: SwitchPlan) -> dict[str, str]:
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


def _switch_checks(problem: Problem, plan: SwitchPlan,
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
    if switch.kind is SwitchKind.COMPILE:
        counts = ", ".join(f"{n} in {dt.value}" for dt, n in runs.graphs.items())
        notes.append(f"torch.compile captured graphs from the side: {counts}" +
                     ("; none: the side ran eagerly, so the check compared eager with eager"
                      if not any(runs.graphs.values()) else ""))
        persists = any(q.persists for q in facts.quantities)
        if verdict is Verdict.MISMATCH and persists:
            made = write_reproducer(cache[(side, switch.arg)],
                                    title=f"{problem.name}, side {side.value}: "
                                          f"{problem.labels.get(side, '')}",
                                    threshold=tl.search_tol(kappa), directory=plan.repro_dir,
                                    stem=f"repro_{_stem(problem.name)}_{side.value}")
            explanation += f". {made.note[0].upper()}{made.note[1:]}"
            reproducer = made.path
    ok = expect is verdict if expect is not None else verdict.acceptable_without_expect
    costs = tuple(SideCost(side, dt, r.seconds, r.memory_bytes, r.memory_kind)
                  for dt, r in runs.switched.items() if isinstance(r, SideRun))
    return SwitchCheck(switch.name, side, verdict, expect, ok, explanation, diagnosis.fix,
                       tuple(facts.quantities), tuple(notes), runs.device, costs,
                       dict(runs.compile_seconds), reproducer)


def _stem(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)[:40] or "side"


def _single_report(problem: Problem, plan: SwitchPlan, checks: tuple[SwitchCheck, ...],
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
