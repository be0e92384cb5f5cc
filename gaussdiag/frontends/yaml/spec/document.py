"""YAML text -> plain Python values, with the mark (line, column) of every key path.

A safe loader composes nodes only (never constructs objects); values are built here, by YAML
1.2 rules, checking duplicate keys, tags, merge keys, alias expansion and depth on the way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import yaml

from gaussdiag.errors import SpecError, SpecProblem
from gaussdiag.frontends.yaml.spec.located import (
    KeyPath,
    Mark,
    Pending,
    format_path,
    nearest,
    spec_error,
    spec_problem,
)

# Bound on constructed values, counting every expansion of an alias: a billion-laughs
# document fails here instead of exhausting memory.
MAX_NODES = 100_000
MAX_DEPTH = 100

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, NULL_TAG = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
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
    def __init__(self, mark: Any) -> None:  # a yaml Mark (pure or C) or None
        self.line = None if mark is None else mark.line + 1
        self.col = None if mark is None else mark.column + 1


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
                raise _TooDeep(event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            return _resolve_plain(value) if implicit[0] else _STR
        return _SEQ if kind is yaml.SequenceNode else _MAP


def _resolve_plain(value: str) -> str:
    for pattern, tag in ((_NULL_RE, NULL_TAG), (_BOOL_RE, _BOOL), (_INT_RE, _INT),
                         (_FLOAT_RE, _FLOAT)):
        if pattern.fullmatch(value):
            return tag
    return _STR


def compose(text: str, doc: Document) -> yaml.Node | None:
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # checks the characters already
        node: yaml.Node | None = loader.get_single_node()
        return node
    except _TooDeep as err:
        raise spec_error(doc.file, f"nested deeper than {MAX_DEPTH} levels",
                         line=err.line, col=err.col) from None
    except RecursionError:
        raise spec_error(doc.file, f"nested deeper than {MAX_DEPTH} levels") from None
    except yaml.MarkedYAMLError as err:
        raise _yaml_error(doc.file, err) from None
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        col = err.position - (text.rfind("\n", 0, err.position) + 1) + 1
        char = f"U+{err.character:04X}" if isinstance(err.character, int) else repr(err.character)
        raise spec_error(doc.file, f"invalid YAML: character {char} is not allowed in a YAML "
                                  "file", line=line, col=col) from None
    except yaml.YAMLError as err:
        raise spec_error(doc.file, f"invalid YAML: {err}") from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_error(file: str, err: yaml.MarkedYAMLError) -> SpecError:
    mark = err.problem_mark or err.context_mark
    line = None if mark is None else mark.line + 1
    col = None if mark is None else mark.column + 1
    problem = (err.problem or err.context or "cannot parse").strip()
    if "'\\t'" in problem:
        return spec_error(file, "tab character where YAML expects spaces: indent with spaces",
                          line=line, col=col)
    if "expected a single document" in (err.context or ""):
        return spec_error(file, "expected a single YAML document, found a second one "
                               "(remove the extra `---`)", line=line, col=col)
    context = ""
    if err.context and err.problem:
        context = f" ({err.context.strip()}"
        if err.context_mark is not None and err.context_mark.line + 1 != line:
            context += f" started on line {err.context_mark.line + 1}"
        context += ")"
    return spec_error(file, f"invalid YAML: {problem}{context}", line=line, col=col)


class Document:
    """The file name plus the marks of every key path, filled while building values."""

    def __init__(self, file: str, text: str = "") -> None:
        self.file = file
        self.text = text  # the source, to quote what the user wrote
        self.marks: dict[KeyPath, Mark] = {}
        self.ends: dict[KeyPath, Mark] = {}
        self._count = 0
        self._active: set[int] = set()

    def position(self, path: KeyPath) -> Mark:
        return nearest(self.marks, path) or (0, 0)

    def end(self, path: KeyPath) -> Mark:
        """Where the value at `path` ends (missing keys of a mapping are noticed there)."""
        return self.ends.get(path) or self.position(path)

    def problem(self, path: KeyPath, message: str) -> SpecProblem:
        """A problem at `path`, placed at the line and column of its key (or nearest parent)."""
        mark = nearest(self.marks, path) or self.marks.get(())  # else the top-level mapping
        line, col = (None, None) if mark is None else (mark[0] + 1, mark[1] + 1)
        return spec_problem(self.file, message, key=format_path(path) or None, line=line,
                            col=col)

    def error(self, path: KeyPath, message: str) -> SpecError:
        return SpecError.of([self.problem(path, message)])

    def errors(self, found: Sequence[Pending]) -> SpecError:
        """Every problem found (at least one), in document order, each reported once."""
        ordered = sorted(found, key=lambda p: p.order)  # stable: ties keep the order found
        unique = dict.fromkeys((p.path, p.message) for p in ordered)
        problems = [self.problem(path, message) for path, message in unique]
        # Printed by line and column, as a linter does (a missing key is reported at the line
        # of its mapping, though noticed at its end).
        problems.sort(key=lambda p: (p.line or 0, p.col or 0))
        return SpecError.of(problems)

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
            if node.flow_style:
                self._check_split(node, path)
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

    def _check_split(self, node: yaml.MappingNode, path: KeyPath) -> None:
        """`{scale: clamp(s, min=0.1)}` unquoted: YAML splits the expression at the comma into
        `scale: clamp(s` and a key `min=0.1)` with no value. Name the key the user wrote."""
        pairs = node.value
        for index, (key_node, value_node) in enumerate(pairs):
            if not (isinstance(value_node, yaml.ScalarNode) and value_node.style is None
                    and isinstance(key_node, yaml.ScalarNode)):
                continue
            depth = _open_brackets(str(value_node.value))
            if depth <= 0:
                continue
            end = value_node.end_mark.index
            for rest_key, rest_value in pairs[index + 1:]:
                for piece in (rest_key, rest_value):
                    if isinstance(piece, yaml.ScalarNode) and piece.value != "":
                        depth += _open_brackets(str(piece.value))
                        end = piece.end_mark.index
                if depth <= 0:
                    break
            written = " ".join(self.text[value_node.start_mark.index:end].split())
            key = str(key_node.value)
            sub = (*path, key)
            self.marks[sub] = (key_node.start_mark.line, key_node.start_mark.column)
            raise self.error(sub, f"YAML split this expression at a comma inside {{...}}: quote "
                                  f"the expression, e.g. {key}: \"{written}\"")

    def _key(self, node: yaml.Node, path: KeyPath) -> str:
        """A mapping key: a string, never a merge key `<<`."""
        key, line, col = format_path(path) or None, node.start_mark.line + 1, \
            node.start_mark.column + 1
        if isinstance(node, yaml.ScalarNode) and node.tag == _STR:
            if node.value == "<<" and node.style is None:
                raise spec_error(self.file, "merge keys (`<<`) are not supported: write the "
                                           "keys out", key=key, line=line, col=col)
            return str(node.value)
        if isinstance(node, yaml.ScalarNode):
            found = show(self._scalar(node, path))
            message = f"keys must be strings, found {found} (quote it)"
        else:
            found = "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"
            message = f"keys must be strings, found {found}"
        raise spec_error(self.file, message, key=key, line=line, col=col)

    def _check_tag(self, node: yaml.Node, path: KeyPath, expected: str) -> None:
        if node.tag != expected:
            raise self._bad_tag(node, path)

    def _bad_tag(self, node: yaml.Node, path: KeyPath) -> SpecError:
        tag = str(node.tag)
        shown = "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag
        return spec_error(self.file, f"unsupported tag '{shown}': only plain values (strings, "
                                    "numbers, true/false, null, lists, mappings) are allowed",
                         key=format_path(path) or None, line=node.start_mark.line + 1,
                         col=node.start_mark.column + 1)

    def _scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Any:
        tag, value = node.tag, str(node.value)
        try:
            if tag == _STR:
                if _SURROGATE_RE.search(value):
                    raise self.error(path, "the text holds an invalid character (a lone "
                                           "surrogate from a \\u escape)")
                return value
            if tag == NULL_TAG and _NULL_RE.fullmatch(value):
                return None
            if tag == _BOOL and _BOOL_RE.fullmatch(value):
                return value.lower() == "true"
            if tag == _INT and _INT_RE.fullmatch(value):
                return _parse_int(value)
            if tag == _FLOAT and (_FLOAT_RE.fullmatch(value) or _INT_RE.fullmatch(value)):
                return _parse_float(value)
        except ValueError:
            raise self.error(path, f"number {value[:40]!r} is too large") from None
        if tag in (NULL_TAG, _BOOL, _INT, _FLOAT):
            kind = tag[len(_TAG):]
            raise self.error(path, f"'{value[:40]}' is not a valid !!{kind}")
        raise self._bad_tag(node, path)


def _open_brackets(text: str) -> int:
    """Brackets `(` and `[` opened minus those closed."""
    return text.count("(") + text.count("[") - text.count(")") - text.count("]")


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


def show(value: Any) -> str:
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


def describe(value: Any) -> str:
    """Like `_show`, with the keys of a mapping."""
    if isinstance(value, dict):
        if not value:
            return "an empty mapping"
        keys = ", ".join(str(k) for k in list(value)[:6])
        return f"a mapping with keys {keys}" if len(value) > 1 else f"a mapping with key {keys}"
    if isinstance(value, list) and not value:
        return "an empty list"
    return show(value)
