"""Typed, frozen models of a spec file (`spec-v1.md`), and loading them from YAML.

No torch here: spec errors must answer without importing it.
"""

from __future__ import annotations

import difflib
import json
import keyword
import math
import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import MappingProxyType, UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails

from gaussdiag import expr as _expr
from gaussdiag.errors import ExprError, SpecError
from gaussdiag.limits import DEFAULT_MAX_ELEMENTS as DEFAULT_MAX_ELEMENTS  # re-exported
from gaussdiag.vocab import DType, Method, Mode, Optimizer, SideName, Verdict

_T = TypeVar("_T")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# A YAML number or a nested list of them (checked to be rectangular by `_check_nested`).
NestedNumbers = float | list[Any]
# A number a spec writes outside `values:` (.nan and .inf are YAML numbers too): finite only.
Finite = Annotated[float, Field(allow_inf_nan=False)]
# An argument is an expression string, or a bare YAML number used as a literal.
ExprOrNumber = str | Finite

# ---- tensor initialisers -------------------------------------------------------------------

InitName = Literal["zeros", "ones", "normal", "uniform"]


class NormalArgs(_Model):
    mean: Finite = 0.0
    std: Finite = 1.0

    @field_validator("std")
    @classmethod
    def _non_negative(cls, v: float) -> float:
        if not v >= 0:
            raise ValueError(f"std must be >= 0, found {v}")
        return v


class FullInit(_Model):
    full: Finite


class NormalInit(_Model):
    normal: NormalArgs


class UniformInit(_Model):
    uniform: tuple[Finite, Finite]

    @field_validator("uniform")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not v[0] <= v[1]:
            raise ValueError(f"expected [lo, hi] with lo <= hi, found [{v[0]}, {v[1]}]")
        return v


class EyeInit(_Model):
    eye: Literal[True]


Init = InitName | FullInit | NormalInit | UniformInit | EyeInit

# ---- params and inputs ---------------------------------------------------------------------


class ValuesTensor(_Model):
    """`{values: 1.0}` or `{values: [[1, 0], [0, 1]]}`: shape inferred."""

    values: NestedNumbers
    grad: bool = True

    @field_validator("values")
    @classmethod
    def _rectangular(cls, v: NestedNumbers) -> NestedNumbers:
        _check_nested(v)
        return v


def _check_nested(v: Any) -> tuple[int, ...]:
    """Shape of a nested list of numbers; ValueError when ragged or not numeric."""
    if isinstance(v, bool) or not isinstance(v, (int, float, list)):
        raise ValueError(f"expected a number or a nested list of numbers, found {v!r}")
    if not isinstance(v, list):
        return ()
    if not v:
        return (0,)
    shapes = {_check_nested(item) for item in v}
    if len(shapes) != 1:
        raise ValueError("ragged nested list: every row must have the same length")
    return (len(v), *shapes.pop())


class InitTensor(_Model):
    """`{shape: [10], init: zeros}`; `init` defaults to `zeros`."""

    shape: list[NonNegativeInt]
    init: Init = "zeros"
    grad: bool = True


class ExprTensor(_Model):
    """`{expr: "exp(log_std)"}`: derived from params declared above it."""

    expr: str
    grad: bool = True


class SampleInput(_Model):
    """Inputs only: `{sample: b, sample_shape: [64]}`, drawn from that side in float64."""

    sample: SideName
    sample_shape: list[NonNegativeInt] = Field(default_factory=list)


TensorSpec = ValuesTensor | InitTensor | ExprTensor
InputSpec = ValuesTensor | InitTensor | ExprTensor | SampleInput

# ---- sides ---------------------------------------------------------------------------------

TransformName = Literal["exp", "tanh", "sigmoid", "softplus"]


class AffineArgs(_Model):
    loc: ExprOrNumber = 0.0
    scale: ExprOrNumber = 1.0


class AffineTransform(_Model):
    affine: AffineArgs


class PowerTransform(_Model):
    power: ExprOrNumber


TransformSpec = TransformName | AffineTransform | PowerTransform


