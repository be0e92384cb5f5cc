"""The options `compare` and `precision-check` share, spelled once: -q/--quiet, -v/--verbose."""

from __future__ import annotations

from typing import Annotated

import typer

from gaussdiag.errors import UsageError

Quiet = Annotated[bool, typer.Option(
    "--quiet", "-q", help="Print no report: the exit code answers. Errors and gate failures "
    "still go to stderr (compare: one line for each spec whose verdict is not acceptable, with "
    "its file, verdict, what was expected and why); the files asked for, --json FILE and the "
    "step summary or the plot, are still written.")]

Verbose = Annotated[bool, typer.Option(
    "--verbose", "-v", help="Print each step to stderr, also when not on a terminal.")]


def check_loudness(quiet: bool, verbose: bool) -> None:
    if quiet and verbose:
        raise UsageError("--quiet and --verbose contradict each other: give one")
