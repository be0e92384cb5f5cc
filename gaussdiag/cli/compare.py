"""`gaussdiag compare`: diagnose spec files and report in the format asked for."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gaussdiag.cli import stops
from gaussdiag.cli.console import make_console, print_report, progress_line
from gaussdiag.cli.exits import EXIT_FAIL, EXIT_OK, EXIT_TIMED_OUT, EXIT_USAGE
from gaussdiag.cli.flags import Quiet, Threads, Verbose, check_loudness
from gaussdiag.cli.inputs import STDIN, expand, interactive
from gaussdiag.cli.user_output import user_output_to_stderr
from gaussdiag.errors import GaussdiagError
from gaussdiag.limits import DEFAULT_MAX_ELEMENTS, DEFAULT_TIMEOUT
from gaussdiag.printable import printable
from gaussdiag.vocab import OutputFormat

if TYPE_CHECKING:  # the pipeline pulls in pydantic: imported inside the commands that run it
    from gaussdiag.pipeline import Options
    from gaussdiag.results import SpecReport


def compare(
    specs: Annotated[
        list[Path] | None,
        typer.Argument(help="Spec files (YAML, spec-v1), folders (searched recursively for "
                       "*.yaml and *.yml, in sorted order; never for .py files) or - (one "
                       "spec from stdin). A .py file named here is a pairs file: its "
                       "module-level gaussdiag.Pair objects are diagnosed (trusted code: the "
                       "file is imported and run). None: on a terminal, run the built-in "
                       "demo; elsewhere (CI set, or not a terminal) exit 2 unless --demo.",
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
        typer.Option(min=1, help="Largest tensor (elements) a YAML spec may create. Before "
                     "anything is allocated, the whole computation is checked on torch's meta "
                     "device: every tensor within this, those alive at once within 4x, and the "
                     "work within a budget that scales with it; a spec over a bound is an "
                     "error (exit 2) at its key. Python pairs are not checked."),
    ] = DEFAULT_MAX_ELEMENTS,
    switch: Annotated[
        list[str] | None,
        typer.Option("--switch", metavar="SWITCH", help="Also check each side run with this "
                     "switch against itself without it, after the pair's own diagnosis "
                     "(repeatable): compile, compile:BACKEND, device:cuda, device:cuda:N, "
                     "device:mps, tf32, autocast:bfloat16, autocast:float16. With a switch, a "
                     "spec or Pair may have side a alone.", show_default=False),
    ] = None,
    skip_absent_devices: Annotated[
        bool,
        typer.Option(help="Skip (and report) specs whose sides are pinned to an absent device, "
                     "and switch checks whose device is absent, instead of failing with "
                     "exit 2."),
    ] = False,
    repro_dir: Annotated[
        str | None,
        typer.Option(metavar="DIR", show_default=False,
                     help="Where a compile check that finds a change of the math writes its "
                     "reproducer script (made if missing) [default: a new temporary folder "
                     "each time]."),
    ] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", help="How to print the report: " + "; ".join(
            f"{f.value} ({f.help})" for f in OutputFormat) + "."),
    ] = OutputFormat.TABLE,
    no_timings: Annotated[
        bool,
        typer.Option("--no-timings", help="Leave the measured times and memory out of the "
                     "JSON report, so the same specs give the same bytes on every run."),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(min=0, metavar="SECONDS", show_default=False,
                     help="Wall-clock bound on each spec and each Python Pair [default: the "
                     "spec's `timeout:`, else 300]; 0: none. Given here, it overrides every "
                     "spec's `timeout:`. A spec past it is reported as timed out, with what had "
                     "finished; the others still run, and the exit code is 124."),
    ] = None,
    threads: Threads = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    demo: Annotated[bool, typer.Option(
        "--demo", help="Run the built-in demo (the std-vs-variance thread) anywhere, also "
        "outside a terminal; give no spec files with it.")] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks of internal errors.")] = False,
) -> int:
    """Build both sides of each spec in float32 and float64, run log_prob and backward, and say
    whether their differences are a parameterization bug, a mismatch or round-off.

    With $GITHUB_STEP_SUMMARY set, the markdown report is also appended to it, whatever
    --format is.

    Exit codes: 0 every verdict acceptable (equal to `expect:`, or agree/round-off when there is
    none), switch checks' included; 1 some verdict is not; 2 a spec or usage error, an absent
    device (a switch's too), or no spec given outside a terminal; 3 an internal error; 124
    some spec ran past its --timeout (and none had an error); 130 Ctrl-C, 143 SIGTERM (the
    specs that finished are still reported, the others listed as not run).
    """
    del debug  # read by main() before parsing, so it also covers errors in parsing
    from gaussdiag.errors import UsageError
    from gaussdiag.pipeline import Options

    if json_out == "-" and output_format not in (OutputFormat.TABLE, OutputFormat.JSON):
        raise UsageError(f"--json - and --format {output_format.value} both print to stdout: "
                         "give --json a file name, or use --format json")
    check_loudness(quiet, verbose)
    if demo and specs:
        raise UsageError("--demo runs the built-in demo alone: give no spec files with it")
    paths = expand(specs or [])
    if not specs and not demo and not interactive():
        raise UsageError("no spec files given: pass spec files or folders (without them the "
                         "built-in demo runs only on a terminal, so that a CI step never passes "
                         "on nothing; `gaussdiag compare --demo` runs it anywhere)")
    fmt = OutputFormat.JSON if json_out == "-" else output_format
    folder = None if repro_dir is None else _repro_dir(repro_dir)
    options = Options(device=device, max_elements=max_elements,
                      skip_absent_devices=skip_absent_devices, threads=threads,
                      switches=_switches(switch),
                      timeout=None if timeout is None else timeout or math.inf,
                      default_timeout=DEFAULT_TIMEOUT, repro_dir=folder)
    console = make_console(stderr=fmt is not OutputFormat.TABLE)
    # a pairs file's own prints must not land in the report (`--json -` would not parse)
    with user_output_to_stderr(any(p.endswith(".py") for p in paths)) as reporting:
        reports, stopped = _run_all(paths, options, console, verbose, asked_for_demo=demo)
        reporting()
        return _finish_compare(reports, options, None if json_out == "-" else json_out,
                               console, fmt, timings=not no_timings, quiet=quiet,
                               stopped=stopped)


def _switches(names: list[str] | None) -> tuple[Any, ...]:
    """`--switch` values, checked (a UsageError names the bad one)."""
    from gaussdiag.engine.switch import SwitchNameError, merge, parse_switch
    from gaussdiag.errors import UsageError

    try:
        return merge(parse_switch(n) for n in names or [])
    except SwitchNameError as err:
        raise UsageError(f"--switch: {err}") from None


def _run_all(paths: list[str], options: Options, console: Any, verbose: bool, *,
             asked_for_demo: bool = False) -> tuple[list[SpecReport], bool]:
    """Diagnose every input in order (the demo when there is none); on Ctrl-C (or SIGTERM),
    keep what finished and list the rest as not run. Also says whether a stop came."""
    from gaussdiag.frontends.yaml.run import demo_spec, diagnose
    from gaussdiag.results import SpecReport

    reports: list[SpecReport] = []
    current, started = "", 0  # started: how many of `paths` began (a pairs file gives many)
    running = stopped = False  # a spec under way (a stop between specs cuts none short)
    try:  # around the progress line too: a stop as it closes keeps what finished
        with progress_line(console, verbose) as progress:
            if not paths:
                loaded = demo_spec()
                # --demo asked for it; a bare `compare` on a terminal says why it runs
                why = "" if asked_for_demo else "no spec files given: "
                typer.echo(f"{why}running the built-in demo ({printable(loaded.file)}); pass "
                           "spec files to check your own", err=True)
                current, running = loaded.file, True
                reports.append(diagnose(loaded, options, progress))
                running = False
            for path in paths:
                current, started, running = path, started + 1, True
                reports += _diagnose_input(path, options, progress)
                running = False
                if reports[-1].interrupted:  # Ctrl-C during training: stop here too
                    break
            stops.results_ready()
    except KeyboardInterrupt:
        stops.results_ready()
        stopped = True
        if running:
            reports.append(SpecReport(file=current, name=Path(current).stem, verdict=None,
                                      expect=None, ok=False, interrupted=True,
                                      skipped=f"{stops.how()} before it finished"))
    reports += [SpecReport(file=p, name=Path(p).stem, verdict=None, expect=None, ok=False,
                           not_run=True) for p in paths[started:]]
    return reports, stopped


def _diagnose_input(path: str, options: Options, progress: Any) -> list[SpecReport]:
    """The reports of one input: a spec file, stdin, or a Python pairs file (one per Pair)."""
    from gaussdiag.frontends.yaml.run import diagnose_file

    if path == STDIN:
        return [_stdin_report(options, progress)]
    if path.endswith(".py"):
        from gaussdiag.frontends.python.pair import diagnose_pairs_file

        return diagnose_pairs_file(path, options, progress)
    return [diagnose_file(path, options, progress)]


def _stdin_report(options: Options, progress: Any) -> SpecReport:
    """One spec read from standard input, named `<stdin>` in messages."""
    from gaussdiag.errors import SpecError
    from gaussdiag.frontends.yaml.run import diagnose
    from gaussdiag.frontends.yaml.spec import load_spec_text
    from gaussdiag.pipeline import located
    from gaussdiag.results import SpecReport

    file = "<stdin>"
    try:
        loaded = load_spec_text(sys.stdin.read(), file, max_elements=options.max_elements,
                                switched=bool(options.switches))
    except SpecError as err:
        return SpecReport(file=file, name="", verdict=None, expect=None, ok=False,
                          error=str(err), error_at=located(err, file))
    return diagnose(loaded, options, progress)


def _finish_compare(reports: list[SpecReport], options: Options, json_out: str | None,
                    console: Any, fmt: OutputFormat = OutputFormat.TABLE, *,
                    timings: bool = True, quiet: bool = False, stopped: bool = False) -> int:
    """Render in `fmt`, write the JSON file and the step summary, pick the exit code (a stop
    signal that came meanwhile, `stopped` or while writing, ends the run as stopped). Imports
    torch only if a spec ran."""
    from gaussdiag.output import write_text
    from gaussdiag.report import render, render_json, render_markdown, render_run
    from gaussdiag.report.status import failure_line
    from gaussdiag.results import RunReport

    run = RunReport(tuple(reports), **_environment(options.device or "cpu"))
    if not quiet:
        view = render(run, fmt, timings=timings)
        if isinstance(view, str):  # plain text formats, never parsed as rich markup
            sys.stdout.write(view)
            sys.stdout.flush()
        else:
            print_report(console, view)
        if fmt is OutputFormat.GITHUB:  # the log shows the report below the annotations
            print_report(make_console(plain=True), render_run(run))
    for r in reports:
        if r.error:
            for line in r.error.splitlines():  # a spec error: one line per problem
                typer.echo(f"error: {printable(line)}", err=True)
        elif quiet and not r.ok:  # no report: say which spec failed the gate, and why
            typer.echo(failure_line(r), err=True)
    if json_out is not None:
        write_text(json_out, render_json(run, timings=timings))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        append_summary(summary, render_markdown(run))
    if run.interrupted or stopped or stops.waited():
        typer.echo(stops.word(), err=True)
        return stops.exit_code()
    if any(r.error for r in reports):
        return EXIT_USAGE
    if run.timed_out:
        return EXIT_TIMED_OUT
    return EXIT_OK if run.ok else EXIT_FAIL


def append_summary(path: str, markdown: str) -> None:
    """Append to the job summary file GitHub Actions names in $GITHUB_STEP_SUMMARY (other
    steps write to it too, so never replace it)."""
    from gaussdiag.errors import UsageError

    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(markdown + "\n")
    except OSError as err:
        raise UsageError(f"cannot append to $GITHUB_STEP_SUMMARY ({path}): "
                         f"{err.strerror}") from None


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
    from gaussdiag.engine.device import resolve_device

    try:
        device = str(resolve_device(requested))
    except GaussdiagError:
        device = requested
    tf32 = bool(torch.backends.cuda.matmul.allow_tf32) if device.startswith("cuda") else None
    return {"torch_version": torch.__version__, "device": device, "tf32": tf32}


def _repro_dir(path: str) -> str:
    from gaussdiag.engine.reproducer import repro_folder
    from gaussdiag.errors import GaussdiagError, UsageError

    try:
        return repro_folder(path, "--repro-dir")
    except GaussdiagError as err:
        raise UsageError(str(err)) from None