class Side(_Model):
    """One way of writing the distribution. Exactly one of `dist`, `log_prob`, `expr`."""

    label: str | None = None
    dist: str | None = None
    args: dict[str, ExprOrNumber] = Field(default_factory=dict)
    transforms: list[TransformSpec] = Field(default_factory=list)
    event_dims: NonNegativeInt | None = None
    log_prob: str | None = None
    expr: str | None = None
    method: Method | None = None
    at: str | None = None
    device: str | None = None

    @property
    def kind(self) -> Literal["dist", "log_prob", "expr"]:
        if self.dist is not None:
            return "dist"
        return "log_prob" if self.log_prob is not None else "expr"

    def display(self, name: SideName) -> str:
        return self.label or self.dist or self.log_prob or self.expr or name.value


class TrainSpec(_Model):
    steps: PositiveInt = 100
    optimizer: Optimizer = Optimizer.ADAM
    lr: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 0.01


class Spec(_Model):
    """A whole spec file. `name` is filled with the file stem by the loader when absent."""

    version: Literal[1] = 1
    name: str = ""
    description: str | None = None
    seed: int = 0
    dtypes: list[DType] = Field(default_factory=lambda: [DType.FLOAT32, DType.FLOAT64])
    device: str = "cpu"
    params: dict[str, Annotated[TensorSpec, Field()]]
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    a: Side
    b: Side
    at: str | None = None
    mode: Mode = Mode.LOG_PROB
    sample_shape: list[NonNegativeInt] = Field(default_factory=list)
    train: TrainSpec | None = None
    expect: Verdict | None = None

    def side(self, name: SideName) -> Side:
        return self.a if name is SideName.A else self.b

    def at_for(self, name: SideName) -> str | None:
        """The input this side's log_prob is evaluated at (a side may override the spec)."""
        own = self.side(name).at
        if own is not None:
            return own
        if self.at is not None:
            return self.at
        plain = list(self.inputs)
        return plain[0] if len(plain) == 1 else None

    @property
    def run_dtypes(self) -> list[DType]:
        """Dtypes to run, least precise first; float64 is always run as the reference."""
        return sorted(set(self.dtypes) | {DType.FLOAT64}, key=lambda d: d.rank)

    @property
    def train_settings(self) -> TrainSpec:
        return self.train or TrainSpec()


# =============================================================================================
# Loading: YAML text -> `Spec`, every problem a located `SpecError`.
#
# Stages, each failing with ONE error (the first problem in document order): read the bytes;
# compose YAML nodes with a safe loader and build the Python values here (YAML 1.2 scalars,
# duplicate keys, tags, merge keys, alias expansion and depth all checked); the version; the
# pydantic models, with their errors mapped back to key paths and lines; the cross-field
# rules the models cannot express.
# =============================================================================================

"""Largest number of elements one tensor of a spec may have (the CLI's `--max-elements`)."""

MAX_FILE_BYTES = 1 << 20
# Bound on constructed values, counting every expansion of an alias: a billion-laughs
# document fails here instead of exhausting memory.
MAX_NODES = 100_000
MAX_DEPTH = 100

KeyPath = tuple[str | int, ...]
_Mark = tuple[int, int]  # 0-based (line, column), for document order

