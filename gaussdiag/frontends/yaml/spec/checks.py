"""The cross-field rules of a spec that the models cannot express: names, sides, modes,
expressions (parsed, never evaluated), sampled inputs and tensor sizes."""

from __future__ import annotations

import functools
import keyword
import math
import re
from collections.abc import Sequence
from typing import Any

from gaussdiag.errors import ExprError
from gaussdiag.frontends.yaml import expr as _expr
from gaussdiag.frontends.yaml.spec.document import Document, show
from gaussdiag.frontends.yaml.spec.located import KeyPath, Pending
from gaussdiag.frontends.yaml.spec.messages import value_at
from gaussdiag.frontends.yaml.spec.models import (
    AffineTransform,
    ExprTensor,
    InitTensor,
    InputSpec,
    PowerTransform,
    SampleInput,
    Side,
    Spec,
    TensorSpec,
    ValuesTensor,
    nested_shape,
)
from gaussdiag.frontends.yaml.spec.names import ARGUMENTS, ARGUMENTS_TORCH, DISTRIBUTIONS
from gaussdiag.limits import lr_overflow
from gaussdiag.suggest import closest, hint
from gaussdiag.vocab import Mode, SideKind, SideName

_DEVICES = re.compile(r"cpu|cuda|cuda:[0-9]+|mps|auto")


