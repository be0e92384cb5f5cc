"""Where the CLI writes: the rich console for reports, and the progress line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def make_console(stderr: bool = False) -> Any:
    """A rich console: colour only on a terminal and without NO_COLOR (rich reads both)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


@contextmanager
def progress_line(console: Any) -> Iterator[Callable[[str], None] | None]:
    """A one-line status on a terminal; nothing in CI logs or pipes."""
    if not console.is_terminal:
        yield None
        return
    with console.status("starting") as status:
        yield lambda msg: status.update(msg)
