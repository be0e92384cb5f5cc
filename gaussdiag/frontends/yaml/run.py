"""A YAML spec file to its report: load (no torch), bind to torch (`BoundSpec`), then the
coordinator (`gaussdiag.pipeline.diagnose_problem`). Spec problems become error reports;
the built-in demo is here too.

Returns frozen results; never prints.
"""

from __future__ import annotations

import time
from dataclasses import replace
from importlib import resources
from typing import TYPE_CHECKING

from gaussdiag.engine.switch import SwitchPlan, expectations, merge, parse_switch
from gaussdiag.errors import DeviceError, GaussdiagError, SpecError
from gaussdiag.frontends.yaml.spec import LoadedSpec, load_spec, load_spec_text
from gaussdiag.pipeline import Options, Progress, located
from gaussdiag.results import SpecReport
from gaussdiag.vocab import SideName, Verdict

if TYPE_CHECKING:
    from gaussdiag.frontends.yaml.bind import BoundSpec

DEMO_NAME = "mvn_diag_vs_normal.yaml"


def demo_spec() -> LoadedSpec:
    """The built-in default: the std-vs-variance thread (`gaussdiag compare` with no file)."""
    text = resources.files("gaussdiag").joinpath("data", DEMO_NAME).read_text("utf-8")
    return load_spec_text(text, f"<built-in demo: {DEMO_NAME}>")


def diagnose_file(path: str, options: Options, progress: Progress | None = None) -> SpecReport:
    """Diagnose one spec file; a spec that cannot be read becomes a report with `error` set."""
    try:
        loaded = load_spec(path, max_elements=options.max_elements,
                           switched=bool(options.switches))
    except SpecError as err:
        return SpecReport(file=path, name="", verdict=None, expect=None, ok=False,
                          error=str(err), error_at=located(err, path))
    return diagnose(loaded, options, progress)


def diagnose(loaded: LoadedSpec, options: Options, progress: Progress | None = None
             ) -> SpecReport:
    """Diagnose a loaded spec within its wall-clock bound (`Options.bound`): past it, a
    `timed_out` report that says what had finished."""
    from gaussdiag.deadline import Stages, TimedOut, deadline, timed_out_report
    from gaussdiag.torch_import import import_torch

    import_torch()  # not the spec's time: the first spec would pay for it
    seconds, source = options.bound(loaded.spec.timeout)
    stages = Stages(progress, loaded.spec.name)
    try:
        with deadline(seconds):
            return _diagnose_loaded(loaded, options, stages)
    except TimedOut as stop:
        return timed_out_report(file=loaded.file, name=loaded.spec.name,
                                expect=loaded.spec.pair_expect, seconds=stop.seconds,
                                source=source,
                                stages=stages, line=_line(loaded))


def _line(loaded: LoadedSpec) -> int | None:
    """The line annotations point at: `expect:`, else `a:`."""
    return loaded.line_of(("expect",)) or loaded.line_of(("a",))


def _diagnose_loaded(loaded: LoadedSpec, options: Options, progress: Progress | None
                     ) -> SpecReport:
    """Diagnose a loaded spec. Spec problems found while building become `error` reports;
    an absent pinned device becomes `skipped` with --skip-absent-devices."""
    spec = loaded.spec
    start = time.perf_counter()
    line = _line(loaded)
    expect = spec.pair_expect
    try:
        return replace(_diagnose(loaded, options, progress, start), line=line)
    except DeviceError as err:
        pinned = any(spec.side(s).device for s in SideName)
        if options.skip_absent_devices and pinned:
            return SpecReport(file=loaded.file, name=spec.name, verdict=None,
                              expect=expect, ok=True, skipped=str(err), line=line)
        located_err = loaded.device_error(err, options.device)
        return SpecReport(file=loaded.file, name=spec.name, verdict=None, expect=expect,
                          ok=False, error=str(located_err), line=line,
                          error_at=located(located_err, loaded.file))
    except GaussdiagError as err:
        return SpecReport(file=loaded.file, name=spec.name, verdict=None, expect=expect,
                          ok=False, error=str(err), line=line,
                          error_at=located(err, loaded.file))


def switch_plan(loaded: LoadedSpec, options: Options) -> SwitchPlan:
    """The spec's `switches:` and the command line's, with what `expect:` expects of them
    (checked when the spec loaded). A single side's plain `expect:` is expected of every
    check."""
    spec = loaded.spec
    own = tuple(parse_switch(name) for name in spec.switches)
    chosen = merge(own, options.switches)
    per = {}
    if isinstance(spec.expect, dict):
        per = expectations({k: v for k, v in spec.expect.items() if k != "pair"}, own,
                           single=spec.single)[1]
    default = spec.expect if spec.single and isinstance(spec.expect, Verdict) else None
    return SwitchPlan(chosen, per, default, spec.single, options.skip_absent_devices,
                      options.repro_dir)


def bind(loaded: LoadedSpec, options: Options) -> BoundSpec:
    """The spec bound to torch (imported here); an absent device is located at its key."""
    from gaussdiag.frontends.yaml.bind import BoundSpec
    from gaussdiag.torch_import import import_torch

    import_torch()
    try:
        return BoundSpec(loaded, device=options.device, max_elements=options.max_elements)
    except DeviceError as err:
        raise DeviceError(str(loaded.device_error(err, options.device))) from None


def _diagnose(loaded: LoadedSpec, options: Options, progress: Progress | None,
              start: float) -> SpecReport:
    from gaussdiag.torch_import import import_torch

    import_torch()  # before the timer starts: the spec's own time
    from gaussdiag.frontends.yaml.bind import BoundSpec
    from gaussdiag.pipeline import diagnose_problem

    start = time.perf_counter()  # after the imports: the spec's own time
    problem = BoundSpec(loaded, device=options.device, max_elements=options.max_elements)
    return diagnose_problem(problem, progress, start, switch_plan(loaded, options),
                            threads=options.threads)
