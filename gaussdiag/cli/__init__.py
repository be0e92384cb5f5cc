"""The command line (`gaussdiag`, `python -m gaussdiag`): see `gaussdiag.cli.app`.

    app        the Typer app, the one error boundary `main(argv) -> int`, and `run()`
    compare    `gaussdiag compare`
    precision  `gaussdiag precision-check`
    authoring  `gaussdiag schema` and `gaussdiag init`
    console    the console and the progress line
    stops      Ctrl-C and SIGTERM: what a stop keeps, and a second one cannot lose
    user_output  a pairs file's prints go to stderr, never into the report
"""

from gaussdiag.cli.app import app, main, run

__all__ = ["app", "main", "run"]
