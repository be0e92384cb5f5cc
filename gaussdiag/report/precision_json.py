"""JSON of the precision results: plain dicts of a frozen result, ready for `dumps`.

JSON has no NaN or infinity: digits that do not exist become null (the class says why), and
values that may legitimately be infinite or NaN are kept as strings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gaussdiag.precision.cells import CELL_CLASSES
from gaussdiag.precision.findings import Finding
from gaussdiag.precision.mvn import MvnSweep
from gaussdiag.precision.normal import NormalSweep
from gaussdiag.precision.point import PointResult
from gaussdiag.precision.sides import SidePrecision
from gaussdiag.precision.spec_check import SpecPrecision

if TYPE_CHECKING:
    from gaussdiag.precision.normal import QuantityMap


def _class_names(qm: QuantityMap) -> list[list[str]]:
    """The class name of every cell, looked up by code in one array operation."""
    import numpy as np

    names = np.array([c.value for c in CELL_CLASSES])
    out: list[list[str]] = names[qm.codes].tolist()
    return out


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


def normal_json(result: NormalSweep) -> dict[str, Any]:
    return {
        "dist": "normal",
        "dtype": result.dtype.value,
        "param": result.param.value,
        "axes": {"sigma": list(result.sigma), "z": list(result.z)},
        "precision_digits": result.precision_digits,
        "accurate_digits": result.accurate_digits,
        "large": result.large,
        "quantities": {
            qm.name: {
                "digits": [[_jnum(v) for v in row] for row in qm.digits.tolist()],
                "class": _class_names(qm),
            }
            for qm in result.quantities
        },
        "findings": [_finding_json(f) for f in result.findings],
    }


def mvn_json(result: MvnSweep) -> dict[str, Any]:
    params: dict[str, dict[str, Any]] = {}
    for ln in result.lines:
        params.setdefault(ln.param.value, {})[ln.name] = {
            "digits": [_jnum(v) for v in ln.digits],
            "class": [c.value for c in ln.classes],
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


FORMAT_VERSION = 1
"""Version of precision-check's JSON, its first key; raised when a key changes meaning or goes."""


def sweep_json(result: NormalSweep | MvnSweep | PointResult) -> dict[str, Any]:
    """The JSON of any built-in check: a Normal map, an MVN sweep or a point."""
    if isinstance(result, NormalSweep):
        body = normal_json(result)
    elif isinstance(result, MvnSweep):
        body = mvn_json(result)
    else:
        body = point_json(result)
    return {"format_version": FORMAT_VERSION, **body}


def specs_json(results: Sequence[SpecPrecision]) -> dict[str, Any]:
    """The JSON of precision-check with SPEC files: one shape for one spec or many."""
    return {"format_version": FORMAT_VERSION, "specs": [spec_json(r) for r in results]}


def _finding_json(f: Finding) -> dict[str, Any]:
    return {"quantity": f.quantity, "class": f.cell_class.value, "cells": f.cells,
            "total": f.total, "text": f.text}


def dumps(obj: dict[str, Any] | list[dict[str, Any]]) -> str:
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"
