"""Renderers: pure functions of the frozen results, one module per output format.

    table        the terminal report (rich renderables); quantity_table and switch_table
                 its tables of quantities and its switch checks
    json_report  the JSON report
    markdown     the markdown summary
    github       GitHub Actions annotations
    (gaussdiag/numbers.py is the one number formatter every format uses)

`render(run, fmt)` picks the format from RENDERERS. To add a format: a member of
`OutputFormat` (gaussdiag/vocab.py, with its help line), a module here that renders a
`RunReport`, and its row in RENDERERS. Every string from a spec or a path passes through
`gaussdiag.printable.printable` in the text formats (JSON keeps the exact string).
They format; they never compute a verdict.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import RenderableType

from gaussdiag.report.github import render_github
from gaussdiag.report.json_report import TIMING_KEYS, render_json, spec_json, to_json
from gaussdiag.report.markdown import render_markdown
from gaussdiag.report.status import status_word
from gaussdiag.report.table import render_run, render_spec
from gaussdiag.results import RunReport
from gaussdiag.vocab import OutputFormat

__all__ = ["RENDERERS", "TIMING_KEYS", "render", "render_github", "render_json", "render_markdown",
           "render_run", "render_spec", "spec_json", "status_word", "to_json"]


Renderer = Callable[[RunReport, bool], RenderableType]

# One row per output format: the renderer, given the run and whether timings are kept (only
# JSON can leave them out). A test holds the rows to OutputFormat's members.
RENDERERS: dict[OutputFormat, Renderer] = {
    OutputFormat.TABLE: lambda run, timings: render_run(run),
    OutputFormat.JSON: lambda run, timings: render_json(run, timings=timings),
    OutputFormat.MARKDOWN: lambda run, timings: render_markdown(run),
    OutputFormat.GITHUB: lambda run, timings: render_github(run),
}


def render(run: RunReport, fmt: OutputFormat, *, timings: bool = True) -> RenderableType:
    """`run` in the format asked for: a rich renderable for `table`, plain text (a `str`, to be
    written as is, never parsed as markup) for the others."""
    return RENDERERS[fmt](run, timings)