_TOP_LEVEL_HINT = "expected a mapping with keys version, params, a, b, ..."
_DEVICE_RE = re.compile(r"cpu|cuda|cuda:[0-9]+|mps|auto")


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec with what is needed to point at its lines in later errors."""

    spec: Spec
    file: str  # as given by the user, for messages
    lines: Mapping[KeyPath, int]  # key path -> 1-based line of its key (or list item)

    def line_of(self, path: KeyPath) -> int | None:
        """Line of `path`, or of its nearest ancestor that has one."""
        return _nearest(self.lines, path)

    def error(self, path: KeyPath | str, message: str) -> SpecError:
        """A `SpecError` located at `path` (a tuple, or dotted text like `a.args.scale`)."""
        keys = _parse_dotted(path, self.lines) if isinstance(path, str) else path
        return _error(self.file, message, key=format_path(keys) or None,
                         line=self.line_of(keys))


# Line breaks inside keys or values are shown escaped: an error is always one line.
_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


def _error(file: str, message: str, *, key: str | None = None,
           line: int | None = None) -> SpecError:
    return SpecError(file, message.translate(_LINE_BREAKS),
                     key=None if key is None else key.translate(_LINE_BREAKS), line=line)


def format_path(path: KeyPath) -> str:
    """`('a', 'transforms', 0, 'power')` -> `a.transforms[0].power`."""
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out += f".{key}" if out else key
    return out


def load_spec(path: str | Path, *, max_elements: int = DEFAULT_MAX_ELEMENTS) -> LoadedSpec:
    """Read, parse and validate a spec file; any problem is one `SpecError`."""
    file = str(path)
    p = Path(path)
    try:
        if p.is_dir():
            raise _error(file, "is a directory, expected a YAML spec file")
        with p.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise _error(file, _too_big(size))
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise _error(file, "file not found") from None
    except IsADirectoryError:
        raise _error(file, "is a directory, expected a YAML spec file") from None
    except PermissionError:
        raise _error(file, "cannot read the file: permission denied") from None
    except OSError as err:
        raise _error(file, f"cannot read the file: {err.strerror or err}") from None
    if len(data) > MAX_FILE_BYTES:
        raise _error(file, _too_big(len(data)))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise _error(file, f"not UTF-8 text (byte 0x{data[err.start]:02x} cannot be "
                              "decoded): save the file as UTF-8", line=line) from None
    return load_spec_text(text, file, max_elements=max_elements)


def load_spec_text(text: str, file: str, *,
                   max_elements: int = DEFAULT_MAX_ELEMENTS) -> LoadedSpec:
    """Parse and validate spec text; `file` is only used in messages and for the default name."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise _error(file, _too_big(size))
    doc = _Doc(file)
    root = _compose(text, doc)
    if root is None or (isinstance(root, yaml.ScalarNode) and root.value == ""
                        and root.tag == _NULL):
        raise _error(file, f"empty file: {_TOP_LEVEL_HINT}")
    if not isinstance(root, yaml.MappingNode):
        found = _describe(doc.construct(root, ()))
        raise _error(file, f"{_TOP_LEVEL_HINT}, found {found}",
                        line=root.start_mark.line + 1)
    data = doc.construct(root, ())
    assert isinstance(data, dict)

    if "version" in data:
        version = data["version"]
        if isinstance(version, (int, float)) and not isinstance(version, bool):
            if type(version) is not int or version != 1:
                raise doc.error(("version",), f"unsupported spec version {_show(version)} "
                                              "(this gaussdiag reads version 1)")
        else:
            raise doc.error(("version",), f"expected the number 1, found {_describe(version)}")

    spec = _validate(data, doc)
    if not spec.name:
        spec = spec.model_copy(update={"name": Path(file).stem})
    _check(spec, data, doc, max_elements)
    lines = {path: mark[0] + 1 for path, mark in doc.marks.items()}
    return LoadedSpec(spec=spec, file=file, lines=MappingProxyType(lines))


def _too_big(size: int) -> str:
    return (f"file is {size / (1 << 20):.1f} MiB, larger than the "
            f"{MAX_FILE_BYTES >> 20} MiB limit for a spec")


def _nearest(table: Mapping[KeyPath, _T], path: KeyPath) -> _T | None:
    for end in range(len(path), 0, -1):
        found = table.get(path[:end])
        if found is not None:
            return found
    return None


def _parse_dotted(text: str, known: Mapping[KeyPath, int]) -> KeyPath:
    """`a.transforms[0].power` or `a.transforms.0.power` -> a key path."""
    out: list[str | int] = []
    for part in text.split("."):
        name, *indices = part.split("[")
        if name:
            key: str | int = name
            # A bare number is a list index unless a mapping key of that name exists.
            if name.isdigit() and (*out, name) not in known:
                key = int(name)
            out.append(key)
        for index in indices:
            inside = index.rstrip("]")
            out.append(int(inside) if inside.isdigit() else inside)
    return tuple(out)


# ---- YAML: nodes with marks, values built here --------------------------------------------

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
_SEQ, _MAP = _TAG + "seq", _TAG + "map"

