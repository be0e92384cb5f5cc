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
    path = Path(target)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"cannot write {target}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
