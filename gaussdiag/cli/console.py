"""Where the CLI writes: the rich console for reports, and the progress line."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from gaussdiag.printable import printable

# the end of a line: spaces mixed with colour codes (the codes are kept, the spaces go)
_TRAILING = re.compile(r"(?:[ ]|\x1b\[[0-9;]*m)+$", re.M)
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def make_console(stderr: bool = False, plain: bool = False) -> Any:
    """A rich console: colour only on a terminal and without NO_COLOR (rich reads both);
    never with `plain` (the report under --format github's annotations)."""
    from rich.console import Console

    if plain:
        return Console(stderr=stderr, highlight=False, soft_wrap=False, color_system=None)
    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def print_report(console: Any, view: Any, **kwargs: Any) -> None:
    """Print `view`; outside a real terminal (a file, a pipe, a CI log, even with
    FORCE_COLOR) without the spaces rich pads table lines with."""
    if console.file.isatty():
        console.print(view, **kwargs)
        return
    with console.capture() as captured:
        console.print(view, **kwargs)
    text = _TRAILING.sub(lambda m: "".join(_SGR.findall(m.group(0))), captured.get())
    console.file.write(text)
    console.file.flush()


@contextmanager
def progress_line(console: Any, verbose: bool = False
                  ) -> Iterator[Callable[[str], None] | None]:
    """A one-line status on stderr when stderr is a real terminal (FORCE_COLOR does not count:
    spinner frames never land in a log); with `verbose`, each step as a line on stderr
    elsewhere."""
    if not sys.stderr.isatty():
        if verbose:
            yield lambda msg: print(printable(msg), file=sys.stderr, flush=True)
        else:
            yield None
        return
    from rich.console import Console
    from rich.text import Text

    with Console(stderr=True).status("starting") as status:
        # a spec's name is in the message: shown escaped, never as rich markup
        yield lambda msg: status.update(Text(printable(msg)))