class Collector:
    """Collects cross-field problems (the loader raises them with the models' own)."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.found: list[Pending] = []

    def add(self, path: KeyPath, message: str) -> None:
        self.found.append(Pending(path, self.doc.position(path), message))


def cross_field_problems(spec: Spec, data: dict[str, Any], doc: Document, max_elements: int,
                         *, switched: bool = False) -> list[Pending]:
    """Every cross-field problem of `spec`, in the order found; `switched`: the command line
    names switches (so a single side needs none of its own)."""
    from gaussdiag.frontends.yaml.spec.switch_checks import check_switches

    problems = Collector(doc)
    _check_names(spec, problems)
    _check_top(spec, problems)
    check_switches(spec, problems, switched=switched)
    for name in spec.sides:
        _check_side(spec, name, problems)
    refs = _check_expressions(spec, problems)
    _check_samples(spec, refs, problems)
    _check_tensors(spec, data, problems, max_elements)
    return problems.found


def _check_names(spec: Spec, problems: Collector) -> None:
    if not spec.params:
        problems.add(("params",), "declare at least one param (a tensor that gets gradients)")
    for section in ("params", "inputs"):
        for name in getattr(spec, section):
            path = (section, name)
            if keyword.iskeyword(name):
                problems.add(path, f"'{name}' is a Python keyword: choose another name")
            elif not name.isidentifier():
                problems.add(path, f"'{name}' is not a valid name: use letters, digits and _, "
                                   "not starting with a digit")
            elif name.startswith("__") and name.endswith("__"):
                problems.add(path, f"'{name}' is reserved (a dunder name): choose another name")
            elif section == "inputs" and name in spec.params:
                problems.add(path, f"'{name}' is already declared as a param: a name is either "
                                   "a param or an input")


def _check_top(spec: Spec, problems: Collector) -> None:
    mode = spec.mode.value
    if "train" in spec.model_fields_set and spec.train is not None and spec.mode is not Mode.TRAIN:
        problems.add(("train",), f"`train:` only applies with `mode: train` (mode is {mode})")
    if spec.mode is Mode.TRAIN and spec.train is not None:
        overflow = lr_overflow(spec.train.lr, spec.train.optimizer, spec.dtypes)
        if overflow:
            problems.add(("train", "lr"), overflow)
    if "sample_shape" in spec.model_fields_set and spec.mode is not Mode.RSAMPLE:
        problems.add(("sample_shape",), "`sample_shape` only applies with `mode: rsample` "
                                        f"(mode is {mode}); to draw an input, declare "
                                        "`x: {sample: a|b, sample_shape: [...]}` under `inputs:`")
    if not spec.dtypes:
        problems.add(("dtypes",), "list at least one dtype (float64 is always run as the "
                                  "reference): float16, bfloat16, float32, float64")
    if not 0 <= spec.seed < 2**64:
        problems.add(("seed",), f"expected a seed between 0 and 2**64 - 1, found {spec.seed}")
    _check_device(spec.device, ("device",), problems, allow_auto=True)
    if spec.at is not None:
        _check_at(spec, spec.at, ("at",), problems)


def _check_device(device: str, path: KeyPath, problems: Collector, *, allow_auto: bool) -> None:
    if device == "auto" and not allow_auto:
        problems.add(path, "a side's device cannot be auto: pin it to cpu, cuda, cuda:N or mps "
                           "(or leave it out to follow --device)")
    elif not _DEVICES.fullmatch(device):
        accepted = "cpu, cuda, cuda:N, mps or auto" if allow_auto else "cpu, cuda, cuda:N or mps"
        problems.add(path, f"unknown device {device!r}: expected {accepted}")


def _check_at(spec: Spec, name: str, path: KeyPath, problems: Collector) -> None:
    if name in spec.inputs:
        return
    declared = ", ".join(spec.inputs)
    if name in spec.params:
        hint = f"declared inputs: {declared}" if declared else "declare an input under `inputs:`"
        problems.add(path, f"'{name}' is a param, `at` names an input ({hint})")
        return
    close = closest(name, list(spec.inputs))
    if close:
        problems.add(path, f"unknown input '{name}' (did you mean '{close}'?)")
    elif declared:
        problems.add(path, f"unknown input '{name}' (declared inputs: {declared})")
    else:
        problems.add(path, f"unknown input '{name}': declare it under `inputs:`")


def _check_side(spec: Spec, name: SideName, problems: Collector) -> None:
    side, s = spec.side(name), name.value
    mode = spec.mode
    kinds = [k for k in (SideKind.DIST, SideKind.LOG_PROB, SideKind.EXPR)
             if getattr(side, k.value) is not None]
    kinds.sort(key=lambda k: problems.doc.position((s, k.value)))
    if not kinds:
        problems.add((s,), "a side needs one of `dist`, `log_prob` or `expr`")
        return
    if len(kinds) > 1:
        first, second = kinds[0].value, kinds[1].value
        problems.add((s, second), f"`{first}` and `{second}` cannot be combined: a side "
                                  "has exactly one of `dist`, `log_prob`, `expr`")
        return
    kind = kinds[0]
    given = side.model_fields_set
    if kind is SideKind.DIST:
        assert side.dist is not None
        _check_dist(side.dist, (s, "dist"), problems)
        for key in side.args if side.dist in ARGUMENTS and _table_applies() else ():
            if key not in ARGUMENTS[side.dist]:
                problems.add((s, "args", key),
                             unknown_argument(side.dist, key, ARGUMENTS[side.dist]))
        if "method" in given and side.method is not None and mode is not Mode.RSAMPLE:
            problems.add((s, "method"), f"`method` only applies with `mode: rsample` "
                                        f"(mode is {mode.value})")
    else:
        for key in ("args", "transforms", "event_dims", "method"):
            if key in given and getattr(side, key) not in (None, [], {}):
                problems.add((s, key), f"`{key}` only applies to a `dist` side (this side uses "
                                       f"`{kind.value}`)")
    if kind is SideKind.LOG_PROB and mode is Mode.RSAMPLE:
        problems.add((s, "log_prob"), "a `log_prob` side needs mode log_prob or train (mode is "
                                      "rsample): write this side with `dist` or `expr`")
    if kind is SideKind.EXPR and mode is not Mode.RSAMPLE:
        problems.add((s, "expr"), "an `expr` side draws samples: it needs `mode: rsample` "
                                  f"(mode is {mode.value}); use `dist` or `log_prob`")
    if side.device is not None:
        _check_device(side.device, (s, "device"), problems, allow_auto=False)
    if side.at is not None:
        _check_at(spec, side.at, (s, "at"), problems)
    if mode in (Mode.LOG_PROB, Mode.TRAIN) and kind in (SideKind.DIST, SideKind.LOG_PROB) \
            and spec.at_for(name) is None and not _of_params_alone(spec, side):
        if not spec.inputs:
            problems.add((s,), "no input to evaluate log_prob at: declare an input under "
                               "`inputs:`, e.g. `x: {sample: b, sample_shape: [64]}`")
        else:
            names = ", ".join(spec.inputs)
            problems.add((s,), f"several inputs ({names}): set `at:` to the one log_prob is "
                               "evaluated at")


def _of_params_alone(spec: Spec, side: Side) -> bool:
    """A `log_prob:` side in log_prob mode that names no input (a KL term, a log-prior): its
    value needs no point. An expression that does not parse is reported elsewhere."""
    if side.log_prob is None or spec.mode is not Mode.LOG_PROB:
        return False
    try:
        used = _expr.parse(side.log_prob, names=[*spec.params, *spec.inputs]).names
    except ExprError:
        return True
    return not used & set(spec.inputs)


@functools.cache
def _table_applies() -> bool:
    """Whether the installed torch is no newer than the one ARGUMENTS was read from (an
    unknown or unreadable version: no, and the build checks the keywords)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = re.match(r"(\d+)\.(\d+)", version("torch"))
    except PackageNotFoundError:
        return False
    return found is not None and (int(found[1]), int(found[2])) <= ARGUMENTS_TORCH


