"""The options `compare` and `precision-check` share, spelled once: -q/--quiet, -v/--verbose,
--threads."""

from __future__ import annotations

from typing import Annotated

import typer

from gaussdiag.errors import UsageError
from gaussdiag.limits import SMALL_PROBLEM_ELEMENTS

Quiet = Annotated[bool, typer.Option(
    "--quiet", "-q", help="Print no report: the exit code answers. Errors and gate failures "
    "still go to stderr (compare: one line for each spec whose verdict is not acceptable, with "
    "its file, verdict, what was expected and why); the files asked for, --json FILE and the "
    "step summary or the plot, are still written.")]

Verbose = Annotated[bool, typer.Option(
    "--verbose", "-v", help="Print each step to stderr, also when not on a terminal.")]


THREADS_HELP = (
    "torch's intra-op threads while diagnosing (shown in the report) [default: 1 for a "
    f"problem whose largest param or input has at most {SMALL_PROBLEM_ELEMENTS:,} elements, "
    "where more threads only wait on each other; else torch's own]")

Threads = Annotated[int | None, typer.Option(min=1, metavar="N", help=THREADS_HELP,
                                             show_default=False)]


def check_loudness(quiet: bool, verbose: bool) -> None:
    if quiet and verbose:
        raise UsageError("--quiet and --verbose contradict each other: give one")
