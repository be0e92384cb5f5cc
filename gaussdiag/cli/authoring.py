"""Commands for writing specs: `gaussdiag schema` and `gaussdiag init`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from gaussdiag.cli.exits import EXIT_OK


def schema(
    report: Annotated[bool, typer.Option(
        "--report", help="The schema of the compare JSON report (`compare --json`) instead.")
    ] = False,
) -> int:
    """Print the JSON Schema of the spec format (for editors and linters), e.g.
    `gaussdiag schema > gaussdiag.schema.json`; with --report, of the compare report."""
    import json

    if report:
        from gaussdiag.report.json_schema import report_schema

        body = report_schema()
    else:
        from gaussdiag.schema import spec_schema

        body = spec_schema()
    sys.stdout.write(json.dumps(body, indent=2) + "\n")
    return EXIT_OK


def init(
    name: Annotated[str, typer.Argument(
        help="File to write: NAME as given, NAME.yaml when it has no suffix, - for stdout.",
        show_default=False)],
) -> int:
    """Write a commented starter spec that runs as is: `gaussdiag init my_spec`, then
    `gaussdiag compare my_spec.yaml`. Never overwrites a file (exit 2)."""
    from gaussdiag.init_spec import write_starter

    target = write_starter(name)
    if target != "-":
        typer.echo(f"wrote {target}: edit its sides, then run `gaussdiag compare {target}`",
                   err=True)
    return EXIT_OK