# YAML 1.2 core schema (PyYAML resolves with 1.1 rules, where `1e-6` is a string and `yes`
# is true).
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_NULL_RE = re.compile(r"~|null|Null|NULL|")
_BOOL_RE = re.compile(r"true|True|TRUE|false|False|FALSE")
_INT_RE = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT_RE = re.compile(
    r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
)


class _TooDeep(Exception):
    def __init__(self, line: int | None) -> None:
        self.line = line


class _Loader(yaml.SafeLoader):
    """Composes nodes only (never constructs objects), resolving plain scalars by YAML 1.2
    and refusing to nest deeper than `MAX_DEPTH`."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
                raise _TooDeep(None if event.start_mark is None else event.start_mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            return _resolve_plain(value) if implicit[0] else _STR
        return _SEQ if kind is yaml.SequenceNode else _MAP


def _resolve_plain(value: str) -> str:
    for pattern, tag in ((_NULL_RE, _NULL), (_BOOL_RE, _BOOL), (_INT_RE, _INT),
                         (_FLOAT_RE, _FLOAT)):
        if pattern.fullmatch(value):
            return tag
    return _STR


def _compose(text: str, doc: _Doc) -> yaml.Node | None:
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # checks the characters already
        node: yaml.Node | None = loader.get_single_node()
        return node
    except _TooDeep as err:
        raise _error(doc.file, f"nested deeper than {MAX_DEPTH} levels",
                        line=err.line) from None
    except RecursionError:
        raise _error(doc.file, f"nested deeper than {MAX_DEPTH} levels") from None
    except yaml.MarkedYAMLError as err:
        raise _yaml_error(doc.file, err) from None
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        char = f"U+{err.character:04X}" if isinstance(err.character, int) else repr(err.character)
        raise _error(doc.file, f"invalid YAML: character {char} is not allowed in a YAML "
                                  "file", line=line) from None
    except yaml.YAMLError as err:
        raise _error(doc.file, f"invalid YAML: {err}") from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_error(file: str, err: yaml.MarkedYAMLError) -> SpecError:
    mark = err.problem_mark or err.context_mark
    line = None if mark is None else mark.line + 1
    problem = (err.problem or err.context or "cannot parse").strip()
    if "'\\t'" in problem:
        return _error(file, "tab character where YAML expects spaces: indent with spaces",
                         line=line)
    if "expected a single document" in (err.context or ""):
        return _error(file, "expected a single YAML document, found a second one "
                               "(remove the extra `---`)", line=line)
    context = ""
    if err.context and err.problem:
        context = f" ({err.context.strip()}"
        if err.context_mark is not None and err.context_mark.line + 1 != line:
            context += f" started on line {err.context_mark.line + 1}"
        context += ")"
    return _error(file, f"invalid YAML: {problem}{context}", line=line)


class _Doc:
    """The file name plus the marks of every key path, filled while building values."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.marks: dict[KeyPath, _Mark] = {}
        self.ends: dict[KeyPath, _Mark] = {}
        self._count = 0
        self._active: set[int] = set()

    def line(self, path: KeyPath) -> int | None:
        mark = _nearest(self.marks, path)
        return None if mark is None else mark[0] + 1

    def position(self, path: KeyPath) -> _Mark:
        return _nearest(self.marks, path) or (0, 0)

    def end(self, path: KeyPath) -> _Mark:
        """Where the value at `path` ends (missing keys of a mapping are noticed there)."""
        return self.ends.get(path) or self.position(path)

    def error(self, path: KeyPath, message: str) -> SpecError:
        return _error(self.file, message, key=format_path(path) or None, line=self.line(path))

    def construct(self, node: yaml.Node, path: KeyPath) -> Any:
        self._count += 1
        if self._count > MAX_NODES:
            raise self.error(path[:1], f"the document expands to more than {MAX_NODES:,} values "
                                   "(aliases `*name` nested inside each other?)")
        if len(path) > MAX_DEPTH:
            raise self.error(path, f"nested deeper than {MAX_DEPTH} levels (through aliases)")
        if id(node) in self._active:
            raise self.error(path, "recursive alias: a node contains itself")
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                self._check_tag(node, path, _SEQ)
                self.ends[path] = (node.end_mark.line, node.end_mark.column)
                items = []
                for index, item in enumerate(node.value):
                    sub = (*path, index)
                    self.marks[sub] = (item.start_mark.line, item.start_mark.column)
                    items.append(self.construct(item, sub))
                return items
            assert isinstance(node, yaml.MappingNode)
            self._check_tag(node, path, _MAP)
            self.ends[path] = (node.end_mark.line, node.end_mark.column)
            out: dict[str, Any] = {}
            first_line: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = self._key(key_node, path)
                sub = (*path, key)
                line = key_node.start_mark.line + 1
                if key in first_line:
                    self.marks[sub] = (key_node.start_mark.line, key_node.start_mark.column)
                    raise self.error(sub, f"duplicate key '{key}' (first on line "
                                          f"{first_line[key]}, again on line {line})")
                first_line[key] = line
                self.marks[sub] = (key_node.start_mark.line, key_node.start_mark.column)
                out[key] = self.construct(value_node, sub)
            return out
        finally:
            self._active.discard(id(node))

    def _key(self, node: yaml.Node, path: KeyPath) -> str:
        """A mapping key: a string, never a merge key `<<`."""
        key, line = format_path(path) or None, node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode) and node.tag == _STR:
            if node.value == "<<" and node.style is None:
                raise _error(self.file, "merge keys (`<<`) are not supported: write the "
                                           "keys out", key=key, line=line)
            return str(node.value)
        if isinstance(node, yaml.ScalarNode):
            found = _show(self._scalar(node, path))
            message = f"keys must be strings, found {found} (quote it)"
        else:
            found = "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"
            message = f"keys must be strings, found {found}"
        raise _error(self.file, message, key=key, line=line)

    def _check_tag(self, node: yaml.Node, path: KeyPath, expected: str) -> None:
        if node.tag != expected:
            raise self._bad_tag(node, path)

    def _bad_tag(self, node: yaml.Node, path: KeyPath) -> SpecError:
        tag = str(node.tag)
        shown = "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag
        return _error(self.file, f"unsupported tag '{shown}': only plain values (strings, "
                                    "numbers, true/false, null, lists, mappings) are allowed",
                         key=format_path(path) or None, line=node.start_mark.line + 1)

    def _scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Any:
        tag, value = node.tag, str(node.value)
        try:
            if tag == _STR:
                if _SURROGATE_RE.search(value):
                    raise self.error(path, "the text holds an invalid character (a lone "
                                           "surrogate from a \\u escape)")
                return value
            if tag == _NULL and _NULL_RE.fullmatch(value):
                return None
            if tag == _BOOL and _BOOL_RE.fullmatch(value):
                return value.lower() == "true"
            if tag == _INT and _INT_RE.fullmatch(value):
                return _parse_int(value)
            if tag == _FLOAT and (_FLOAT_RE.fullmatch(value) or _INT_RE.fullmatch(value)):
                return _parse_float(value)
        except ValueError:
            raise self.error(path, f"number {value[:40]!r} is too large") from None
        if tag in (_NULL, _BOOL, _INT, _FLOAT):
            kind = tag[len(_TAG):]
            raise self.error(path, f"'{value[:40]}' is not a valid !!{kind}")
        raise self._bad_tag(node, path)


