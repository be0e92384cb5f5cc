"""JSON of the precision results: plain dicts of a frozen result, ready for `dumps`.

JSON has no NaN or infinity: digits that do not exist become null (the class says why), and
values that may legitimately be infinite or NaN are kept as strings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from gaussdiag.precision.findings import Finding
from gaussdiag.precision.mvn import MvnSweep
from gaussdiag.precision.normal import NormalSweep
from gaussdiag.precision.point import PointResult
from gaussdiag.precision.sides import SidePrecision
from gaussdiag.precision.spec_check import SpecPrecision
from gaussdiag.report.precision_grid import CLASS_KEY, Grid, class_string, round_digits
from gaussdiag.report.precision_grid import dumps as dumps_grids


def _side_json(s: SidePrecision) -> dict[str, Any]:
    return {
        "label": s.label,
        "cost": {"seconds": s.cost.seconds if s.cost else None,
                 "repeats": s.cost.repeats if s.cost else None,
                 "memory_bytes": s.cost.memory_bytes if s.cost else None,
                 "memory_kind": s.cost.memory_kind if s.cost else None},
        "quantities": [{"name": q.name, "digits": _jnum(q.digits), "class": q.cell_class.value}
                       for q in s.quantities],
        "failure": None if s.failed_in is None else {"dtype": s.failed_in,
                                                      "message": s.failure, "fix": s.fix},
    }


def spec_json(result: SpecPrecision) -> dict[str, Any]:
    rec = result.recommendation
    return {
        "spec": result.file,
        "name": result.name,
        "dtype": result.dtype.value,
        "mode": result.mode.value,
        "device": result.device,
        "threads": result.threads,
        "precision_digits": result.precision_digits,
        "accurate_digits": result.accurate_digits,
        "sides": {s.side.value: _side_json(s) for s in result.sides},
        "better": {name: b.value for name, b in result.better},
        "recommendation": {"side": rec.side.value if rec.side is not None else None,
                           "text": rec.text},
    }


def _jnum(v: float) -> float | None:
    """JSON has no NaN or infinity: those become null (the class says why)."""
    return v if math.isfinite(v) else None


def _jval(v: float) -> float | str:
    """A value that may legitimately be infinite or NaN: kept, as a string."""
    return v if math.isfinite(v) else repr(v)


def normal_json(result: NormalSweep, grids: dict[str, Grid] | None = None) -> dict[str, Any]:
    """The map as JSON-ready data. With `grids`, each per-cell grid is left as a placeholder
    string, its `Grid` added to `grids` for `precision_grid.dumps` to write; without, the
    grids are the lists that text loads to."""
    def grid(g: Grid) -> Any:
        if grids is None:
            return g.loaded()
        name = f"\x00grid{len(grids)}"
        grids[name] = g
        return name

    return {
        "dist": "normal",
        "dtype": result.dtype.value,
        "param": result.param.value,
        "axes": {"sigma": list(result.sigma), "z": list(result.z)},
        "precision_digits": result.precision_digits,
        "accurate_digits": result.accurate_digits,
        "large": result.large,
        "class_key": CLASS_KEY,
        "quantities": {
            qm.name: {"digits": grid(Grid(digits=qm.digits)), "class": grid(Grid(codes=qm.codes))}
            for qm in result.quantities
        },
        "findings": [_finding_json(f) for f in result.findings],
    }


def mvn_json(result: MvnSweep) -> dict[str, Any]:
    params: dict[str, dict[str, Any]] = {}
    for ln in result.lines:
        params.setdefault(ln.param.value, {})[ln.name] = {
            "digits": [round_digits(v) for v in ln.digits],
            "class": class_string(ln.classes),
        }
    return {
        "dist": "mvn",
        "dtype": result.dtype.value,
        "dim": result.dim,
        "param": [p.value for p, _ in result.rounded_indefinite],
        "axes": {"condition": list(result.condition)},
        "precision_digits": result.precision_digits,
        "accurate_digits": result.accurate_digits,
        "large": result.large,
        "class_key": CLASS_KEY,
        "quantities": params,
        "rounded_indefinite": {p.value: list(v) for p, v in result.rounded_indefinite},
        "findings": [_finding_json(f) for f in result.findings],
    }


def point_json(result: PointResult) -> dict[str, Any]:
    d = result.dtype.value
    s = result.spec
    return {
        "dtype": d,
        "param": result.param.value,
        "point": {"loc": s.loc, "x": s.x, s.raw_key: s.raw, "scale": result.scale,
                  "z": _jval(result.z), "rounded": {k: _jval(v) for k, v in result.rounded}},
        "quantities": [
            {"name": q.name, "value": {d: _jval(q.low), "float64": _jval(q.reference)},
             "float64_exact_inputs": _jval(q.reference_exact),
             "digits": _jnum(q.digits), "class": q.cell_class.value}
            for q in result.quantities
        ],
        "torch_behavior": None if result.torch_behavior is None else {
            "validate_args_error": result.torch_behavior.validate_error,
            "unvalidated": {k: _jval(v) for k, v in result.torch_behavior.unvalidated},
        },
        "advice": list(result.advice),
    }


FORMAT_VERSION = 2
"""Version of precision-check's JSON, its first key; raised when a key changes meaning or goes
(2: the maps' per-cell grids became rows of digits rounded to 0.1 and strings of class
letters, with `class_key`)."""


def sweep_json(result: NormalSweep | MvnSweep | PointResult,
               grids: dict[str, Grid] | None = None) -> dict[str, Any]:
    """The JSON of any built-in check: a Normal map, an MVN sweep or a point (`grids`: see
    `normal_json`)."""
    if isinstance(result, NormalSweep):
        body = normal_json(result, grids)
    elif isinstance(result, MvnSweep):
        body = mvn_json(result)
    else:
        body = point_json(result)
    return {"format_version": FORMAT_VERSION, **body}


def sweep_text(result: NormalSweep | MvnSweep | PointResult) -> str:
    """`sweep_json` as the text `--json` writes, the grids written from their arrays."""
    grids: dict[str, Grid] = {}
    return dumps_grids(sweep_json(result, grids), grids)


def specs_json(results: Sequence[SpecPrecision],
               timed_out: Sequence[tuple[str, float, str]] = ()) -> dict[str, Any]:
    """The JSON of precision-check with SPEC files: one shape for one spec or many.
    `timed_out`: (file, bound in seconds, where the bound came from) of each spec that ran
    past its bound, which has no entry in `specs`."""
    return {"format_version": FORMAT_VERSION, "specs": [spec_json(r) for r in results],
            "timed_out": [{"spec": file, "seconds": seconds, "bound": source}
                          for file, seconds, source in timed_out]}


def _finding_json(f: Finding) -> dict[str, Any]:
    return {"quantity": f.quantity, "class": f.cell_class.value, "cells": f.cells,
            "total": f.total, "text": f.text}


def dumps(obj: dict[str, Any] | list[dict[str, Any]]) -> str:
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"
