"""`gaussdiag precision-check`: a low dtype against float64, over a grid, at a point, or for
the two sides of spec files."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gaussdiag.cli import stops
from gaussdiag.cli.console import print_report, progress_line
from gaussdiag.cli.exits import EXIT_FAIL, EXIT_OK, EXIT_TIMED_OUT
from gaussdiag.cli.flags import THREADS_HELP, Quiet, Verbose, check_loudness
from gaussdiag.errors import UsageError
from gaussdiag.limits import DEFAULT_MAX_ELEMENTS
from gaussdiag.printable import printable
from gaussdiag.vocab import DType, ScaleParam, SweepDist

if TYPE_CHECKING:  # the precision core's results: imported inside the command
    from gaussdiag.precision import Gate

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
        help="Check one point instead of a grid, e.g. loc=0,scale=0.01,x=10 (sigma= is "
        "scale=; rho= or log_scale= instead of scale= with --param softplus or log).",
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
        metavar="FILE.png", help="Write a digits map figure (needs gaussdiag[plot]); with "
        "--point, the Normal map of the grid options with the point's cell marked.",
        show_default=False)] = None,
    fail_under: Annotated[float | None, typer.Option(
        metavar="DIGITS", help="SPEC files only: exit 1 when a quantity of a side keeps fewer "
        "than DIGITS digits in --dtype (a quantity with no finite value keeps none).",
        show_default=False, rich_help_panel=_SPEC)] = None,
    threads: Annotated[int | None, typer.Option(
        min=1, metavar="N", help="SPEC files only: " + THREADS_HELP, show_default=False,
        rich_help_panel=_SPEC)] = None,
    timeout: Annotated[float | None, typer.Option(
        min=0, metavar="SECONDS", show_default=False, rich_help_panel=_SPEC,
        help="SPEC files only: wall-clock bound on each spec's check [default: the spec's "
        "`timeout:`, else 300]; 0: none. A spec past it is left out of the report, named on "
        "stderr, and the exit code is 124.")] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
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
    grids, --quick, --plot) do not apply. --json writes {"format_version": 2, "specs":
    [...]}, one entry per spec (`gaussdiag schema --precision-report` is its JSON Schema).

    Without SPEC: map where Normal or MultivariateNormal values and gradients are accurate,
    large but correct, inaccurate, overflow or undefined, over a grid or at one --point.
    --json writes the map or the point as one object that starts with "format_version": 2
    (a map's per-cell grids: rows of digits rounded to 0.1, and strings of one class letter a
    cell, whose classes "class_key" names).

    Exit codes: 0 done; 1 with SPEC files, a side is invalid (breaks a constraint) or, with
    --fail-under DIGITS, some quantity keeps fewer digits; 2 a usage or spec error, or an
    absent device; 3 an internal error; 124 a spec ran past its --timeout; 130 Ctrl-C, 143
    SIGTERM.
    """
    from rich.console import Console

    from gaussdiag import precision as pc
    from gaussdiag.output import write_text
    from gaussdiag.report import plot as rplot
    from gaussdiag.report import precision_json as rj
    from gaussdiag.report import precision_text as rt
    from gaussdiag.torch_import import import_torch

    given = [f"--{name.replace('_', '-')}" for name in ctx.params
             if (source := ctx.get_parameter_source(name)) is not None
             and source.name != "DEFAULT"]
    if fail_under is not None and not specs:
        raise UsageError("--fail-under gates the sides of SPEC files; the built-in sweep maps "
                         "bad regions on purpose (give a SPEC file, or leave out --fail-under)")
    if fail_under is not None and not math.isfinite(fail_under):
        # no digit count is below nan or -inf, and every one is below inf: a gate that could
        # never fail (or always would) is a typo, not a setting
        raise UsageError(f"--fail-under takes a finite number of digits, such as 4; found "
                         f"{fail_under}")
    check_loudness(quiet, verbose)
    _check_form(bool(specs), given)
    console = Console(highlight=False, width=_width(), quiet=quiet)
    plain = not console.is_terminal or console.no_color
    # Ctrl-C in a sweep or a spec check: said on stderr, as `compare` says it (exit 130)
    try:
        with _precision_flags():
            if specs:
                return _precision_specs(specs, dtype, device, max_elements, json_out, console,
                                        timeout, plain, fail_under, verbose, threads)
            result: pc.NormalSweep | pc.MvnSweep | pc.PointResult
            drawn: pc.NormalSweep | pc.MvnSweep | None = None  # the map --plot draws
            _check_combination(dist, point is not None)
            import_torch()
            if point is not None:
                result = pc.check_point(dtype, param, pc.parse_point(point, param))
                if plot is not None:  # the map of the grid options, the point marked on it
                    sig = pc.make_axis("sigma", sigma_lo, sigma_hi, _count(sigma_n, quick, 25))
                    zax = pc.make_axis("z", z_lo, z_hi, _count(z_n, quick, 25), zero=True)
                    drawn = pc.sweep_normal(dtype, param, sig, zax)
            elif dist is SweepDist.MVN:
                cond = pc.make_axis("cond", 1.0, cond_hi, _count(cond_n, quick, 17))
                with rt.progress_bar(Console(stderr=True), cond.n * 3, verbose) as progress:
                    result = pc.sweep_mvn(dtype, dim, cond, progress=progress)
            else:
                sig = pc.make_axis("sigma", sigma_lo, sigma_hi, _count(sigma_n, quick, 25))
                zax = pc.make_axis("z", z_lo, z_hi, _count(z_n, quick, 25), zero=True)
                with rt.progress_bar(Console(stderr=True), sig.n * (zax.n + 1),
                                     verbose) as progress:
                    result = pc.sweep_normal(dtype, param, sig, zax, progress=progress)
            stops.results_ready()
    except KeyboardInterrupt:  # nothing to keep: a sweep cut short has no map
        typer.echo(stops.word(), err=True)
        return stops.exit_code()
    stops.results_ready()  # a stop from here on waits until the map is written
    if plot is not None:
        if isinstance(result, pc.PointResult):
            assert drawn is not None
            rplot.write_plot(drawn, plot, result)
        else:
            rplot.write_plot(result, plot)
    if json_out is not None:  # built only when asked for: one Python object per cell
        write_text(json_out, rj.sweep_text(result))
    if json_out != "-":
        print_report(console, _view(result, plain))
    return _stopped_meanwhile(EXIT_OK)


