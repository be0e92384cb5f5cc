"""`attribute`: apply RULES (rules.py) to a problem's runs and gather what the report shows
with the verdict: the quantities, every other problem seen, the evidence and the notes."""

from __future__ import annotations

from dataclasses import dataclass

from gaussdiag.attribute.explain import (
    coincidence,
    gradient_flow,
    growth_note,
    large_values,
    moment_evidence,
)
from gaussdiag.attribute.facts import Facts, Progress, Runs
from gaussdiag.attribute.quantities import Trains, trajectories
from gaussdiag.attribute.rules import ALSO_REPORTED, RULES, Diagnosis
from gaussdiag.engine.problem import Problem
from gaussdiag.results import Evidence, OtherProblem, Quantity, Trajectory
from gaussdiag.vocab import Verdict


@dataclass(frozen=True)
class Attribution:
    verdict: Verdict
    diagnosis: Diagnosis
    quantities: tuple[Quantity, ...]
    problems: tuple[OtherProblem, ...]
    evidence: tuple[Evidence, ...]
    notes: tuple[str, ...]
    point_quantities: tuple[Quantity, ...] = ()
    trajectories: tuple[Trajectory, ...] = ()


def attribute(problem: Problem, runs: Runs, kappa: float,
              progress: Progress | None = None, trains: Trains | None = None) -> Attribution:
    """Apply RULES in order; the first that finds something is the verdict."""
    facts = Facts(problem, runs, kappa, progress, trains)
    evidence = tuple(moment_evidence(problem)) if facts.pairs() else ()
    problem.release_references()  # the search builds its own; at n = 4096 this is 256 MiB
    verdict, diagnosis = next((v, f) for v, rule in RULES if (f := rule(facts)) is not None)
    others = [OtherProblem(v, f.explanation) for v, rule in RULES
              if v in ALSO_REPORTED and v is not verdict and (f := rule(facts)) is not None]
    quantities = facts.quantities if facts.pairs() else []
    if verdict in (Verdict.PARAMETERIZATION, Verdict.DIFFERENT_DRAWS):
        quantities = [_relabel(q, verdict) if q.persists else q for q in quantities]
    notes = list(facts.notes)
    found = (coincidence(facts) if facts.pairs() and verdict is not Verdict.INVALID_PARAMETERS
             else None)
    if found:
        notes.append(found[0])
        evidence += found[1]
    flow = gradient_flow(facts) if verdict is not Verdict.INVALID_PARAMETERS else None
    if flow:
        notes.append(flow)
    notes += large_values(facts)
    paths = tuple(trajectories(trains)) if trains is not None else ()
    growth = growth_note(paths)
    if growth:
        notes.append(growth)
    point = tuple(facts.point_quantities) if trains is not None and facts.pairs() else ()
    return Attribution(verdict, diagnosis, tuple(quantities), tuple(others), evidence,
                       tuple(notes), point, paths)


def _relabel(q: Quantity, verdict: Verdict) -> Quantity:
    return Quantity(q.name, verdict, q.diff, q.tol, q.shrink, q.persists)
