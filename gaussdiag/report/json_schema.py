"""The JSON Schema of the compare report (`gaussdiag schema --report`), written next to the
renderer it describes; a test validates real reports against it. No torch here."""

from __future__ import annotations

from typing import Any

from gaussdiag.report.json_report import FORMAT_VERSION
from gaussdiag.vocab import DType, Mode, RelationKind, SideName, Status, Verdict

DIALECT = "https://json-schema.org/draft/2020-12/schema"

_STATUS = [v.value for v in Verdict] + [s.value for s in Status]
_NUMBER = {"anyOf": [{"type": "number"}, {"enum": ["nan", "inf", "-inf"]}]}
_NULLABLE_STR = {"type": ["string", "null"]}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props,
            "required": list(props) if required is None else required}


_NULLABLE_STRING = {"type": ["string", "null"]}
_CAUSE = _obj({
    "side": {"enum": [s.value for s in SideName]},
    "on": {"enum": ["param", "argument"]},
    "param": _NULLABLE_STRING,  # the param (on a param)
    "dist": _NULLABLE_STRING, "argument": _NULLABLE_STRING,  # the argument (on an argument)
    "occurrence": {"type": ["integer", "null"]},  # which construction of `dist`, from 0
    "transform": {"type": "string"},
    "factor": {"type": ["number", "null"]},  # the scale transform's number
}, required=["side", "on", "param", "transform"])


def _per_dtype(value: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "propertyNames": {"enum": [d.value for d in DType]},
            "additionalProperties": value}


_QUANTITY = _obj({
    "name": {"type": "string"},
    "verdict": {"enum": [v.value for v in Verdict]},
    "diff": _per_dtype(_NUMBER),
    "tol": _per_dtype({"type": "number"}),
    "persists": {"type": "boolean"},
})

# A mismatch's relation between the sides (null for every other verdict, and for a mismatch
# no relation explains): `value` is a factor's c, an offset's k, affine's c (its k in
# `constant`), else null; `closed_form` the catalog's formula for it (or point-term's matched
# term), null when none matches; `elements` the entries the differences sit in.
_STRUCTURE = {"anyOf": [{"type": "null"}, _obj({
    "kind": {"enum": [k.value for k in RelationKind]},
    "value": {"anyOf": [{"type": "null"}, _NUMBER]},
    "closed_form": _NULLABLE_STR,
    "params": {"type": "array", "items": {"type": "string"}},
    "elements": {"type": "array", "items": _obj({
        "quantity": {"type": "string"},
        "index": {"type": "array", "items": {"type": "integer", "minimum": 0}}})},
    "constant": {"anyOf": [{"type": "null"}, _NUMBER]},
}, required=["kind", "value", "closed_form", "params", "elements"])]}

_NULLABLE_NUMBER = {"anyOf": [{"type": "null"}, _NUMBER]}

# One side run with a switch against itself without it (gaussdiag/attribute/switch_rules.py):
# `diff` per dtype run under the switch; tf32 and autocast also give the switched float32
# run's `error` against float64, the unswitched run's (`error_without`) and what the
# switch's arithmetic `explained` on top of it (null for compile and device).
_SWITCH = _obj({
    "switch": {"type": "string"},
    "side": {"enum": [s.value for s in SideName]},
    "verdict": {"enum": [v.value for v in Verdict] + [None]},
    "status": {"enum": [v.value for v in Verdict] + ["skipped", "error"]},
    "expect": {"enum": [v.value for v in Verdict] + [None]},
    "ok": {"type": "boolean"},
    "explanation": {"type": "string"},
    "fix": {"type": "string"},
    "quantities": {"type": "array", "items": _obj({
        **_QUANTITY["properties"],
        "error": _NULLABLE_NUMBER, "error_without": _NULLABLE_NUMBER,
        "explained": _NULLABLE_NUMBER})},
    "notes": {"type": "array", "items": {"type": "string"}},
    "device": {"type": "string"},
    "reproducer": _NULLABLE_STR,
    "skipped": _NULLABLE_STR,
    "error": _NULLABLE_STR,
    "costs": {"type": "array", "items": _obj({
        "dtype": {"enum": [d.value for d in DType]},
        "seconds": {"type": "number"}, "memory_bytes": {"type": ["integer", "null"]},
        "memory_kind": {"type": "string"}})},
    "compile_seconds": _per_dtype({"type": "number"}),
}, required=["switch", "side", "verdict", "status", "expect", "ok", "explanation", "fix",
             "quantities", "reproducer", "skipped", "error"])  # not: costs, compile_seconds

