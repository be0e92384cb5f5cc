"""Renderers: pure functions of the frozen results, one module per output format.

    table        the terminal report (rich renderables)
    json_report  the JSON report
    markdown     the markdown summary
    github       GitHub Actions annotations
    (gaussdiag/numbers.py is the one number formatter every format uses)

`render(run, fmt)` picks the format. Every string from a spec or a path passes through
`gaussdiag.printable.printable` in the text formats (JSON keeps the exact string).
They format; they never compute a verdict.
"""

from __future__ import annotations

from rich.console import RenderableType
from typing_extensions import assert_never

from gaussdiag.report.github import render_github
from gaussdiag.report.json_report import TIMING_KEYS, render_json, spec_json, to_json
from gaussdiag.report.markdown import render_markdown
from gaussdiag.report.status import status_word
from gaussdiag.report.table import render_run, render_spec
from gaussdiag.results import RunReport
from gaussdiag.vocab import OutputFormat

__all__ = ["TIMING_KEYS", "render", "render_github", "render_json", "render_markdown",
           "render_run", "render_spec", "spec_json", "status_word", "to_json"]


def render(run: RunReport, fmt: OutputFormat, *, timings: bool = True) -> RenderableType:
    """`run` in the format asked for: a rich renderable for `table`, plain text (a `str`, to be
    written as is, never parsed as markup) for the others."""
    if fmt is OutputFormat.TABLE:
        return render_run(run)
    if fmt is OutputFormat.JSON:
        return render_json(run, timings=timings)
    if fmt is OutputFormat.MARKDOWN:
        return render_markdown(run)
    if fmt is OutputFormat.GITHUB:
        return render_github(run)
    assert_never(fmt)
