"""The precision renderers: every class and `better` renders, plain text off a terminal."""

from __future__ import annotations

import pytest

from gaussdiag.precision import (
    Better,
    CellClass,
    MvnSweep,
    NormalSweep,
    ScaleParam,
    SpecPrecision,
    check_point,
    parse_point,
)
from gaussdiag.report.precision_text import render_mvn, render_normal, render_point, render_spec
from gaussdiag.vocab import SideName

from .refs import (
    F32,
)


@pytest.mark.parametrize("cls", list(CellClass), ids=lambda c: c.value)
def test_every_class_renders(cls: CellClass) -> None:
    from gaussdiag.precision.findings import CLASS_PHRASES
    from gaussdiag.report.precision_maps import cell

    text, style = cell(5.0, cls, 5.7, 7.2)
    assert len(text) == 3 and style
    assert CLASS_PHRASES[cls]


def test_renderers_are_plain_text_without_a_terminal(sweep32: NormalSweep, mvn32: MvnSweep) -> None:
    from rich.console import Console

    r = check_point(F32, ScaleParam.SCALE, parse_point("scale=0.01,x=10", ScaleParam.SCALE))
    for view in (render_normal(sweep32, plain=True), render_mvn(mvn32, plain=True),
                 render_point(r, plain=True)):
        console = Console(width=120, force_terminal=False, record=True)
        with console.capture() as cap:
            console.print(view)
        out = cap.get()
        assert "\x1b[" not in out and out.strip()


def test_progress_bar_only_on_a_terminal_and_for_big_grids() -> None:
    import io

    from rich.console import Console

    from gaussdiag.report.precision_text import PROGRESS_MIN_CELLS, progress_bar

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    pipe = Console(file=io.StringIO(), force_terminal=False)
    with progress_bar(pipe, 10 * PROGRESS_MIN_CELLS) as cb:
        assert cb is None
    # FORCE_COLOR makes rich call a pipe a terminal; bar frames must still stay out of logs
    forced = Console(file=io.StringIO(), force_terminal=True)
    with progress_bar(forced, 10 * PROGRESS_MIN_CELLS) as cb:
        assert cb is None
    assert forced.file.getvalue() == ""  # type: ignore[attr-defined]
    tty = Console(file=Tty(), force_terminal=True)
    with progress_bar(tty, PROGRESS_MIN_CELLS - 1) as cb:
        assert cb is None
    with progress_bar(tty, PROGRESS_MIN_CELLS) as cb:
        assert cb is not None
        cb(PROGRESS_MIN_CELLS, PROGRESS_MIN_CELLS)


@pytest.mark.parametrize("better", list(Better), ids=lambda b: b.value)
def test_every_better_renders(better: Better) -> None:
    from gaussdiag.report.precision_text import _better_cell

    assert _better_cell(better, 6.0, 2.0).startswith(better.value)


def test_spec_render_is_plain_text(ill32: SpecPrecision) -> None:
    from rich.console import Console

    console = Console(width=120, force_terminal=False, record=True)
    with console.capture() as cap:
        console.print(render_spec(ill32, plain=True))
    out = cap.get()
    assert "\x1b[" not in out
    # The gap is whatever this machine's float32 gives (it differs between CPUs): take it
    # from the result and check the renderer writes it, not a number typed in here.
    a, b = (ill32.side(s).quantities[0] for s in (SideName.A, SideName.B))
    diff = b.digits - a.digits
    assert diff > 1.0          # the bounds in test_spec_check leave at least one digit
    gap = f"{diff:.1f}"
    for word in ("a digits", "b digits", "better", f"b (+{gap})", "cost of forward + backward",
                 "saved for backward", "recommendation: use b"):
        assert word in out, out