_SPEC = _obj({
    "file": {"type": "string"},
    "name": {"type": "string"},
    "verdict": {"enum": [v.value for v in Verdict] + [None]},
    "status": {"enum": _STATUS},
    "expect": {"enum": [v.value for v in Verdict] + [None]},
    "ok": {"type": "boolean"},
    "explanation": {"type": "string"},
    "fix": {"type": "string"},
    "cause": {"anyOf": [{"type": "null"}, _CAUSE]},
    "also": {"type": "array", "items": {**_CAUSE, "properties": {
        **_CAUSE["properties"], "fix": {"type": "string"}},
        "required": [*_CAUSE["required"], "fix"]}},
    "round_off": {"anyOf": [{"type": "null"}, _obj({
        "quantity": {"type": "string"}, "dtype": {"enum": [d.value for d in DType]},
        "gap": _NUMBER, "explained": _NUMBER, "ratio": _NUMBER,
        "digits": {"type": "object", "propertyNames": {"enum": [s.value for s in SideName]},
                   "additionalProperties": _NUMBER},
        "worse_side": {"enum": [s.value for s in SideName] + [None]}})]},
    "structure": _STRUCTURE,
    "quantities": {"type": "array", "items": _QUANTITY},
    "kappa": _NUMBER,
    "mode": {"enum": [m.value for m in Mode]},
    # torch's intra-op threads during the diagnosis (0: not known)
    "threads": {"type": "integer", "minimum": 0},
    "problems": {"type": "array", "items": _obj({
        "verdict": {"enum": [v.value for v in Verdict]}, "message": {"type": "string"}})},
    "notes": {"type": "array", "items": {"type": "string"}},
    "costs": {"type": "array", "items": _obj({
        "side": {"enum": [s.value for s in SideName]},
        "dtype": {"enum": [d.value for d in DType]},
        # the median of `repeats` warm timed calls; repeats 0: the first call alone
        "seconds": {"type": "number"}, "repeats": {"type": "integer", "minimum": 0},
        "memory_bytes": {"type": ["integer", "null"]},
        "memory_kind": {"type": "string"}})},
    "seconds": {"type": "number"},
    "trajectories": {"type": "array", "items": _obj({
        "dtype": {"enum": [d.value for d in DType]},
        "gaps": {"type": "array", "items": _NUMBER},
        "loss_a": {"type": "array", "items": _NUMBER},
        "loss_b": {"type": "array", "items": _NUMBER},
        "growth_per_step": {"type": ["number", "null"]},
        "failed": _NULLABLE_STR})},
    "skipped": _NULLABLE_STR,
    "interrupted": {"type": "boolean"},
    # train mode's Ctrl-C: side `side` in `dtype` was in step `step` of `steps` and had
    # finished `done` = step - 1 of them
    "interrupted_at": {"oneOf": [{"type": "null"}, _obj({
        "dtype": {"enum": [d.value for d in DType]},
        "side": {"enum": [s.value for s in SideName]},
        "step": {"type": "integer", "minimum": 1},
        "done": {"type": "integer", "minimum": 0},
        "steps": {"type": "integer", "minimum": 1}})]},
    "not_run": {"type": "boolean"},
    # the spec ran past its wall-clock bound; `explanation` says what had finished
    "timed_out": {"type": "boolean"},
    "error": _NULLABLE_STR,
    "single": {"type": "boolean"},
    "switches": {"type": "array", "items": _SWITCH},
}, required=["file", "name", "verdict", "status", "expect", "ok", "explanation", "fix",
             "cause", "round_off", "structure", "quantities", "error", "interrupted",
             "not_run", "timed_out", "switches"])  # not required: costs, seconds (timings)


def report_schema() -> dict[str, Any]:
    """The schema of `compare --json` as a JSON-ready dict."""
    return {
        "$schema": DIALECT,
        "title": f"gaussdiag compare report, format version {FORMAT_VERSION}",
        **_obj({
            "format_version": {"const": FORMAT_VERSION},
            "ok": {"type": "boolean"},
            "interrupted": {"type": "boolean"},
            "timed_out": {"type": "boolean"},
            "gaussdiag": {"type": "string"},
            "torch": {"type": "string"},
            "device": {"type": "string"},
            "specs": {"type": "array", "items": _SPEC},
        }),
    }
