"""The JSON Schema of precision-check's JSON (`gaussdiag schema --precision-report`), next to
the renderer it describes (`precision_json`); a test validates real output against it.

One document has one of four shapes, told apart by their keys: SPEC files (`specs`), the
Normal map (`dist: normal`), the MultivariateNormal sweep (`dist: mvn`) and a point
(`point`). No torch or numpy here.
"""

from __future__ import annotations

from typing import Any

from gaussdiag.precision.cells import CellClass
from gaussdiag.precision.mvn import MvnParam
from gaussdiag.precision.recommend import Better
from gaussdiag.report.json_schema import DIALECT
from gaussdiag.report.precision_grid import CLASS_KEY
from gaussdiag.report.precision_json import FORMAT_VERSION
from gaussdiag.vocab import DType, Mode, ScaleParam, SideName

# JSON has no NaN or infinity: digits are null there (the class says why), values that may
# legitimately be infinite or NaN are kept as Python's repr of them.
_DIGITS = {"type": ["number", "null"]}
_VALUE = {"anyOf": [{"type": "number"}, {"enum": ["nan", "inf", "-inf"]}]}
_CLASS = {"enum": [c.value for c in CellClass]}
# The maps' per-cell grids (precision_grid.py): digits rounded to 0.1 (null: none, the class
# says why), and one letter per cell whose class `class_key` names.
_GRID_DIGITS = {"type": ["number", "null"], "minimum": 0}
_CLASS_LETTERS = {"type": "string", "pattern": f"^[{''.join(CLASS_KEY)}]*$"}
_CLASS_KEY = {"const": CLASS_KEY}
_DTYPE = {"enum": [d.value for d in DType]}
_NULLABLE_STR = {"type": ["string", "null"]}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props,
            "required": list(props) if required is None else required}


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def _map(keys: list[str] | None, value: dict[str, Any]) -> dict[str, Any]:
    """An object from names (any, or one of `keys`) to `value`."""
    body: dict[str, Any] = {"type": "object", "additionalProperties": value}
    if keys is not None:
        body["propertyNames"] = {"enum": keys}
    return body


_FINDING = _obj({"quantity": {"type": "string"}, "class": _CLASS,
                 "cells": {"type": "integer"}, "total": {"type": "integer"},
                 "text": {"type": "string"}})

_SIDE = _obj({
    "label": {"type": "string"},
    # seconds: the median of `repeats` warm timed calls (repeats 0: the first call alone)
    "cost": _obj({"seconds": {"type": ["number", "null"]},
                  "repeats": {"type": ["integer", "null"], "minimum": 0},
                  "memory_bytes": {"type": ["integer", "null"]},
                  "memory_kind": _NULLABLE_STR}),
    "quantities": _array(_obj({"name": {"type": "string"}, "digits": _DIGITS,
                               "class": _CLASS})),
    "failure": {"anyOf": [{"type": "null"}, _obj({
        "dtype": {"type": "string"}, "message": _NULLABLE_STR, "fix": _NULLABLE_STR})]},
})

_SPEC = _obj({
    "spec": {"type": "string"},
    "name": {"type": "string"},
    "dtype": _DTYPE,
    "mode": {"enum": [m.value for m in Mode]},
    "device": {"type": "string"},
    "threads": {"type": "integer", "minimum": 0},
    "precision_digits": {"type": "number"},
    "accurate_digits": {"type": "number"},
    "sides": _map([s.value for s in SideName], _SIDE),
    "better": _map(None, {"enum": [b.value for b in Better]}),
    "recommendation": _obj({"side": {"enum": [s.value for s in SideName] + [None]},
                            "text": {"type": "string"}}),
})

_COMMON = {
    "format_version": {"const": FORMAT_VERSION},
    "dtype": _DTYPE,
    "precision_digits": {"type": "number"},
    "accurate_digits": {"type": "number"},
    "large": {"type": "number"},
    "findings": _array(_FINDING),
}

_NORMAL = _obj({
    **_COMMON,
    "dist": {"const": "normal"},
    "param": {"enum": [p.value for p in ScaleParam]},
    "axes": _obj({"sigma": _array({"type": "number"}), "z": _array({"type": "number"})}),
    "class_key": _CLASS_KEY,
    # one row per sigma: a list of digits, and a string of class letters
    "quantities": _map(None, _obj({"digits": _array(_array(_GRID_DIGITS)),
                                   "class": _array(_CLASS_LETTERS)})),
})

_MVN_PARAMS = [p.value for p in MvnParam]
_MVN = _obj({
    **_COMMON,
    "dist": {"const": "mvn"},
    "dim": {"type": "integer"},
    "param": _array({"enum": _MVN_PARAMS}),
    "axes": _obj({"condition": _array({"type": "number"})}),
    "class_key": _CLASS_KEY,
    # per condition number: digits, and one class letter each
    "quantities": _map(_MVN_PARAMS, _map(None, _obj({"digits": _array(_GRID_DIGITS),
                                                     "class": _CLASS_LETTERS}))),
    "rounded_indefinite": _map(_MVN_PARAMS, _array({"type": "boolean"})),
})

_POINT = _obj({
    "format_version": {"const": FORMAT_VERSION},
    "dtype": _DTYPE,
    "param": {"enum": [p.value for p in ScaleParam]},
    # the raw parameter is also a key of `point`: scale, rho or log_scale (by --param)
    "point": _obj({"loc": {"type": "number"}, "x": {"type": "number"},
                   "scale": {"type": "number"}, "z": _VALUE,
                   "rounded": _map(None, _VALUE)}),
    "quantities": _array(_obj({"name": {"type": "string"}, "value": _map(None, _VALUE),
                               "float64_exact_inputs": _VALUE, "digits": _DIGITS,
                               "class": _CLASS})),
    "torch_behavior": {"anyOf": [{"type": "null"}, _obj({
        "validate_args_error": {"type": "string"}, "unvalidated": _map(None, _VALUE)})]},
    "advice": _array({"type": "string"}),
})

# a spec that ran past its wall-clock bound: no entry in `specs`, named here
_TIMED_OUT = _obj({"spec": {"type": "string"}, "seconds": {"type": "number", "minimum": 0},
                   "bound": {"type": "string"}})
_SPECS = _obj({"format_version": {"const": FORMAT_VERSION}, "specs": _array(_SPEC),
               "timed_out": _array(_TIMED_OUT)})


def precision_report_schema() -> dict[str, Any]:
    """The schema of `precision-check --json` as a JSON-ready dict."""
    return {
        "$schema": DIALECT,
        "title": f"gaussdiag precision-check report, format version {FORMAT_VERSION}",
        "oneOf": [_SPECS, _NORMAL, _MVN, _POINT],
    }
