"""Writing output files: the one writer for --json reports, plots and `init`.

- A regular file (or a new name) is written atomically: a temporary file in the same folder,
  then `os.replace`, so an error or Ctrl-C never leaves a half-written report, and a failed
  write leaves nothing behind. An existing file keeps its permission bits.
- A symlink is followed and its target replaced (as `cp` and editors do); the link stays.
- Anything else that exists and is not a folder (`/dev/null`, a FIFO, a terminal, a character
  device) is written through, never replaced by a regular file. `/dev/stdout`, `/dev/fd/N` and
  `/proc/self/fd/N` write to the open descriptor, after what is already there.
- Every failure is one `UsageError` naming the path and the reason (exit 2).

`guarded_stdout` turns a failing standard output (`> /dev/full`, a closed pipe) into the same
kind of error instead of a traceback.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from gaussdiag.errors import UsageError
from gaussdiag.printable import printable
from gaussdiag.workdir import why_missing

# Names of an already open descriptor: writing there must not create or replace a file.
_FD_PATH = re.compile(r"/dev/(?:stdout|stderr|fd/\d+)|/proc/(?:self|thread-self|\d+)/fd/\d+")
_TEMP_PREFIX = ".gaussdiag-"  # short and fixed: a long target name must not fail on its temp


def write_text(target: str, text: str) -> None:
    """Write `text` to `target`; `-` means standard output."""
    if target == "-":
        _write_stdout(text)
        return
    write_atomic(target, text)


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write `data` to `path` as the module docstring says, or raise one `UsageError`."""
    raw = os.fspath(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    shown = printable(raw) or "''"
    if not raw:
        raise UsageError("cannot write '': no file name given")
    if raw.endswith(os.sep) or os.path.basename(raw) in (".", ".."):
        raise UsageError(f"cannot write {shown}: it names a folder, not a file")
    try:
        if _FD_PATH.fullmatch(raw):
            _write_descriptor(raw, payload)
        else:
            _write_path(raw, payload, shown)
    except OSError as exc:
        why = printable(why_missing(raw, _reason(exc)))  # a relative name's folder may be gone
        raise UsageError(f"cannot write {shown}: {why}") from None


def _write_path(raw: str, payload: bytes, shown: str) -> None:
    try:
        st: os.stat_result | None = os.stat(raw)  # follows symlinks
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
    if st is not None and not stat.S_ISREG(st.st_mode):
        _write_through(raw, payload, os.O_WRONLY)
        return
    real = os.path.realpath(raw)  # a symlink's target (also a dangling one's) is replaced
    folder = os.path.dirname(real)
    if not os.path.isdir(folder):
        raise UsageError(f"cannot write {shown}: folder {printable(folder)} does not exist")
    if st is not None and not os.access(real, os.W_OK):
        # os.replace would succeed over a read-only file in a writable folder: the user
        # protected it, so refuse as `cp` would
        raise PermissionError(errno.EACCES, "the file is read-only")
    name_max = os.pathconf(folder, "PC_NAME_MAX")
    if len(os.fsencode(os.path.basename(real))) > name_max:
        raise OSError(errno.ENAMETOOLONG, f"file name longer than {name_max} bytes")
    if st is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask  # the mode a plain open() would give (mkstemp makes 0600)
    else:
        mode = stat.S_IMODE(st.st_mode)
    fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".tmp", dir=folder)
    try:
        try:
            os.fchmod(fd, mode)
            _write_all(fd, payload)
        finally:
            os.close(fd)
        os.replace(tmp, real)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_descriptor(raw: str, payload: bytes) -> None:
    # What this process already wrote to that descriptor must come first
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    _write_through(raw, payload, os.O_WRONLY | os.O_APPEND)


def _write_through(raw: str, payload: bytes, flags: int) -> None:
    fd = os.open(raw, flags | getattr(os, "O_CLOEXEC", 0))
    try:
        _write_all(fd, payload)
    finally:
        os.close(fd)


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view):]


def _reason(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


# ---- standard output ------------------------------------------------------------------------


def _write_stdout(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        raise _stdout_error(exc) from None


def _stdout_error(exc: OSError) -> UsageError:
    """The error for a failed write to standard output; later writes (the interpreter's own
    flush at exit included) go to the null device, so no second, unlocated message follows."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.__stdout__.fileno() if sys.__stdout__ else 1)
        os.close(null)
    except (OSError, ValueError):
        pass  # no real descriptor (captured output): nothing will flush there at exit
    return UsageError(f"cannot write to standard output: {_reason(exc)}")


class _GuardedStream:
    """Standard output whose write and flush fail with a `UsageError`; all else passes."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise _stdout_error(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise _stdout_error(exc) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def guarded_stdout() -> Iterator[None]:
    """Within the block, a failing standard output raises `UsageError` (exit 2, one line);
    the block ends with a flush so buffered text fails here, not at interpreter exit."""
    original = sys.stdout
    sys.stdout = _GuardedStream(original)  # type: ignore[assignment,unused-ignore]
    try:
        yield
        sys.stdout.flush()
    finally:
        sys.stdout = original
