"""Key paths into a spec and the located `SpecError`s built from them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from gaussdiag.errors import SpecError, SpecProblem

_T = TypeVar("_T")

KeyPath = tuple[str | int, ...]
Mark = tuple[int, int]  # 0-based (line, column), for document order

@dataclass(frozen=True)
class Pending:
    """One problem found at a key path: where it sorts in the document, and its text. An
    unknown key says so, with the field it looks like a misspelling of (if any)."""

    path: KeyPath
    order: Mark
    message: str
    unknown_key: bool = False
    misspells: str | None = None



# Line breaks inside keys or values are shown escaped: an error is always one line.
_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


def spec_problem(file: str, message: str, *, key: str | None = None, line: int | None = None,
                 col: int | None = None) -> SpecProblem:
    """A `SpecProblem` whose key and message are one line each."""
    return SpecProblem(file, message.translate(_LINE_BREAKS),
                       key=None if key is None else key.translate(_LINE_BREAKS), line=line,
                       col=col)


def spec_error(file: str, message: str, *, key: str | None = None, line: int | None = None,
               col: int | None = None) -> SpecError:
    """A `SpecError` with one problem, its key and message one line each."""
    return SpecError.of([spec_problem(file, message, key=key, line=line, col=col)])


def format_path(path: KeyPath) -> str:
    """`('a', 'transforms', 0, 'power')` -> `a.transforms[0].power`."""
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out += f".{key}" if out else key
    return out


def nearest(table: Mapping[KeyPath, _T], path: KeyPath) -> _T | None:
    """The entry of `path`, or of its nearest ancestor that has one (never of `()`)."""
    for end in range(len(path), 0, -1):
        found = table.get(path[:end])
        if found is not None:
            return found
    return None


def parse_dotted(text: str, known: Mapping[KeyPath, int]) -> KeyPath:
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
