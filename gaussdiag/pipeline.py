"""The coordinator: a problem from any front end -> run both sides in every dtype (engine)
-> attribute (the judge) -> SpecReport. Both front ends call `diagnose_problem`; `Options`
and `located` are what they share around it.

Returns frozen results; never prints. Progress goes through an optional callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from gaussdiag.engine.switch import Switch, SwitchPlan
from gaussdiag.errors import GaussdiagError, SpecError
from gaussdiag.limits import DEFAULT_MAX_ELEMENTS
from gaussdiag.results import Interruption, Located, SideCost, SpecReport
from gaussdiag.vocab import DType, Mode, SideName, Verdict

if TYPE_CHECKING:
    from gaussdiag.engine.evaluate import TrainFailure, TrainRun
    from gaussdiag.engine.problem import Problem

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    """How to run: the device override, the tensor limit, what to do about absent devices
    (a pinned side's, a switch's), the intra-op threads, switches to check besides a
    problem's own, and the wall-clock bound of each spec: `timeout` (seconds, inf for none)
    overrides the spec's own `timeout:`, which overrides `default_timeout` (None: no
    bound)."""

    device: str | None = None
    max_elements: int = DEFAULT_MAX_ELEMENTS
    skip_absent_devices: bool = False
    threads: int | None = None  # torch's intra-op threads; None: from the problem's size
    switches: tuple[Switch, ...] = ()  # checked besides a problem's own
    timeout: float | None = None
    default_timeout: float | None = None
    repro_dir: str | None = None  # a compile mismatch's reproducer goes here (None: a temp dir)

    def bound(self, own: float | None = None) -> tuple[float | None, str]:
        """The bound of a spec whose own `timeout:` is `own`, and where it comes from."""
        if self.timeout is not None:
            return self.timeout, "--timeout"
        if own is not None:
            return own, "the spec's `timeout:`"
        return self.default_timeout, "the default bound; a spec's `timeout:` or --timeout " \
            "raises it"


def located(err: GaussdiagError, file: str) -> tuple[Located, ...]:
    """Where `err` is, one entry per problem: a `SpecError` knows each problem's file, line,
    column and key; any other error is about the whole of `file`."""
    if isinstance(err, SpecError):
        return tuple(Located(p.file, p.line, p.key, p.message, p.col) for p in err.problems)
    return (Located(file, None, None, str(err)),)


def diagnose_problem(problem: Problem, progress: Progress | None = None,
                     start: float | None = None, plan: SwitchPlan | None = None, *,
                     threads: int | None = None) -> SpecReport:
    """The engine, for a problem from any front end: run both sides in every dtype, train
    in train mode, attribute, time each side; then each side under each switch of `plan`
    (side a alone, and no pair diagnosed, for a single side: gaussdiag/switching.py). Runs on
    `threads` intra-op threads (None: one for a small problem, see
    `gaussdiag.engine.threads`). Raises GaussdiagError for what the user must fix,
    DeviceError (naming the switch) for an absent switch device unless it is skipped."""
    from gaussdiag.engine.threads import intra_op_threads

    start = time.perf_counter() if start is None else start
    with intra_op_threads(threads, problem.base) as used:
        return replace(_diagnose_problem(problem, progress, start, plan or SwitchPlan()),
                       threads=used)


def _diagnose_problem(problem: Problem, progress: Progress | None, start: float,
                      plan: SwitchPlan) -> SpecReport:
    from gaussdiag.attribute import attribute, estimate_kappa
    from gaussdiag.engine.cost import measure_costs
    from gaussdiag.engine.evaluate import SideRun, run_side
    from gaussdiag.engine.failures import ConstraintFailure
    from gaussdiag.switching import absent_devices, single_report, switch_checks

    absent = absent_devices(problem, plan)
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
        kappa = estimate_kappa(problem, kappa_notes, plan.sides)
        checks = switch_checks(problem, plan, runs, kappa, absent, progress)
        return single_report(problem, plan, checks, runs, kappa, kappa_notes, start)
    _check_shapes(problem, runs)
    trains, stop = (_train(problem, progress) if problem.mode is Mode.TRAIN
                    else (None, None))
    if progress:
        progress(f"{problem.name}: attributing")
    kappa = estimate_kappa(problem, kappa_notes)
    result = attribute(problem, runs, kappa, progress, trains)
    # timed last, so that calling the sides again cannot change what was diagnosed; after
    # Ctrl-C, the first calls stand (the user asked to stop)
    if stop is None:
        if progress:
            progress(f"{problem.name}: timing both sides")
        costs = measure_costs(problem, runs)
    else:
        costs = tuple(SideCost(r.side, r.dtype, r.seconds, r.memory_bytes, r.memory_kind)
                      for sides in runs.values() for r in sides.values()
                      if isinstance(r, SideRun))
    verdict: Verdict | None = result.verdict
    explanation, fix = result.diagnosis.explanation, result.diagnosis.fix
    structure = result.diagnosis.structure
    if stop is not None:  # a partial run decides nothing: say so rather than judge the part
        verdict, fix, structure = None, "", None
        explanation = _interrupted_text(stop)
    expect = problem.expect
    ok = verdict is not None and (verdict is expect if expect is not None
                                  else verdict.acceptable_without_expect)
    checks = (switch_checks(problem, plan, runs, kappa, absent, progress)
              if stop is None else ())
    devices = {problem.side_devices[s] for s in SideName}
    return SpecReport(
        file=problem.file, name=problem.name, verdict=verdict, expect=expect,
        explanation=explanation, fix=fix,
        cause=result.diagnosis.cause, also=result.diagnosis.also,
        round_off=result.diagnosis.round_off,
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
    other = ("" if stop.side is SideName.B else
             f"; side b had not started in {stop.dtype.value}")
    # both numbers, as the JSON's `interrupted_at` has them: the step cut short and the
    # steps finished
    return (f"interrupted with Ctrl-C while training side {stop.side.value} in "
            f"{stop.dtype.value}, during step {stop.step} of {stop.steps} ({stop.done} "
            f"finished){other}. The gaps shown "
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
    """Sides whose log_prob (or draws) shapes differ cannot be compared: a spec error with
    the fix."""
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
        if problem.mode is Mode.RSAMPLE:
            raise _draws_shapes(problem, big, small, shapes[big], shapes[small])
        if k > 0 and shapes[big][:len(shapes[small])] == shapes[small]:
            hint = problem.shape_hint(big, k)
        else:
            hint = ("make both sides describe the same event: check `event_dims` and the args' "
                    "shapes")
        raise problem.error(big, f"{big.value}'s log_prob has shape {shapes[big]}, "
                           f"{small.value}'s {shapes[small]}: {hint}")


def _draws_shapes(problem: Problem, big: SideName, small: SideName, bs: list[int],
                  ss: list[int]) -> GaussdiagError:
    """Draws of different shapes: most often a side drawing its noise by hand with the
    parameters' shape, where rsample(sample_shape) puts the sample shape in front (that
    side is the one charged)."""
    k = len(bs) - len(ss)
    if k > 0 and bs[k:] == ss:
        return problem.error(small, f"its draws have shape {ss}, side {big.value}'s {bs}: "
                             f"side {small.value} draws without the sample shape {bs[:k]} in "
                             "front; a distribution draws rsample(sample_shape), so noise "
                             "drawn by hand needs it too: torch.randn((*sample_shape, *shape)), "
                             "not torch.randn(shape)")
    return problem.error(big, f"its draws have shape {bs}, side {small.value}'s {ss}: both "
                         "sides must draw the same sample shape, batch and event (compare "
                         "their rsample shapes, or the noise a side draws by hand)")