def unknown_argument(dist: str, key: str, accepted: Sequence[str]) -> str:
    """The message for an `args:` key that `dist`'s constructor does not take (also the
    build's, which checks the installed torch's signature)."""
    return (f"unknown argument for {dist}{hint(key, accepted)}; its arguments are: "
            f"{', '.join(accepted)}")


def _check_dist(dist: str, path: KeyPath, problems: Collector) -> None:
    if dist in DISTRIBUTIONS:
        return
    if dist == "Independent":
        problems.add(path, "write `event_dims: N` on the side instead of naming Independent")
    elif dist == "TransformedDistribution":
        problems.add(path, "list `transforms:` on the side instead of naming "
                           "TransformedDistribution")
    else:
        close = closest(dist, DISTRIBUTIONS)
        hint = f"did you mean '{close}'?" if close else f"supported: {', '.join(DISTRIBUTIONS)}"
        problems.add(path, f"unknown distribution '{dist}' ({hint})")


def _side_expressions(side: Side, s: str) -> list[tuple[KeyPath, str]]:
    """Every expression string of a side, with its key path."""
    found: list[tuple[KeyPath, str]] = []
    for key, value in side.args.items():
        if isinstance(value, str):
            found.append(((s, "args", key), value))
    for index, transform in enumerate(side.transforms):
        if isinstance(transform, AffineTransform):
            for key in ("loc", "scale"):
                value = getattr(transform.affine, key)
                if isinstance(value, str):
                    found.append(((s, "transforms", index, "affine", key), value))
        elif isinstance(transform, PowerTransform) and isinstance(transform.power, str):
            found.append(((s, "transforms", index, "power"), transform.power))
    if side.log_prob is not None:
        found.append(((s, "log_prob"), side.log_prob))
    if side.expr is not None:
        found.append(((s, "expr"), side.expr))
    return found


