"""The command line: a thin leaf over the pipeline. Parse, call the core, render, return a code.

Exit codes (spec-v1): 0 all verdicts acceptable, 1 some verdict not, 2 usage or spec error,
3 internal error (traceback only with --debug), 130 interrupted.
torch is imported only inside command bodies, so `--help` and spec errors answer at once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gaussdiag import __version__
from gaussdiag.errors import GaussdiagError
from gaussdiag.limits import DEFAULT_MAX_ELEMENTS
from gaussdiag.vocab import OutputFormat

if TYPE_CHECKING:  # the pipeline pulls in pydantic: imported inside the commands that run it
    from gaussdiag.pipeline import Options
    from gaussdiag.results import SpecReport

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

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


# ---- compare ------------------------------------------------------------------------------


@app.command()
def compare(
    specs: Annotated[
        list[Path] | None,
        typer.Argument(help="Spec files (YAML, spec-v1), or Python files whose module-level "
                       "gaussdiag.Pair objects are diagnosed (trusted code: the file is "
                       "imported and run). None: run the built-in demo "
                       "(MultivariateNormal with a std passed as a covariance vs Normal).",
                       show_default=False),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(help="cpu, cuda, cuda:N, mps or auto (cuda if present). Overrides the "
                     "spec's device; sides pinned with their own `device:` stay where they are."),
    ] = None,
    json_out: Annotated[
        str | None,
        typer.Option("--json", metavar="FILE", help="Also write the JSON report to FILE "
                     "('-': print only the JSON, to stdout)."),
    ] = None,
    max_elements: Annotated[
        int,
        typer.Option(min=1, help="Largest tensor (elements) a spec may create."),
    ] = DEFAULT_MAX_ELEMENTS,
    skip_absent_devices: Annotated[
        bool,
        typer.Option(help="Skip (and report) specs whose sides are pinned to an absent device, "
                     "instead of failing with exit 2."),
    ] = False,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", help="How to print the report: table (terminal), json, "
                     "markdown (e.g. >> $GITHUB_STEP_SUMMARY) or github (workflow commands "
                     "that annotate the spec files in a GitHub Actions run)."),
    ] = OutputFormat.TABLE,
    no_timings: Annotated[
        bool,
        typer.Option("--no-timings", help="Leave the measured times and memory out of the "
                     "JSON report, so the same specs give the same bytes on every run."),
    ] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks of internal errors.")] = False,
) -> int:
    """Build both sides of each spec in float32 and float64, run log_prob and backward, and say
    whether their differences are a parameterization bug, a mismatch or round-off.

    Exit codes: 0 every verdict acceptable (equal to `expect:`, or agree/round-off when there is
    none); 1 some verdict is not; 2 a spec or usage error; 3 an internal error; 130 Ctrl-C
    (the specs that finished are still reported).
    """
    del debug  # read by main() before parsing, so it also covers errors in parsing
    from gaussdiag.errors import UsageError
    from gaussdiag.pipeline import Options, demo_spec, diagnose, diagnose_file
    from gaussdiag.results import SpecReport

    if json_out == "-" and output_format not in (OutputFormat.TABLE, OutputFormat.JSON):
        raise UsageError(f"--json - and --format {output_format.value} both print to stdout: "
                         "give --json a file name, or use --format json")
    fmt = OutputFormat.JSON if json_out == "-" else output_format
    options = Options(device=device, max_elements=max_elements,
                      skip_absent_devices=skip_absent_devices)
    console = _console(stderr=fmt is not OutputFormat.TABLE)
    reports: list[SpecReport] = []
    current = ""
    with _progress(console) as progress:
        try:
            if not specs:
                loaded = demo_spec()
                current = loaded.file
                reports.append(diagnose(loaded, options, progress))
            for path in specs or []:
                current = str(path)
                if current.endswith(".py"):
                    from gaussdiag.live.pair import diagnose_pairs_file

                    reports.extend(diagnose_pairs_file(current, options, progress))
                    continue
                reports.append(diagnose_file(current, options, progress))
                if reports[-1].interrupted:  # Ctrl-C during training: stop here too
                    break
        except KeyboardInterrupt:
            reports.append(SpecReport(file=current, name=Path(current).stem, verdict=None,
                                      expect=None, ok=False, interrupted=True,
                                      skipped="interrupted with Ctrl-C before it finished"))
    return _finish_compare(reports, options, None if json_out == "-" else json_out, console,
                           fmt, timings=not no_timings)


def _finish_compare(reports: list[SpecReport], options: Options, json_out: str | None,
                    console: Any, fmt: OutputFormat = OutputFormat.TABLE, *,
                    timings: bool = True) -> int:
    """Render in `fmt`, write the JSON file, pick the exit code. Imports torch only if a spec
    ran."""
    from gaussdiag.output import write_text
    from gaussdiag.report import render, render_json
    from gaussdiag.results import RunReport

    run = RunReport(tuple(reports), **_environment(options.device or "cpu"))
    view = render(run, fmt, timings=timings)
    if isinstance(view, str):  # plain text formats, never parsed as rich markup
        sys.stdout.write(view)
        sys.stdout.flush()
    else:
        console.print(view)
    for r in reports:
        if r.error:
            for line in r.error.splitlines():  # a spec error: one line per problem
                typer.echo(f"error: {line}", err=True)
    if json_out is not None:
        write_text(json_out, render_json(run, timings=timings))
    if any(r.interrupted for r in reports):
        typer.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    if any(r.error for r in reports):
        return EXIT_USAGE
    return EXIT_OK if run.ok else EXIT_FAIL


def _environment(requested: str) -> dict[str, Any]:
    """torch version, device and TF32 for the header, without importing torch when no spec
    got as far as needing it (spec errors must answer at once)."""
    torch = sys.modules.get("torch")
    if torch is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return {"torch_version": version("torch"), "device": requested}
        except PackageNotFoundError:
            return {"torch_version": "not installed", "device": requested}
    from gaussdiag.build import resolve_device

    try:
        device = str(resolve_device(requested))
    except GaussdiagError:
        device = requested
    tf32 = bool(torch.backends.cuda.matmul.allow_tf32) if device.startswith("cuda") else None
    return {"torch_version": torch.__version__, "device": device, "tf32": tf32}


# ---- end compare --------------------------------------------------------------------------

# ---- precision-check ----------------------------------------------------------------------
from gaussdiag.vocab import DType, ScaleParam, SweepDist  # noqa: E402

_GRID = "Grid"
_MVN = "MultivariateNormal (--dist mvn)"
_SPEC = "SPEC files"


@app.command("precision-check")
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
    grids, --quick, --plot) do not apply. --json writes {"format_version": 1, "specs":
    [...]}, one entry per spec.

    Without SPEC: map where Normal or MultivariateNormal values and gradients are accurate,
    large but correct, inaccurate, overflow or undefined, over a grid or at one --point.

    Exit codes: 0 done; 2 a usage or spec error, or an absent device; 3 an internal error.
    """
    from rich.console import Console

    from gaussdiag import precision as pc
    from gaussdiag.output import write_atomic
    from gaussdiag.report import plot as rplot
    from gaussdiag.report import precision_json as rj
    from gaussdiag.report import precision_text as rt

    given = [f"--{name.replace('_', '-')}" for name in ctx.params
             if (source := ctx.get_parameter_source(name)) is not None
             and source.name != "DEFAULT"]
    _check_form(bool(specs), given)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    plain = not console.is_terminal or console.no_color
    with _precision_flags():
        if specs:
            return _precision_specs(specs, dtype, device, max_elements, json_out, console,
                                    plain)
        result: pc.NormalSweep | pc.MvnSweep | pc.PointResult
        _check_combination(dist, point is not None, plot is not None)
        if point is not None:
            result = pc.check_point(dtype, param, pc.parse_point(point, param))
            view = rt.render_point(result, plain=plain)
        elif dist is SweepDist.MVN:
            cond = pc.make_axis("cond", 1.0, cond_hi, cond_n or (9 if quick else 17))
            with rt.progress_bar(Console(stderr=True), cond.n * 3) as progress:
                result = pc.sweep_mvn(dtype, dim, cond, progress=progress)
            view = rt.render_mvn(result, plain=plain)
        else:
            sig = pc.make_axis("sigma", sigma_lo, sigma_hi, sigma_n or (9 if quick else 25))
            zax = pc.make_axis("z", z_lo, z_hi, z_n or (9 if quick else 25), zero=True)
            with rt.progress_bar(Console(stderr=True), sig.n * (zax.n + 1)) as progress:
                result = pc.sweep_normal(dtype, param, sig, zax, progress=progress)
            view = rt.render_normal(result, plain=plain)
    if plot is not None and not isinstance(result, pc.PointResult):
        rplot.write_plot(result, plot)
    if json_out is not None:  # built only when asked for: one Python object per cell
        text = rj.dumps(rj.sweep_json(result))
        if json_out == "-":
            sys.stdout.write(text)
            return EXIT_OK
        write_atomic(Path(json_out), text)
    console.print(view, soft_wrap=True)
    return EXIT_OK