def _parse_int(text: str) -> int:
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


def _parse_float(text: str) -> float:
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(_parse_int(text)) if _INT_RE.fullmatch(text) else float(text)


def _show(value: Any) -> str:
    """A value as the user wrote it in YAML, for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return repr(value)


def _describe(value: Any) -> str:
    """Like `_show`, with the keys of a mapping."""
    if isinstance(value, dict):
        if not value:
            return "an empty mapping"
        keys = ", ".join(str(k) for k in list(value)[:6])
        return f"a mapping with keys {keys}" if len(value) > 1 else f"a mapping with key {keys}"
    if isinstance(value, list) and not value:
        return "an empty list"
    return _show(value)


def _did_you_mean(word: str, choices: Collection[str], cutoff: float = 0.6) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return close[0] if close else None


# ---- pydantic errors -> located, plain messages -------------------------------------------

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


@dataclass(frozen=True)
class _Located:
    """One problem: where it is reported, where it sorts in the document, and its text."""

    path: KeyPath
    order: _Mark
    message: str


def _validate(data: dict[str, Any], doc: _Doc) -> Spec:
    # JSON in strict mode: enums take their string values, but nothing else is coerced (a
    # quoted "3" is not an integer, `yes` is not true). NaN and infinities pass through json.
    try:
        return Spec.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as exc:
        problems = _translate(exc.errors(include_url=False, include_context=True), data, doc)
    first = min(problems, key=lambda p: p.order)
    raise doc.error(first.path, first.message) from None


def _translate(errors: list[ErrorDetails], data: Any, doc: _Doc) -> list[_Located]:
    out: dict[tuple[KeyPath, str], _Located] = {}
    for err in errors:
        located = _translate_one(err, data, doc)
        if located is not None:
            out.setdefault((located.path, located.message), located)
    if not out:  # cannot happen: some variant of every failing union is reported
        err = errors[0]
        path = tuple(k for k in err["loc"] if isinstance(k, int) or k in _all_keys(data))
        return [_Located(path, doc.position(path), err["msg"])]
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


def _translate_one(err: ErrorDetails, data: Any, doc: _Doc) -> _Located | None:
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
            chosen = _choose(variants, _get(data, here))
            if isinstance(chosen, str):  # no variant fits: one message for the union
                return _Located(here, doc.position(here), chosen)
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
    here = tuple(path)
    if kind == "missing" and isinstance(here[-1], int) and get_origin(container) is tuple:
        items = _get(data, here[:-1])
        count = len(items) if isinstance(items, list) else 0
        return _Located(here[:-1], doc.position(here[:-1]),
                        f"expected a list of {len(get_args(container))} items, found {count}")
    if kind == "missing":
        return _Located(here[:-1], doc.end(here[:-1]),
                        f"missing required key '{here[-1]}'")
    if kind == "extra_forbidden":
        fields = list(parent.model_fields) if parent is not None else []
        close = _did_you_mean(str(here[-1]), fields)
        hint = f"did you mean '{close}'?" if close else f"expected one of: {', '.join(fields)}"
        return _Located(here, doc.position(here), f"unknown key ({hint})")
    if via_literal_union is not None and kind == "literal_error":
        where, variants = via_literal_union
        what, forms = _FORMS[variants]
        literal = next(v for v in variants if get_origin(v) is Literal)
        close = _did_you_mean(str(found), [str(v) for v in get_args(literal)], 0.6)
        hint = f" (did you mean '{close}'?)" if close else ""
        return _Located(where, doc.position(where),
                        f"expected {what}: {forms}; found {_show(found)}{hint}")
    message = _plain_message(kind, ctx, _unwrap(ann), found, err["msg"])
    return _Located(here, doc.position(here), message)


def _plain_message(kind: str, ctx: dict[str, Any], ann: Any, found: Any, fallback: str) -> str:
    shown = _describe(found)
    if kind in ("enum", "literal_error"):
        if isinstance(ann, type) and issubclass(ann, Enum):
            values = [str(m.value) for m in ann]
        elif get_origin(ann) is Literal:
            values = [_show(v) if not isinstance(v, str) else v for v in get_args(ann)]
        else:
            values = [str(ctx.get("expected", "?"))]
        if len(values) == 1:
            return f"expected {values[0]}, found {shown}"
        return f"expected one of {', '.join(values)}, found {shown}"
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
        return f"expected a number >= {_show(ctx.get('ge'))}, found {shown}"
    if kind == "greater_than":
        return f"expected a number > {_show(ctx.get('gt'))}, found {shown}"
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
        origin = get_origin(variant)
        if origin is Literal and tag.startswith("literal["):
            return variant
        if origin is not None and origin is not Literal and tag.startswith(origin.__name__ + "["):
            return variant
    return None


def _choose(variants: frozenset[Any], value: Any) -> Any:
    """The union member `value` was written for (by the keys of a mapping, the type of a
    scalar), or the message to report when it fits none."""
    what, forms = _FORMS.get(variants, ("a valid value", ""))
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
        return f"{expected}; found {_describe(value)}"
    for variant in variants:
        origin = get_origin(variant)
        if (isinstance(value, str) and (variant is str or origin is Literal)) or (
                isinstance(value, (int, float)) and not isinstance(value, bool)
                and variant is float) or (isinstance(value, list) and origin is list):
            return variant
    return f"{expected}; found {_describe(value)}"


def _get(data: Any, path: KeyPath) -> Any:
    for key in path:
        if isinstance(data, dict) and isinstance(key, str):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
            data = data[key]
        else:
            return None
    return data


# ---- cross-field rules ----------------------------------------------------------------------


class _Problems:
    """Collects cross-field problems; the first in document order is raised."""

    def __init__(self, doc: _Doc) -> None:
        self.doc = doc
        self.found: list[_Located] = []

    def add(self, path: KeyPath, message: str) -> None:
        self.found.append(_Located(path, self.doc.position(path), message))

    def raise_first(self) -> None:
        if self.found:
            first = min(self.found, key=lambda p: p.order)
            raise self.doc.error(first.path, first.message)


def _check(spec: Spec, data: dict[str, Any], doc: _Doc, max_elements: int) -> None:
    problems = _Problems(doc)
    _check_names(spec, problems)
    _check_top(spec, problems)
    for name in SideName:
        _check_side(spec, name, problems)
    refs = _check_expressions(spec, problems)
    _check_samples(spec, refs, problems)
    _check_tensors(spec, data, problems, max_elements)
    problems.raise_first()


def _check_names(spec: Spec, problems: _Problems) -> None:
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


def _check_top(spec: Spec, problems: _Problems) -> None:
    mode = spec.mode.value
    if "train" in spec.model_fields_set and spec.train is not None and spec.mode is not Mode.TRAIN:
        problems.add(("train",), f"`train:` only applies with `mode: train` (mode is {mode})")
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


def _check_device(device: str, path: KeyPath, problems: _Problems, *, allow_auto: bool) -> None:
    if device == "auto" and not allow_auto:
        problems.add(path, "a side's device cannot be auto: pin it to cpu, cuda, cuda:N or mps "
                           "(or leave it out to follow --device)")
    elif not _DEVICE_RE.fullmatch(device):
        accepted = "cpu, cuda, cuda:N, mps or auto" if allow_auto else "cpu, cuda, cuda:N or mps"
        problems.add(path, f"unknown device {device!r}: expected {accepted}")


def _check_at(spec: Spec, name: str, path: KeyPath, problems: _Problems) -> None:
    if name in spec.inputs:
        return
    declared = ", ".join(spec.inputs)
    if name in spec.params:
        hint = f"declared inputs: {declared}" if declared else "declare an input under `inputs:`"
        problems.add(path, f"'{name}' is a param, `at` names an input ({hint})")
        return
    close = _did_you_mean(name, list(spec.inputs))
    if close:
        problems.add(path, f"unknown input '{name}' (did you mean '{close}'?)")
    elif declared:
        problems.add(path, f"unknown input '{name}' (declared inputs: {declared})")
    else:
        problems.add(path, f"unknown input '{name}': declare it under `inputs:`")


def _check_side(spec: Spec, name: SideName, problems: _Problems) -> None:
    side, s = spec.side(name), name.value
    mode = spec.mode
    kinds = [k for k in ("dist", "log_prob", "expr") if getattr(side, k) is not None]
    kinds.sort(key=lambda k: problems.doc.position((s, k)))
    if not kinds:
        problems.add((s,), "a side needs one of `dist`, `log_prob` or `expr`")
        return
    if len(kinds) > 1:
        problems.add((s, kinds[1]), f"`{kinds[0]}` and `{kinds[1]}` cannot be combined: a side "
                                    "has exactly one of `dist`, `log_prob`, `expr`")
        return
    kind = kinds[0]
    given = side.model_fields_set
    if kind == "dist":
        assert side.dist is not None
        _check_dist(side.dist, (s, "dist"), problems)
        if "method" in given and side.method is not None and mode is not Mode.RSAMPLE:
            problems.add((s, "method"), f"`method` only applies with `mode: rsample` "
                                        f"(mode is {mode.value})")
    else:
        for key in ("args", "transforms", "event_dims", "method"):
            if key in given and getattr(side, key) not in (None, [], {}):
                problems.add((s, key), f"`{key}` only applies to a `dist` side (this side uses "
                                       f"`{kind}`)")
    if kind == "log_prob" and mode is Mode.RSAMPLE:
        problems.add((s, "log_prob"), "a `log_prob` side needs mode log_prob or train (mode is "
                                      "rsample): write this side with `dist` or `expr`")
    if kind == "expr" and mode is not Mode.RSAMPLE:
        problems.add((s, "expr"), "an `expr` side draws samples: it needs `mode: rsample` "
                                  f"(mode is {mode.value}); use `dist` or `log_prob`")
    if side.device is not None:
        _check_device(side.device, (s, "device"), problems, allow_auto=False)
    if side.at is not None:
        _check_at(spec, side.at, (s, "at"), problems)
    if mode in (Mode.LOG_PROB, Mode.TRAIN) and kind in ("dist", "log_prob") \
            and spec.at_for(name) is None:
        if not spec.inputs:
            problems.add((s,), "no input to evaluate log_prob at: declare an input under "
                               "`inputs:`, e.g. `x: {sample: b, sample_shape: [64]}`")
        else:
            names = ", ".join(spec.inputs)
            problems.add((s,), f"several inputs ({names}): set `at:` to the one log_prob is "
                               "evaluated at")


def _check_dist(dist: str, path: KeyPath, problems: _Problems) -> None:
    from gaussdiag.build import DISTRIBUTIONS

    if dist in DISTRIBUTIONS:
        return
    if dist == "Independent":
        problems.add(path, "write `event_dims: N` on the side instead of naming Independent")
    elif dist == "TransformedDistribution":
        problems.add(path, "list `transforms:` on the side instead of naming "
                           "TransformedDistribution")
    else:
        close = _did_you_mean(dist, DISTRIBUTIONS)
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


def _check_expressions(spec: Spec, problems: _Problems) -> dict[SideName, set[str]]:
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
    for side_name in SideName:
        side, s = spec.side(side_name), side_name.value
        refs[side_name] = set()
        for where, source in _side_expressions(side, s):
            randn = spec.mode is Mode.RSAMPLE and where == (s, "expr")
            used = parse(where, source, allow_randn=randn)
            if used is not None and where[1] in ("args", "transforms"):
                refs[side_name] |= used
    return refs


def _check_samples(spec: Spec, refs: dict[SideName, set[str]], problems: _Problems) -> None:
    inputs = list(spec.inputs)
    for index, (name, tensor) in enumerate(spec.inputs.items()):
        if not isinstance(tensor, SampleInput):
            continue
        path = ("inputs", name, "sample")
        side_name = tensor.sample
        side, s = spec.side(side_name), side_name.value
        if side.dist is None:
            kind = "log_prob" if side.log_prob is not None else "expr"
            problems.add(path, f"side {s} has no `dist` to sample from (it uses `{kind}`)")
            continue
        used = [n for n in inputs[index:] if n in refs[side_name]]
        if name in used:
            problems.add(path, f"circular: '{name}' is drawn from side {s}, whose arguments use "
                               f"'{name}'")
        elif used:
            problems.add(path, f"'{name}' is drawn from side {s}, whose arguments use input "
                               f"'{used[0]}' declared after it: move '{used[0]}' above '{name}'")


def _check_tensors(spec: Spec, data: dict[str, Any], problems: _Problems,
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
                raw = _get(data, (*path, "values"))
                bad = _first_non_finite(raw, (*path, "values"))
                if bad is not None:
                    problems.add(bad[0], f"values must be finite numbers, found {_show(bad[1])}")
                size((*path, "values"), _check_nested(tensor.values), "values of shape")
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
