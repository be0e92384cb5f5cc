"""The command line: a thin leaf over the pipeline. Parse, call the core, render, return a code.

Exit codes (spec-v1): 0 all verdicts acceptable, 1 some verdict not, 2 usage or spec error,
3 internal error (traceback only with --debug), 124 a spec ran past its time bound, 130
interrupted (Ctrl-C), 143 terminated (SIGTERM).
torch is imported only inside command bodies, so `--help` and spec errors answer at once.
This module holds the Typer app and the one error boundary, `main`; the commands live in
their own modules and are registered here, in the order `--help` lists them.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from gaussdiag import workdir
from gaussdiag._version import __version__
from gaussdiag.cli import stops
from gaussdiag.cli.authoring import init, schema
from gaussdiag.cli.compare import compare
from gaussdiag.cli.exits import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE
from gaussdiag.cli.precision import precision_check
from gaussdiag.errors import GaussdiagError
from gaussdiag.output import guarded_stdout
from gaussdiag.printable import printable

app = typer.Typer(
    name="gaussdiag",
    help="Diagnose value and gradient differences between two ways of writing the same "
    "PyTorch distribution: parameterization bug or floating-point round-off?",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
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


app.command()(compare)
app.command("precision-check")(precision_check)
app.command()(schema)
app.command()(init)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code: the one error boundary."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    stops.reset()
    workdir.remember()
    try:
        with guarded_stdout():  # `> /dev/full`, a closed pipe: one error line, exit 2
            result = app(args=argv, standalone_mode=False, prog_name="gaussdiag")
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM in the command's own process
        typer.echo(stops.word(), err=True)
        return stops.exit_code()
    except GaussdiagError as exc:
        # a spec error: one line per problem; an unknown word is echoed back, so each line
        # is shown with its control characters escaped
        for line in str(exc).splitlines():
            typer.echo(f"error: {printable(line)}", err=True)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        typer.echo(stops.word(), err=True)
        return stops.exit_code()
    except Exception as exc:  # noqa: BLE001 - the boundary turns bugs into exit 3
        # Usage errors from the argument parser (typer vendors click, so match the interface
        # rather than a class from one import path): they show themselves, exit 2.
        exit_code = getattr(exc, "exit_code", None)
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            return EXIT_USAGE
        folder = workdir.gone()
        if folder is not None:  # not a bug: the run lost the folder it ran in
            typer.echo(f"error: the working folder {printable(folder)} was removed while "
                       f"gaussdiag ran ({type(exc).__name__}: {printable(str(exc))})", err=True)
            return EXIT_USAGE
        if debug:
            import traceback

            traceback.print_exc()
        else:
            typer.echo(
                f"internal error (a bug in gaussdiag): {type(exc).__name__}: {printable(str(exc))} "
                "(run with --debug for the traceback)",
                err=True,
            )
        return EXIT_INTERNAL
    return int(result) if isinstance(result, int) else EXIT_OK


def run() -> None:
    """Console-script entry point (and `python -m gaussdiag`): the process is the command's."""
    from gaussdiag.torch_import import own_process

    own_process()
    stops.install()
    code = main()
    stops.release()  # the output is complete: a late Ctrl-C must not turn it into a traceback
    sys.exit(code)
