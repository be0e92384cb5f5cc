"""Writing output files: atomically (temporary file, then rename), so an error or Ctrl-C never
leaves a half-written report behind."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from gaussdiag.errors import UsageError


def write_text(target: str, text: str) -> None:
    """Write `text` to `target` atomically; `-` means standard output."""
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_atomic(Path(target), text)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write via a temporary file in the same folder and os.replace: never a half-written
    file, and nothing at all when the folder is missing."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
