"""Pydantic's validation errors -> located, plain messages (no union tags, no help URLs)."""

from __future__ import annotations

import json
from enum import Enum
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from gaussdiag.frontends.yaml.spec.args_form import args_not_a_mapping
from gaussdiag.frontends.yaml.spec.document import Document, describe, show
from gaussdiag.frontends.yaml.spec.independent import without_independent
from gaussdiag.frontends.yaml.spec.located import KeyPath, Pending
from gaussdiag.frontends.yaml.spec.models import (
    AffineTransform,
    ExpectSpec,
    ExprOrNumber,
    ExprTensor,
    EyeInit,
    FullInit,
    Init,
    InitTensor,
    InputSpec,
    NestedNumbers,
    NormalInit,
    PowerTransform,
    SampleInput,
    Spec,
    TensorSpec,
    TransformSpec,
    UniformInit,
    ValuesTensor,
)
from gaussdiag.suggest import closest, hint

# The accepted forms of each union, for one clear message instead of every variant's failure.
_FORMS: dict[frozenset[Any], tuple[str, str]] = {
    frozenset(get_args(TensorSpec)): (
        "a tensor spec", '{values: ...}, {shape: [...], init: ...} or {expr: "..."}'),
    frozenset(get_args(InputSpec)): (
        "an input spec", '{values: ...}, {shape: [...], init: ...}, {expr: "..."} or '
                         "{sample: a|b, sample_shape: [...]}"),
    frozenset(get_args(Init)): (
        "an init", "zeros, ones, normal, uniform, {full: v}, {normal: {mean: m, std: s}}, "
                   "{uniform: [lo, hi]} or {eye: true}"),
    frozenset(get_args(TransformSpec)): (
        "a transform", "exp, tanh, sigmoid, softplus, {affine: {loc: ..., scale: ...}} or "
                       "{power: ...}"),
    frozenset(get_args(ExprOrNumber)): ("an expression (a string) or a finite number", ""),
    frozenset(get_args(NestedNumbers)): ("a number or a nested list of numbers", ""),
    frozenset(get_args(ExpectSpec)): (
        "a verdict or a mapping", "agree, round-off, mismatch, ... or {pair: verdict, "
                                  "SWITCH: verdict or {a: verdict, b: verdict}}"),
}

# The keys that pick a mapping's variant in a union.
_MARKERS: dict[type[BaseModel], tuple[str, ...]] = {
    ValuesTensor: ("values",),
    InitTensor: ("shape", "init"),
    ExprTensor: ("expr",),
    SampleInput: ("sample", "sample_shape"),
    FullInit: ("full",),
    NormalInit: ("normal",),
    UniformInit: ("uniform",),
    EyeInit: ("eye",),
    AffineTransform: ("affine",),
    PowerTransform: ("power",),
}


# How an unknown key close to a field of its mapping is reported: a misspelt field.
NEAR_MISS = "unknown key (did you mean"


def validate_collecting(data: dict[str, Any], doc: Document
                        ) -> tuple[Spec | None, list[Pending]]:
    """The spec (None if the models reject it) and the models' problems. When every problem
    is at a key no cross-field rule reads (`independent.py`: `expect`, `dtypes`, a side's
    `args`, ...) or is an unknown key that misspells none of the others, the spec returned
    is the one without those keys, so the cross-field rules run on it and every problem is
    reported in one run. Otherwise no spec is returned: what the rules would find may follow
    from the problem (`inptus` makes `at: x` name no input)."""
    try:
        return _model(data), []
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=True)
    problems = _translate(errors, data, doc)
    pruned = without_independent(data, problems)
    if pruned is None:
        return None, problems
    try:
        return _model(pruned), problems
    except ValidationError:
        return None, problems


def _model(data: dict[str, Any]) -> Spec:
    # JSON in strict mode: enums take their string values, but nothing else is coerced (a
    # quoted "3" is not an integer, `yes` is not true). NaN and infinities pass through json.
    return Spec.model_validate_json(json.dumps(data), strict=True)


def _translate(errors: list[ErrorDetails], data: Any, doc: Document) -> list[Pending]:
    out: dict[tuple[KeyPath, str], Pending] = {}
    for err in errors:
        located = _translate_one(err, data, doc)
        if located is not None:
            out.setdefault((located.path, located.message), located)
    if not out:  # cannot happen: some variant of every failing union is reported
        err = errors[0]
        path = tuple(k for k in err["loc"] if isinstance(k, int) or k in _all_keys(data))
        return [Pending(path, doc.position(path), err["msg"])]
    return list(out.values())


