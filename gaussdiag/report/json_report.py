"""The JSON report (`--json FILE`, `--format json`): spec-v1's stable keys plus a few more."""

from __future__ import annotations

import json
from typing import Any

from gaussdiag._version import __version__
from gaussdiag.numbers import json_number
from gaussdiag.report.status import status_word
from gaussdiag.results import Cause, RoundOff, RunReport, SpecReport, Structure, SwitchCheck

# Bumped when a key is removed or changes meaning; new keys keep the version.
FORMAT_VERSION = 1

# Per-spec JSON keys that hold measurements (they differ from run to run), also in each of
# its switch checks.
TIMING_KEYS = ("costs", "seconds", "compile_seconds")


def to_json(run: RunReport, *, timings: bool = True) -> dict[str, Any]:
    """The report as a JSON-ready dict.

    `timings=False` leaves out what is measured rather than computed (`TIMING_KEYS`: time and
    memory), so that the same spec and seed give the same report byte for byte."""
    specs = [spec_json(s) for s in run.specs]
    if not timings:
        for spec in specs:
            for entry in [spec, *spec["switches"]]:
                for key in TIMING_KEYS:
                    entry.pop(key, None)
    return {
        "format_version": FORMAT_VERSION,
        "ok": run.ok,
        "interrupted": run.interrupted,
        "timed_out": run.timed_out,
        "gaussdiag": __version__,
        "torch": run.torch_version,
        "device": run.device,
        "specs": specs,
    }


def render_json(run: RunReport, *, timings: bool = True) -> str:
    """The JSON report as text, as `--json FILE` writes it."""
    return json.dumps(to_json(run, timings=timings), indent=2) + "\n"


def spec_json(s: SpecReport) -> dict[str, Any]:
    """One spec's entry in the report's `specs` (also `SpecReport.to_dict()`)."""
    return {
        "file": s.file,
        "name": s.name,
        "verdict": s.verdict.value if s.verdict else None,
        "status": status_word(s),
        "expect": s.expect.value if s.expect else None,
        "ok": s.ok,
        "explanation": s.explanation,
        "fix": s.fix,
        "cause": None if s.cause is None else cause_json(s.cause),
        "also": [{**cause_json(a.cause), "fix": a.fix} for a in s.also],
        "round_off": None if s.round_off is None else _round_off_json(s.round_off),
        "structure": None if s.structure is None else structure_json(s.structure),
        "quantities": [
            {"name": q.name, "verdict": q.verdict.value,
             "diff": {dt.value: json_number(d) for dt, d in q.diff.items()},
             "tol": {dt.value: t for dt, t in q.tol.items()},
             "persists": q.persists}
            for q in s.quantities
        ],
        "kappa": json_number(s.kappa),
        "mode": s.mode.value,
        "threads": s.threads,
        "problems": [{"verdict": p.verdict.value, "message": p.message} for p in s.problems],
        "notes": list(s.notes),
        "costs": [{"side": c.side.value, "dtype": c.dtype.value, "seconds": c.seconds,
                   "repeats": c.repeats, "memory_bytes": c.memory_bytes,
                   "memory_kind": c.memory_kind}
                  for c in s.costs],
        "trajectories": [
            {"dtype": t.dtype.value, "gaps": [json_number(g) for g in t.gaps],
             "loss_a": [json_number(x) for x in t.loss_a],
             "loss_b": [json_number(x) for x in t.loss_b],
             "growth_per_step": t.growth, "failed": t.failed}
            for t in s.trajectories
        ],
        "skipped": s.skipped,
        "interrupted": s.interrupted,
        "interrupted_at": None if (i := s.interrupted_at) is None else {
            "dtype": i.dtype.value, "side": i.side.value, "step": i.step, "done": i.done,
            "steps": i.steps},
        "not_run": s.not_run,
        "timed_out": s.timed_out,
        "error": s.error,
        "single": s.single,
        "switches": [switch_json(c) for c in s.switches],
    }


def switch_json(c: SwitchCheck) -> dict[str, Any]:
    """One switch check: the side run with the switch against itself without it."""
    return {
        "switch": c.switch,
        "side": c.side.value,
        "verdict": c.verdict.value if c.verdict else None,
        "status": c.verdict.value if c.verdict else "skipped" if c.skipped else "error",
        "expect": c.expect.value if c.expect else None,
        "ok": c.ok,
        "explanation": c.explanation,
        "fix": c.fix,
        "quantities": [
            {"name": q.name, "verdict": q.verdict.value,
             "diff": {dt.value: json_number(d) for dt, d in q.diff.items()},
             "tol": {dt.value: t for dt, t in q.tol.items()},
             "persists": q.persists,
             "error": None if q.error is None else json_number(q.error),
             "error_without": None if q.error_without is None else json_number(q.error_without),
             "explained": None if q.explained is None else json_number(q.explained)}
            for q in c.quantities
        ],
        "notes": list(c.notes),
        "device": c.device,
        "reproducer": c.reproducer,
        "skipped": c.skipped,
        "error": c.error,
        "costs": [{"dtype": x.dtype.value, "seconds": x.seconds, "memory_bytes": x.memory_bytes,
                   "memory_kind": x.memory_kind} for x in c.costs],
        "compile_seconds": {dt.value: t for dt, t in c.compile_seconds.items()},
    }


def cause_json(c: Cause) -> dict[str, Any]:
    return {"side": c.side.value, "on": c.on, "param": c.param, "dist": c.dist,
            "argument": c.argument, "occurrence": c.occurrence, "transform": c.transform,
            "factor": c.factor}


def _round_off_json(r: RoundOff) -> dict[str, Any]:
    return {"quantity": r.quantity, "dtype": r.dtype.value, "gap": json_number(r.gap),
            "explained": json_number(r.explained), "ratio": json_number(r.ratio),
            "digits": {side.value: json_number(d) for side, d in r.digits.items()},
            "worse_side": r.worse_side.value if r.worse_side else None}


def structure_json(r: Structure) -> dict[str, Any]:
    """A mismatch's relation: kind, number, closed form, params, elements (and affine's k)."""
    return {"kind": r.kind.value,
            "value": None if r.value is None else json_number(r.value),
            "closed_form": r.closed_form, "params": list(r.params),
            "elements": [{"quantity": e.quantity, "index": list(e.index)} for e in r.elements],
            "constant": None if r.constant is None else json_number(r.constant)}
