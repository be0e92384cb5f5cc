"""One exception hierarchy. Everything a user can cause is a `GaussdiagError` (exit 2);
anything else that escapes is a bug in gaussdiag (exit 3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class GaussdiagError(Exception):
    """A problem with the user's input or environment; the message says where and how to fix."""

    exit_code = 2


@dataclass(frozen=True)
class SpecProblem:
    """One located problem in a spec: the file, and where known the key path, the 1-based
    line and column. Rendered as `file:line:col: key.path: message`, as ruff and mypy do."""

    file: str
    message: str
    key: str | None = None
    line: int | None = None
    col: int | None = None

    def render(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}" if self.col is None else f":{self.line}:{self.col}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class SpecError(GaussdiagError):
    """A spec that cannot be read: every problem found, in document order, one line each.

    `file`, `key`, `line`, `col` and `message` are those of the first problem; `problems`
    holds them all, so a renderer never re-parses the text.
    """

    def __init__(self, file: str, message: str, *, key: str | None = None,
                 line: int | None = None, col: int | None = None,
                 more: Sequence[SpecProblem] = ()) -> None:
        first = SpecProblem(file, message, key=key, line=line, col=col)
        self.problems: tuple[SpecProblem, ...] = (first, *more)
        self.file = file
        self.key = key
        self.line = line
        self.col = col
        self.message = message
        super().__init__(self.render())

    @classmethod
    def of(cls, problems: Sequence[SpecProblem]) -> SpecError:
        """One error for several problems (at least one), kept in the order given."""
        first, *rest = problems
        return cls(first.file, first.message, key=first.key, line=first.line, col=first.col,
                   more=rest)

    def render(self) -> str:
        return "\n".join(p.render() for p in self.problems)


class ExprError(Exception):
    """An expression was rejected or failed to evaluate. `piece` is the offending fragment.

    Not a `GaussdiagError` by itself: the caller knows the file and key, and wraps it in a
    `SpecError`.
    """

    def __init__(self, message: str, piece: str | None = None) -> None:
        self.message = message
        self.piece = piece
        super().__init__(message if piece is None else f"{message}: `{piece}`")


class DeviceError(GaussdiagError):
    """A requested device is absent (no CUDA, no MPS, an out-of-range index)."""


class UsageError(GaussdiagError):
    """Bad command-line usage not caught by the argument parser."""
