"""Two Python sides and their settings to a report: bind them (`LiveProblem`), then the
coordinator (`gaussdiag.pipeline.diagnose_problem`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gaussdiag.engine.switch import Switch
from gaussdiag.errors import GaussdiagError
from gaussdiag.frontends.python.settings import Settings, needs_switch
from gaussdiag.results import SpecReport

if TYPE_CHECKING:
    from gaussdiag.pipeline import Progress


def run(a: Any, b: Any, chosen: Settings, threads: int | None = None,
        progress: Progress | None = None, *, switches: tuple[Switch, ...] = (),
        skip_absent: bool = False, repro_dir: str | None = None) -> SpecReport:
    """The engine on a LiveProblem (on `threads` intra-op threads; None: from its size),
    with the settings' switches and `switches` (the command line's), a compile mismatch's
    reproducer in `repro_dir` (None: a new temporary folder); errors surface without
    gaussdiag's frames. A single side (`chosen.single`) is bound as both sides and checked
    under its switches alone."""
    from gaussdiag.frontends.python.problem import LiveProblem
    from gaussdiag.pipeline import diagnose_problem

    needs_switch(chosen, switches)
    try:
        problem = LiveProblem(a, a if chosen.single else b, chosen)
        report = diagnose_problem(problem, progress, threads=threads,
                                  plan=chosen.plan(switches, skip_absent, repro_dir))
    except GaussdiagError as err:
        raise err.with_traceback(None) from None
    if report.interrupted:
        raise KeyboardInterrupt
    return report