@contextmanager
def _precision_flags() -> Iterator[None]:
    """Reword the precision core's input errors (which name its inputs: `sigma_lo`, `point`)
    with the options that set them (`--sigma-lo`, `--point`)."""
    from gaussdiag.errors import UsageError
    from gaussdiag.precision import InputError

    try:
        yield
    except InputError as err:
        raise UsageError(err.worded(lambda name: "--" + name.replace("_", "-"))) from None


_SWEEP_OPTIONS = ("--dist", "--param", "--point", "--sigma-lo", "--sigma-hi", "--sigma-n",
                  "--z-lo", "--z-hi", "--z-n", "--dim", "--cond-hi", "--cond-n", "--quick",
                  "--plot")
"""Options that shape the built-in sweeps and mean nothing for a spec."""

_SPEC_OPTIONS = ("--device", "--max-elements")
"""Options that apply to SPEC files only (the sweeps run on the CPU with fixed sizes)."""


def _check_form(with_specs: bool, given: list[str]) -> None:
    """Reject options of the other form of `precision-check` (`given`: the options the user
    typed) instead of silently ignoring them."""
    from gaussdiag.errors import UsageError

    bad = [o for o in (_SWEEP_OPTIONS if with_specs else _SPEC_OPTIONS) if o in given]
    if bad and with_specs:
        raise UsageError(f"{', '.join(bad)} {'shapes' if len(bad) == 1 else 'shape'} the "
                         "built-in sweep; with SPEC files precision-check compares the "
                         f"spec's two sides instead: leave out {', '.join(bad)}")
    if bad:
        raise UsageError(f"{', '.join(bad)} {'applies' if len(bad) == 1 else 'apply'} to SPEC "
                         "files; the built-in sweep runs on the CPU (give a SPEC file, or leave "
                         f"out {', '.join(bad)})")


