"""One exception hierarchy. Everything a user can cause is a `GaussdiagError` (exit 2);
anything else that escapes is a bug in gaussdiag (exit 3)."""

from __future__ import annotations


class GaussdiagError(Exception):
    """A problem with the user's input or environment; the message says where and how to fix."""

    exit_code = 2


class SpecError(GaussdiagError):
    """A spec that cannot be read: names the file, the key path and, where known, the line.

    Rendered as `file:line: key.path: message`.
    """

    def __init__(self, file: str, message: str, *, key: str | None = None,
                 line: int | None = None) -> None:
        self.file = file
        self.key = key
        self.line = line
        self.message = message
        super().__init__(self.render())

    def render(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


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
