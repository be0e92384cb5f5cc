"""The folder the command was started in, and whether it still exists: a run whose working
folder is removed under it ends with one error naming that folder (exit 2), not an internal
error."""

from __future__ import annotations

import os

_STARTED_IN: str | None = None


def remember() -> None:
    """Note the working folder as the command starts."""
    global _STARTED_IN
    try:
        _STARTED_IN = os.getcwd()
    except OSError:  # already gone: the shell still knows its name
        _STARTED_IN = os.environ.get("PWD")


def gone() -> str | None:
    """The working folder's path if it no longer exists, else None."""
    try:
        os.getcwd()
    except FileNotFoundError:
        return _STARTED_IN or os.environ.get("PWD") or "."
    return None


def why_missing(path: str, usual: str) -> str:
    """Why file `path` cannot be found: `usual`, or that the working folder a relative name
    is relative to was removed."""
    folder = None if os.path.isabs(path) else gone()
    return usual if folder is None else f"the working folder {folder} was removed during the run"