def _check_combination(dist: SweepDist, point: bool, plot: bool) -> None:
    """Reject option combinations that would silently ignore one of the options."""
    from gaussdiag.errors import UsageError

    if point and dist is not SweepDist.NORMAL:
        raise UsageError(f"--point checks a Normal point; it does not combine with --dist "
                         f"{dist.value} (leave out --point for the {dist.value} sweep)")
    if point and plot:
        raise UsageError("--plot draws a map of a sweep; leave it out with --point")


def _precision_specs(specs: list[Path], dtype: DType, device: str | None, max_elements: int,
                     json_out: str | None, console: Any, plain: bool) -> int:
    """precision-check with SPEC files: load every spec first (a spec error answers before
    torch is imported), then check each, render, write the JSON."""
    from gaussdiag import precision as pc
    from gaussdiag.output import write_atomic
    from gaussdiag.report import precision_json as rj
    from gaussdiag.report import precision_text as rt
    from gaussdiag.spec import load_spec

    pc.check_low_dtype(dtype)
    loaded = [load_spec(str(path), max_elements=max_elements) for path in specs]
    results = [pc.check_spec(spec, dtype, device=device, max_elements=max_elements)
               for spec in loaded]
    text = rj.dumps(rj.specs_json(results))
    if json_out == "-":
        sys.stdout.write(text)
        return EXIT_OK
    if json_out is not None:
        write_atomic(Path(json_out), text)
    for i, r in enumerate(results):
        if i:
            console.print()
        console.print(rt.render_spec(r, plain=plain), soft_wrap=True)
    return EXIT_OK


# ---- end precision-check ------------------------------------------------------------------

# ---- schema and init ----------------------------------------------------------------------


@app.command()
def schema() -> int:
    """Print the JSON Schema of the spec format (for editors and linters), e.g.
    `gaussdiag schema > gaussdiag.schema.json`."""
    import json

    from gaussdiag.spec.schema import spec_schema

    sys.stdout.write(json.dumps(spec_schema(), indent=2) + "\n")
    return EXIT_OK


@app.command()
def init(
    name: Annotated[str, typer.Argument(
        help="File to write: NAME as given, NAME.yaml when it has no suffix, - for stdout.",
        show_default=False)],
) -> int:
    """Write a commented starter spec that runs as is: `gaussdiag init my_spec`, then
    `gaussdiag compare my_spec.yaml`. Never overwrites a file (exit 2)."""
    from gaussdiag.spec.starter import write_starter

    target = write_starter(name)
    if target != "-":
        typer.echo(f"wrote {target}: edit its sides, then run `gaussdiag compare {target}`",
                   err=True)
    return EXIT_OK


# ---- end schema and init ------------------------------------------------------------------


def _console(stderr: bool = False) -> Any:
    """A rich console: colour only on a terminal and without NO_COLOR (rich reads both)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


@contextmanager
def _progress(console: Any) -> Iterator[Callable[[str], None] | None]:
    """A one-line status on a terminal; nothing in CI logs or pipes."""
    if not console.is_terminal:
        yield None
        return
    with console.status("starting") as status:
        yield lambda msg: status.update(msg)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code: the one error boundary."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    from gaussdiag.output import guarded_stdout

    try:
        with guarded_stdout():  # `> /dev/full`, a closed pipe: one error line, exit 2
            result = app(args=argv, standalone_mode=False, prog_name="gaussdiag")
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except GaussdiagError as exc:
        for line in str(exc).splitlines():  # a spec error: one line per problem
            typer.echo(f"error: {line}", err=True)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        typer.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the boundary turns bugs into exit 3
        # Usage errors from the argument parser (typer vendors click, so match the interface
        # rather than a class from one import path): they show themselves, exit 2.
        exit_code = getattr(exc, "exit_code", None)
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(exit_code, int):
            show()
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
