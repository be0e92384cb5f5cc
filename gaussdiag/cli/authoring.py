"""Commands for writing specs: `gaussdiag schema` and `gaussdiag init`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from gaussdiag.cli.exits import EXIT_OK
from gaussdiag.printable import printable


def schema(
    report: Annotated[bool, typer.Option(
        "--report", help="The schema of the compare JSON report (`compare --json`) instead.")
    ] = False,
    precision_report: Annotated[bool, typer.Option(
        "--precision-report", help="The schema of precision-check's JSON "
        "(`precision-check --json`) instead.")] = False,
) -> int:
    """Print the JSON Schema of the spec format (for editors and linters), e.g.
    `gaussdiag schema > gaussdiag.schema.json`; with --report, of the compare report; with
    --precision-report, of precision-check's JSON."""
    import json

    from gaussdiag.errors import UsageError

    if report and precision_report:
        raise UsageError("--report and --precision-report each print one schema: give one")
    if report:
        from gaussdiag.report.json_schema import report_schema

        body = report_schema()
    elif precision_report:
        from gaussdiag.report.precision_json_schema import precision_report_schema

        body = precision_report_schema()
    else:
        from gaussdiag.frontends.yaml.spec.schema import spec_schema

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
    from gaussdiag.frontends.yaml.spec.starter import write_starter

    target = write_starter(name)
    if target != "-":
        shown = printable(target)
        typer.echo(f"wrote {shown}: edit its sides, then run `gaussdiag compare {shown}`",
                   err=True)
    return EXIT_OK