def _check_expressions(spec: Spec, problems: Collector) -> dict[SideName, set[str]]:
    """Parse every expression; returns the names each side's `dist` construction uses."""
    params, inputs = list(spec.params), list(spec.inputs)
    everything = [*params, *inputs]

    def parse(path: KeyPath, source: str, allow_randn: bool = False) -> frozenset[str] | None:
        try:
            return _expr.parse(source, names=everything, allow_randn=allow_randn).names
        except ExprError as err:
            problems.add(path, f"rejected expression: {err}")
            return None

    for section, names in (("params", params), ("inputs", inputs)):
        for index, name in enumerate(names):
            tensor = getattr(spec, section)[name]
            if not isinstance(tensor, ExprTensor):
                continue
            path = (section, name, "expr")
            used = parse(path, tensor.expr)
            if used is None:
                continue
            above = set(params[:index]) if section == "params" else {*params, *inputs[:index]}
            for other in sorted(used - above, key=everything.index):
                if section == "params" and other in inputs:
                    problems.add(path, f"'{other}' is an input: a derived param can use only "
                                       "params declared above it")
                else:
                    problems.add(path, f"'{other}' is declared below '{name}': a derived "
                                       f"{section[:-1]} can use only names declared above it")
                break

    refs: dict[SideName, set[str]] = {}
    for side_name in spec.sides:
        side, s = spec.side(side_name), side_name.value
        refs[side_name] = set()
        for where, source in _side_expressions(side, s):
            # An `expr` side outside rsample mode is already reported: not randn_like again.
            randn = where == (s, "expr")
            used = parse(where, source, allow_randn=randn)
            if used is not None and where[1] in ("args", "transforms"):
                refs[side_name] |= used
    return refs


def _check_samples(spec: Spec, refs: dict[SideName, set[str]], problems: Collector) -> None:
    inputs = list(spec.inputs)
    for index, (name, tensor) in enumerate(spec.inputs.items()):
        if not isinstance(tensor, SampleInput):
            continue
        path = ("inputs", name, "sample")
        side_name = tensor.sample
        if side_name not in refs:
            problems.add(path, f"there is no side {side_name.value} (the spec writes side a "
                               "alone): draw from a")
            continue
        side, s = spec.side(side_name), side_name.value
        if side.dist is None:
            problems.add(path, f"side {s} has no `dist` to sample from (it uses "
                               f"`{side.kind.value}`)")
            continue
        used = [n for n in inputs[index:] if n in refs[side_name]]
        if name in used:
            problems.add(path, f"circular: '{name}' is drawn from side {s}, whose arguments use "
                               f"'{name}'")
        elif used:
            problems.add(path, f"'{name}' is drawn from side {s}, whose arguments use input "
                               f"'{used[0]}' declared after it: move '{used[0]}' above '{name}'")


def _check_tensors(spec: Spec, data: dict[str, Any], problems: Collector,
                   max_elements: int) -> None:
    def size(path: KeyPath, shape: Sequence[int], what: str = "shape") -> None:
        count = math.prod(shape)
        if count > max_elements:
            problems.add(path, f"{what} {list(shape)} has {count:,} elements, more than the "
                               f"limit of {max_elements:,} per tensor (raise it with "
                               "--max-elements)")

    for section in ("params", "inputs"):
        tensors: dict[str, TensorSpec | InputSpec] = getattr(spec, section)
        for name, tensor in tensors.items():
            path = (section, name)
            if section == "inputs" and "grad" in tensor.model_fields_set:
                problems.add((*path, "grad"), "`grad` only applies to params (inputs never get "
                                              "gradients)")
            if isinstance(tensor, InitTensor):
                size((*path, "shape"), tensor.shape)
            elif isinstance(tensor, SampleInput):
                size((*path, "sample_shape"), tensor.sample_shape, "sample_shape")
            elif isinstance(tensor, ValuesTensor):
                raw = value_at(data, (*path, "values"))
                bad = _first_non_finite(raw, (*path, "values"))
                if bad is not None:
                    problems.add(bad[0], f"values must be finite numbers, found {show(bad[1])}")
                size((*path, "values"), nested_shape(tensor.values), "values of shape")
    if spec.mode is Mode.RSAMPLE:
        size(("sample_shape",), spec.sample_shape, "sample_shape")


def _first_non_finite(value: Any, path: KeyPath) -> tuple[KeyPath, float] | None:
    if isinstance(value, float) and not math.isfinite(value):
        return path, value
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_non_finite(item, (*path, index))
            if found is not None:
                return found
    return None