def _view(result: Any, plain: bool) -> Any:
    """The table or map of a sweep or point result."""
    from gaussdiag import precision as pc
    from gaussdiag.report import precision_text as rt

    if isinstance(result, pc.PointResult):
        return rt.render_point(result, plain=plain)
    if isinstance(result, pc.MvnSweep):
        return rt.render_mvn(result, plain=plain)
    return rt.render_normal(result, plain=plain)


def _count(given: int | None, quick: bool, default: int) -> int:
    """An axis's number of points: the one given (0 included, refused by the axis like any
    other count below 2), else the default or --quick's."""
    if given is not None:
        return given
    return 9 if quick else default


def _stopped_meanwhile(code: int) -> int:
    """`code`, unless a stop signal came while the results were written: then the run ends
    as stopped, with the results complete."""
    if stops.waited():
        typer.echo(stops.word(), err=True)
        return stops.exit_code()
    return code


def _width() -> int | None:
    """COLUMNS when set; else the terminal's, or 120 columns in a pipe (the maps are wide)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if sys.stdout.isatty() else 120


@contextmanager
def _precision_flags() -> Iterator[None]:
    """Reword the precision core's input errors (which name its inputs: `sigma_lo`, `point`)
    with the options that set them (`--sigma-lo`, `--point`)."""
    from gaussdiag.precision import InputError

    try:
        yield
    except InputError as err:
        raise UsageError(err.worded(lambda name: "--" + name.replace("_", "-"))) from None


_SWEEP_OPTIONS = ("--dist", "--param", "--point", "--sigma-lo", "--sigma-hi", "--sigma-n",
                  "--z-lo", "--z-hi", "--z-n", "--dim", "--cond-hi", "--cond-n", "--quick",
                  "--plot")
"""Options that shape the built-in sweeps and mean nothing for a spec."""

_SPEC_OPTIONS = ("--device", "--max-elements", "--threads", "--timeout")
"""Options that apply to SPEC files only (the sweeps run on the CPU with fixed sizes);
--fail-under is refused on its own, with its own reason."""


def _check_form(with_specs: bool, given: list[str]) -> None:
    """Reject options of the other form of `precision-check` (`given`: the options the user
    typed) instead of silently ignoring them."""
    bad = [o for o in (_SWEEP_OPTIONS if with_specs else _SPEC_OPTIONS) if o in given]
    if bad and with_specs:
        raise UsageError(f"{', '.join(bad)} {'shapes' if len(bad) == 1 else 'shape'} the "
                         "built-in sweep; with SPEC files precision-check compares the "
                         f"spec's two sides instead: leave out {', '.join(bad)}")
    if bad:
        raise UsageError(f"{', '.join(bad)} {'applies' if len(bad) == 1 else 'apply'} to SPEC "
                         "files; the built-in sweep runs on the CPU (give a SPEC file, or leave "
                         f"out {', '.join(bad)})")


def _check_combination(dist: SweepDist, point: bool) -> None:
    """Reject option combinations that would silently ignore one of the options."""
    if point and dist is not SweepDist.NORMAL:
        raise UsageError(f"--point checks a Normal point; it does not combine with --dist "
                         f"{dist.value} (leave out --point for the {dist.value} sweep)")


def _precision_specs(specs: list[Path], dtype: DType, device: str | None, max_elements: int,
                     json_out: str | None, console: Any, timeout: float | None, plain: bool,
                     fail_under: float | None = None, verbose: bool = False,
                     threads: int | None = None) -> int:
    """precision-check with SPEC files: load every spec first (a spec error answers before
    torch is imported), then check each within its wall-clock bound, render, write the JSON,
    apply the gate."""
    from gaussdiag import precision as pc
    from gaussdiag.deadline import TimedOut, deadline
    from gaussdiag.frontends.yaml.run import bind
    from gaussdiag.frontends.yaml.spec import load_spec
    from gaussdiag.limits import DEFAULT_TIMEOUT
    from gaussdiag.output import write_text
    from gaussdiag.pipeline import Options
    from gaussdiag.report import precision_json as rj
    from gaussdiag.report import precision_text as rt
    from gaussdiag.torch_import import import_torch

    pc.check_low_dtype(dtype)
    loaded = [load_spec(str(path), max_elements=max_elements) for path in specs]
    for spec in loaded:
        if spec.spec.single:  # a side alone is checked under switches, by compare
            raise spec.error(("a",), "precision-check compares two sides, and this spec "
                             "writes side a alone: add side b, or check a's switches with "
                             "`gaussdiag compare`")
    options = Options(device=device, max_elements=max_elements,
                      timeout=None if timeout is None else timeout or math.inf,
                      default_timeout=DEFAULT_TIMEOUT)
    # torch's import is no spec's time; and a bound landing inside it would leave torch half
    # imported for every later spec ("partially initialized module 'torch'")
    import_torch()
    results, late = [], []  # late: (file, bound in seconds, where the bound came from)
    with progress_line(console, verbose) as progress:
        for spec in loaded:
            seconds, source = options.bound(spec.spec.timeout)
            try:
                with deadline(seconds):
                    results.append(pc.check_spec(bind(spec, options), dtype, threads=threads,
                                                 progress=progress))
            except TimedOut as stop:
                late.append((spec.file, stop.seconds, source))
        stops.results_ready()
    stops.results_ready()
    if json_out is not None:
        write_text(json_out, rj.dumps(rj.specs_json(results, late)))
    if json_out != "-":
        for i, r in enumerate(results):
            if i:
                console.print()
            print_report(console, rt.render_spec(r, plain=plain))
    for file, seconds, source in late:
        line = f"{file}: ran past its bound of {seconds:g} s ({source}); left out of the report"
        typer.echo(f"precision-check timed out: {printable(line)}", err=True)
    verdict = pc.gate(results)
    if not verdict.fails(fail_under):
        return _stopped_meanwhile(EXIT_TIMED_OUT if late else EXIT_OK)
    for line in _gate_failures(verdict, dtype, fail_under):
        typer.echo(f"precision-check failed: {printable(line)}", err=True)
    return _stopped_meanwhile(EXIT_TIMED_OUT if late else EXIT_FAIL)


def _gate_failures(verdict: Gate, dtype: DType, fail_under: float | None) -> list[str]:
    """Why the gate failed, one line per reason, each naming where."""
    lines = [f"{where} is invalid (it breaks a constraint)" for where in verdict.invalid]
    if (fail_under is not None and verdict.fewest is not None
            and verdict.fewest < fail_under):
        lines.append(f"{verdict.where} keeps {verdict.fewest:.1f} digits in {dtype.value} "
                     f"(--fail-under {fail_under:g})")
    return lines
