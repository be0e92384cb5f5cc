"""What `compare` runs: spec files, folders searched for specs, `-` for stdin; and whether
the run is interactive (the built-in demo runs only on a terminal)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gaussdiag.errors import UsageError

STDIN = "-"
SPEC_SUFFIXES = (".yaml", ".yml")


def interactive() -> bool:
    """A person at a terminal: no CI variable, and stdin and stdout are terminals."""
    return not os.environ.get("CI") and sys.stdin.isatty() and sys.stdout.isatty()


def expand(paths: list[Path]) -> list[str]:
    """Files as given (a `.py` pairs file only when named: folders are never searched for
    code to import), folders replaced by the `*.yaml` and `*.yml` files under them
    (recursively, in sorted order), `-` kept for stdin (once)."""
    found: list[str] = []
    for path in paths:
        if str(path) == STDIN:
            if STDIN in found:
                raise UsageError("- (stdin) given twice: stdin holds one spec")
            found.append(STDIN)
        elif path.is_dir():
            specs = sorted(str(p) for p in path.rglob("*")
                           if p.suffix in SPEC_SUFFIXES and p.is_file())
            if not specs:
                raise UsageError(f"{path}: folder has no *.yaml or *.yml spec files (a .py "
                                 "pairs file runs only when named: folders are never "
                                 "searched for code to import)")
            found += specs
        else:
            found.append(str(path))
    return found
