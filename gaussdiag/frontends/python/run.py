"""Two Python sides and their settings to a report: bind them (`LiveProblem`), then the
coordinator (`gaussdiag.pipeline.diagnose_problem`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gaussdiag.errors import GaussdiagError
from gaussdiag.frontends.python.settings import Settings
from gaussdiag.results import SpecReport

if TYPE_CHECKING:
    from gaussdiag.pipeline import Progress


def run(a: Any, b: Any, chosen: Settings, threads: int | None = None,
        progress: Progress | None = None) -> SpecReport:
    """The engine on a LiveProblem (on `threads` intra-op threads; None: from its size);
    errors surface without gaussdiag's frames."""
    from gaussdiag.frontends.python.problem import LiveProblem
    from gaussdiag.pipeline import diagnose_problem

    try:
        report = diagnose_problem(LiveProblem(a, b, chosen), progress, threads=threads)
    except GaussdiagError as err:
        raise err.with_traceback(None) from None
    if report.interrupted:
        raise KeyboardInterrupt
    return report
