"""`gaussdiag precision-check`: a low dtype against float64, over a grid, at a point, or for
the two sides of spec files."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gaussdiag.cli.console import print_report
from gaussdiag.cli.exits import EXIT_FAIL, EXIT_OK
from gaussdiag.errors import UsageError
from gaussdiag.limits import DEFAULT_MAX_ELEMENTS
from gaussdiag.vocab import DType, ScaleParam, SweepDist

if TYPE_CHECKING:  # imports torch: only inside the command
    from gaussdiag.precision import SpecPrecision

_GRID = "Grid"
_MVN = "MultivariateNormal (--dist mvn)"
_SPEC = "SPEC files"


def precision_check(
    ctx: typer.Context,
    specs: Annotated[list[Path] | None, typer.Argument(
        metavar="SPEC",
        help="Spec files (YAML, spec-v1): compare the accuracy and cost of their two sides "
        "instead of running a built-in sweep.", show_default=False,
    )] = None,
    dist: Annotated[SweepDist, typer.Option(
        help="Distribution to sweep: normal (sigma x z map) or mvn (condition numbers).",
    )] = SweepDist.NORMAL,
    dtype: Annotated[DType, typer.Option(
        help="Low precision to check against float64 (float32, float16, bfloat16).",
    )] = DType.FLOAT32,
    param: Annotated[ScaleParam, typer.Option(
        help="How scale is computed from the parameter gradients are taken against: "
        "scale itself, softplus(rho) or exp(log_scale).",
    )] = ScaleParam.SCALE,
    point: Annotated[str | None, typer.Option(
        help="Check one point instead of a grid, e.g. loc=0,scale=0.01,x=10 (rho= or "
        "log_scale= instead of scale= with --param softplus or log).",
        show_default=False,
    )] = None,
    sigma_lo: Annotated[float, typer.Option(help="Smallest scale.", rich_help_panel=_GRID)
                        ] = 1e-12,
    sigma_hi: Annotated[float, typer.Option(help="Largest scale.", rich_help_panel=_GRID)
                        ] = 1e12,
    sigma_n: Annotated[int | None, typer.Option(
        help="Scale rows, log-spaced [default: 25; 9 with --quick].", show_default=False,
        rich_help_panel=_GRID)] = None,
    z_lo: Annotated[float, typer.Option(
        help="Smallest nonzero z = |x - loc|/scale (z = 0 is always the first column).",
        rich_help_panel=_GRID)] = 1e-4,
    z_hi: Annotated[float, typer.Option(help="Largest z.", rich_help_panel=_GRID)] = 1e20,
    z_n: Annotated[int | None, typer.Option(
        help="Nonzero z columns, log-spaced [default: 25; 9 with --quick].",
        show_default=False, rich_help_panel=_GRID)] = None,
    dim: Annotated[int, typer.Option(help="Dimension of the MVN.", rich_help_panel=_MVN)] = 4,
    cond_hi: Annotated[float, typer.Option(
        help="Largest covariance condition number (the axis starts at 1).",
        rich_help_panel=_MVN)] = 1e16,
    cond_n: Annotated[int | None, typer.Option(
        help="Condition numbers, log-spaced [default: 17; 9 with --quick].",
        show_default=False, rich_help_panel=_MVN)] = None,
    quick: Annotated[bool, typer.Option(
        "--quick", help="A small grid (for CI).")] = False,
    device: Annotated[str | None, typer.Option(
        help="SPEC files only: cpu, cuda, cuda:N, mps or auto; overrides the spec's device "
        "(sides pinned with their own `device:` stay).", show_default=False,
        rich_help_panel=_SPEC)] = None,
    max_elements: Annotated[int, typer.Option(
        min=1, help="SPEC files only: largest tensor (elements) a spec may create.",
        rich_help_panel=_SPEC)] = DEFAULT_MAX_ELEMENTS,
    json_out: Annotated[str | None, typer.Option(
        "--json", metavar="FILE|-", help="Also write the result as JSON to FILE, or only "
        "JSON to stdout with -.", show_default=False)] = None,
    plot: Annotated[Path | None, typer.Option(
        metavar="FILE.png", help="Write a digits map figure (needs gaussdiag[plot]).",
        show_default=False)] = None,
    fail_under: Annotated[float | None, typer.Option(
        metavar="DIGITS", help="SPEC files only: exit 1 when a quantity of a side keeps fewer "
        "than DIGITS digits in --dtype (a quantity with no finite value keeps none).",
        show_default=False, rich_help_panel=_SPEC)] = None,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show the traceback of an internal error.")] = False,
) -> int:
    """Check a low dtype against float64: is a huge gradient wrong or just huge, and which
    way of writing a distribution keeps more digits?

    With SPEC files: evaluate each side of each spec in --dtype and in float64 (log_prob and
    every gradient at the spec's point; the draws for rsample specs; the starting point for
    train specs), show per quantity how many digits each side keeps and which keeps more
    (tie within 0.3), the time and memory of each side's forward + backward, and a
    recommendation on accuracy and cost. The sweep options (--dist, --param, --point, the
    grids, --quick, --plot) do not apply. --json writes one object per spec (a list for
    several).

    Without SPEC: map where Normal or MultivariateNormal values and gradients are accurate,
    large but correct, inaccurate, overflow or undefined, over a grid or at one --point.

    Exit codes: 0 done; 1 with SPEC files, a side is invalid (breaks a constraint) or, with
    --fail-under DIGITS, some quantity keeps fewer digits; 2 a usage or spec error, or an
    absent device; 3 an internal error.
    """
    from rich.console import Console

    from gaussdiag import precision as pc
    from gaussdiag import report_precision as rp
    from gaussdiag.output import write_atomic

    given = [f"--{name.replace('_', '-')}" for name in ctx.params
             if (source := ctx.get_parameter_source(name)) is not None
             and source.name != "DEFAULT"]
    pc.check_form(bool(specs), given)
    if fail_under is not None and not specs:
        raise UsageError("--fail-under gates the sides of SPEC files; the built-in sweep maps "
                         "bad regions on purpose (give a SPEC file, or leave out --fail-under)")
    console = Console(highlight=False, width=_width())
    plain = not console.is_terminal or console.no_color
    if specs:
        return _precision_specs(specs, dtype, device, max_elements, json_out, console, plain,
                                fail_under)
    result: pc.NormalSweep | pc.MvnSweep | pc.PointResult
    pc.check_combination(dist, point is not None, plot is not None)
    if point is not None:
        result = pc.check_point(dtype, param, pc.parse_point(point, param))
        data, view = rp.point_json(result), rp.render_point(result, plain=plain)
    elif dist is SweepDist.MVN:
        cond = pc.make_axis("--cond", 1.0, cond_hi, cond_n or (9 if quick else 17))
        with rp.progress_bar(Console(stderr=True), cond.n * 3) as progress:
            result = pc.sweep_mvn(dtype, dim, cond, progress=progress)
        data, view = rp.mvn_json(result), rp.render_mvn(result, plain=plain)
    else:
        sig = pc.make_axis("--sigma", sigma_lo, sigma_hi, sigma_n or (9 if quick else 25))
        zax = pc.make_axis("--z", z_lo, z_hi, z_n or (9 if quick else 25), zero=True)
        with rp.progress_bar(Console(stderr=True), sig.n * (zax.n + 1)) as progress:
            result = pc.sweep_normal(dtype, param, sig, zax, progress=progress)
        data, view = rp.normal_json(result), rp.render_normal(result, plain=plain)
    if plot is not None and not isinstance(result, pc.PointResult):
        rp.write_plot(result, plot)
    if json_out == "-":
        sys.stdout.write(rp.dumps(data))
        return EXIT_OK
    if json_out is not None:
        write_atomic(Path(json_out), rp.dumps(data))
    print_report(console, view, soft_wrap=True)
    return EXIT_OK


def _width() -> int | None:
    """COLUMNS when set; else the terminal's, or 120 columns in a pipe (the maps are wide)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if sys.stdout.isatty() else 120


