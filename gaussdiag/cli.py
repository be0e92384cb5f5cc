"""The command line: a thin leaf over the pipeline. Parse, call the core, render, return a code.

Exit codes (spec-v1): 0 all verdicts acceptable, 1 some verdict not, 2 usage or spec error,
3 internal error (traceback only with --debug), 130 interrupted.
torch is imported only inside command bodies, so `--help` and spec errors answer at once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from gaussdiag import __version__
from gaussdiag.errors import GaussdiagError

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

app = typer.Typer(
    name="gaussdiag",
    help="Diagnose value and gradient differences between two ways of writing the same "
    "PyTorch distribution: parameterization bug or floating-point round-off?",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gaussdiag {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Diagnose value and gradient differences between two ways of writing the same PyTorch
    distribution: parameterization bug or floating-point round-off?"""


# ---- compare ------------------------------------------------------------------------------
# (compare command: owned by the compare pipeline)
# ---- end compare --------------------------------------------------------------------------

# ---- precision-check ----------------------------------------------------------------------
# (precision-check command: owned by the precision sweep)
# ---- end precision-check ------------------------------------------------------------------


def main(argv: Optional[list[str]] = None) -> int:
    """Run the CLI and return its exit code: the one error boundary."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        result = app(args=argv, standalone_mode=False, prog_name="gaussdiag")
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except GaussdiagError as exc:
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        typer.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the boundary turns bugs into exit 3
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return EXIT_USAGE
        if debug:
            import traceback

            traceback.print_exc()
        else:
            typer.echo(
                f"internal error (a bug in gaussdiag): {type(exc).__name__}: {exc} "
                "(run with --debug for the traceback)",
                err=True,
            )
        return EXIT_INTERNAL
    return int(result) if isinstance(result, int) else EXIT_OK


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