def _all_keys(data: Any) -> set[str]:
    keys: set[str] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            keys.update(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return keys


def _translate_one(err: ErrorDetails, data: Any, doc: Document) -> Pending | None:
    path: list[str | int] = []
    ann: Any = Spec
    parent: type[BaseModel] | None = None
    via_literal_union: tuple[KeyPath, frozenset[Any]] | None = None
    container: Any = None
    for key in err["loc"]:
        ann = _unwrap(ann)
        container = ann
        if _is_union(ann):
            variants = frozenset(get_args(ann))
            here = tuple(path)
            variant = _match_tag(variants, str(key))
            chosen = _choose(variants, value_at(data, here))
            if isinstance(chosen, str):  # no variant fits: one message for the union
                return Pending(here, doc.position(here), chosen)
            if chosen is not variant:
                return None  # an error of a variant the value was not written for
            if get_origin(variant) is Literal:
                via_literal_union = (here, variants)
            ann = variant
            continue
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            parent = ann
            field = ann.model_fields.get(str(key))
            ann = field.annotation if field is not None else None
        elif get_origin(ann) is dict:
            ann = get_args(ann)[1]
        elif get_origin(ann) is tuple and isinstance(key, int) and key < len(get_args(ann)):
            ann = get_args(ann)[key]
        elif get_origin(ann) is list:
            ann = get_args(ann)[0]
        else:
            ann = None
        path.append(key)

    kind = err["type"]
    found = err.get("input")
    ctx = err.get("ctx") or {}
    if path and path[-1] == "[key]":  # a mapping's key, not its value, is wrong
        path.pop()
        here = tuple(path)
        return Pending(here, doc.position(here), f"unknown key {show(found)} (expected "
                                                 f"{ctx.get('expected', 'another key')})")
    here = tuple(path)
    if kind == "missing" and isinstance(here[-1], int) and get_origin(container) is tuple:
        items = value_at(data, here[:-1])
        count = len(items) if isinstance(items, list) else 0
        return Pending(here[:-1], doc.position(here[:-1]),
                        f"expected a list of {len(get_args(container))} items, found {count}")
    if kind == "missing":
        return Pending(here[:-1], doc.end(here[:-1]),
                        f"missing required key '{here[-1]}'")
    if kind == "extra_forbidden":
        fields = list(parent.model_fields) if parent is not None else []
        close = closest(str(here[-1]), fields)
        if close:
            return Pending(here, doc.position(here), f"{NEAR_MISS} '{close}'?)",
                           unknown_key=True, misspells=close)
        return Pending(here, doc.position(here),
                       f"unknown key (expected one of: {', '.join(fields)})", unknown_key=True)
    if via_literal_union is not None and kind == "literal_error":
        where, variants = via_literal_union
        what, forms = _FORMS[variants]
        literal = next(v for v in variants if get_origin(v) is Literal)
        close = closest(str(found), [str(v) for v in get_args(literal)])
        hint = f" (did you mean '{close}'?)" if close else ""
        return Pending(where, doc.position(where),
                        f"expected {what}: {forms}; found {show(found)}{hint}")
    if kind == "dict_type" and len(here) == 2 and here[0] in ("a", "b") and here[1] == "args":
        message = args_not_a_mapping(value_at(data, (here[0], "dist")), found)
    else:
        message = _plain_message(kind, ctx, _unwrap(ann), found, err["msg"])
    return Pending(here, doc.position(here), message)


def _plain_message(kind: str, ctx: dict[str, Any], ann: Any, found: Any, fallback: str) -> str:
    shown = describe(found)
    if kind in ("enum", "literal_error"):
        if isinstance(ann, type) and issubclass(ann, Enum):
            values = [str(m.value) for m in ann]
        elif get_origin(ann) is Literal:
            values = [show(v) if not isinstance(v, str) else v for v in get_args(ann)]
        else:
            values = [str(ctx.get("expected", "?"))]
        if len(values) == 1:
            return f"expected {values[0]}, found {shown}"
        # a closer bar than for names: 'float8' is as near float16 as float64, so no guess
        near = hint(found, values, cutoff=0.8) if isinstance(found, str) else ""
        return f"expected one of {', '.join(values)}, found {shown}{near}"
    simple = {
        "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
        "float_type": "a number", "float_parsing": "a number",
        "bool_type": "true or false", "bool_parsing": "true or false",
        "string_type": "a string", "list_type": "a list", "tuple_type": "a list",
        "dict_type": "a mapping", "model_type": "a mapping",
        "model_attributes_type": "a mapping", "finite_number": "a finite number",
    }
    if kind in simple:
        return f"expected {simple[kind]}, found {shown}"
    if kind in ("too_short", "too_long"):
        if get_origin(ann) is tuple:
            return f"expected a list of {len(get_args(ann))} items, found " \
                   f"{ctx.get('actual_length', '?')}"
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        return f"expected {'at least' if kind == 'too_short' else 'at most'} {bound} items, " \
               f"found {ctx.get('actual_length', '?')}"
    if kind == "greater_than_equal":
        return f"expected a number >= {show(ctx.get('ge'))}, found {shown}"
    if kind == "greater_than":
        return f"expected a number > {show(ctx.get('gt'))}, found {shown}"
    if kind == "less_than_equal":
        return f"expected a number <= {show(ctx.get('le'))}, found {shown}"
    if kind == "value_error":
        return str(ctx.get("error", fallback))
    return fallback


def _unwrap(ann: Any) -> Any:
    """Strip `Annotated[...]` and `X | None` (pydantic adds no loc entry for either)."""
    while True:
        if get_origin(ann) is Annotated:
            ann = get_args(ann)[0]
            continue
        if get_origin(ann) in (Union, UnionType):
            args = [a for a in get_args(ann) if a is not type(None)]
            if len(args) == 1:
                ann = args[0]
                continue
        return ann


def _is_union(ann: Any) -> bool:
    return get_origin(ann) in (Union, UnionType)


def _match_tag(variants: frozenset[Any], tag: str) -> Any:
    """The union member that pydantic names `tag` in an error location."""
    for variant in variants:
        if isinstance(variant, type) and variant.__name__ == tag:
            return variant
        if isinstance(variant, type) and issubclass(variant, Enum) and \
                tag.endswith(f"enum[{variant.__name__}]"):
            return variant
        origin = get_origin(variant)
        if origin is Literal and tag.startswith("literal["):
            return variant
        if origin is not None and origin is not Literal and tag.startswith(origin.__name__ + "["):
            return variant
    return None


def _choose(variants: frozenset[Any], value: Any) -> Any:
    """The union member `value` was written for (by the keys of a mapping, the type of a
    scalar), or the message to report when it fits none."""
    what, forms = _FORMS.get(variants - {type(None)}, ("a valid value", ""))
    expected = f"expected {what}: {forms}" if forms else f"expected {what}"
    models = [v for v in variants if isinstance(v, type) and issubclass(v, BaseModel)]
    if isinstance(value, dict):
        hits: dict[Any, str] = {}
        for key in value:
            for model in models:
                if key in _MARKERS.get(model, ()) and model not in hits:
                    hits[model] = key
        if len(hits) == 1:
            return next(iter(hits))
        if len(hits) > 1:
            keys = " and ".join(f"`{k}`" for k in hits.values())
            return f"{keys} cannot be combined: {expected}"
        if models and any(k in value for k in ("sample", "sample_shape")):
            return f"`sample:` is only for inputs: {expected}"
        mapping = next((v for v in variants if get_origin(v) is dict), None)
        if not models and mapping is not None:
            return mapping
        return f"{expected}; found {describe(value)}"
    for variant in variants:
        origin = get_origin(variant)
        if isinstance(value, str) and isinstance(variant, type) and issubclass(variant, Enum):
            return variant
        if (isinstance(value, str) and (variant is str or origin is Literal)) or (
                isinstance(value, (int, float)) and not isinstance(value, bool)
                and variant is float) or (isinstance(value, list) and origin is list):
            return variant
    return f"{expected}; found {describe(value)}"


def value_at(data: Any, path: KeyPath) -> Any:
    for key in path:
        if isinstance(data, dict) and isinstance(key, str):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
            data = data[key]
        else:
            return None
    return data