def fewest_digits(results: Sequence[SpecPrecision]) -> float:
    """The fewest digits any quantity of any side keeps in the low dtype; a quantity with no
    finite value (NaN digits) keeps none. Infinity when there is no quantity."""
    digits = [0.0 if math.isnan(q.digits) else q.digits
              for r in results for side in r.sides for q in side.quantities]
    return min(digits, default=math.inf)


def gate(results: Sequence[SpecPrecision], fail_under: float | None) -> int:
    """Exit 1 when a side is invalid, or keeps fewer than `fail_under` digits somewhere."""
    if any(side.failed_in is not None for r in results for side in r.sides):
        return EXIT_FAIL
    if fail_under is not None and fewest_digits(results) < fail_under:
        return EXIT_FAIL
    return EXIT_OK


def _precision_specs(specs: list[Path], dtype: DType, device: str | None, max_elements: int,
                     json_out: str | None, console: Any, plain: bool,
                     fail_under: float | None = None) -> int:
    """precision-check with SPEC files: load every spec first (a spec error answers before
    torch is imported), then check each, render, write the JSON."""
    from gaussdiag import precision as pc
    from gaussdiag import report_precision as rp
    from gaussdiag.output import write_atomic
    from gaussdiag.spec import load_spec

    pc.check_low_dtype(dtype)
    loaded = [load_spec(str(path), max_elements=max_elements) for path in specs]
    results = [pc.check_spec(spec, dtype, device=device, max_elements=max_elements)
               for spec in loaded]
    data = [rp.spec_json(r) for r in results]
    text = rp.dumps(data[0] if len(data) == 1 else data)
    code = gate(results, fail_under)
    if json_out == "-":
        sys.stdout.write(text)
        return code
    if json_out is not None:
        write_atomic(Path(json_out), text)
    for i, r in enumerate(results):
        if i:
            console.print()
        print_report(console, rp.render_spec(r, plain=plain), soft_wrap=True)
    if code != EXIT_OK:
        fewest = fewest_digits(results)
        typer.echo(f"precision-check failed: a side is invalid, or a quantity keeps "
                   f"{fewest:.1f} digits (--fail-under {fail_under})" if fail_under is not None
                   else "precision-check failed: a side is invalid", err=True)
    return code
