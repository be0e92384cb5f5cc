"""The Python API: what `import gaussdiag` offers a program or a test, without the CLI.

    import gaussdiag

    report = gaussdiag.diagnose("configs/mvn_diag_vs_normal.yaml")   # a spec file
    report = gaussdiag.compare(a, b, params={...}, inputs={...})     # two Python sides
    assert report.verdict == "parameterization", report.explanation
    print(report)                                                    # the table

Both return a `Report`: the frozen `SpecReport` of `gaussdiag.results`, which also prints
itself (the renderers live in `gaussdiag.report`, above the results they read).
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Iterable, Mapping
from typing import Any

from gaussdiag.errors import GaussdiagError, UsageError
from gaussdiag.json_text import JsonText
from gaussdiag.limits import DEFAULT_MAX_ELEMENTS
from gaussdiag.results import SpecReport


@dataclasses.dataclass(frozen=True)
class Report(SpecReport):
    """A spec's or a pair's report, as the API returns it: `SpecReport`'s fields, plus the
    table it prints and its JSON entry."""

    @classmethod
    def of(cls, report: SpecReport) -> Report:
        return cls(**{f.name: getattr(report, f.name) for f in dataclasses.fields(report)})

    def __rich__(self) -> Any:
        """The table `gaussdiag compare` prints for this spec (`rich.print(report)`)."""
        from gaussdiag.report.table import render_spec

        return render_spec(self)

    def __str__(self) -> str:
        """The same table as plain text (`print(report)`, an assertion message)."""
        from rich.console import Console

        out = io.StringIO()
        Console(file=out, width=100, no_color=True, color_system=None).print(self)
        return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """This spec's entry in the `--json` report's `specs`, as a dict."""
        from gaussdiag.report.json_report import spec_json

        return spec_json(self)

    def to_json(self, *, indent: int | None = 2) -> JsonText:
        """`to_dict()` as JSON text, as `--json` writes the entry. Up to gaussdiag 0.1.0
        this returned the dict: reading the text as a mapping still works, with a
        DeprecationWarning (`JsonText`)."""
        import json

        return JsonText(json.dumps(self.to_dict(), indent=indent))


def diagnose(spec: str | os.PathLike[str], *, device: str | None = None,
             max_elements: int = DEFAULT_MAX_ELEMENTS, switches: Iterable[str] = ()
             ) -> Report:
    """Diagnose one spec file, as `gaussdiag compare SPEC` does, and return its report.

    `device` overrides the spec's (`cpu`, `cuda`, `cuda:N`, `mps`, `auto`); `max_elements` is
    the largest tensor (in elements) a spec may create, as `--max-elements`; `switches` are
    checked besides the spec's own, as `--switch` (`report.switches`).
    Raises `GaussdiagError` (a `SpecError` with `.file`, `.line`, `.message` where the loader
    can say) when the spec cannot be read or run, and `KeyboardInterrupt` when a train run
    was interrupted. The report's `verdict` is a `Verdict`, a `str` enum: compare it with
    the spec's strings (`report.verdict == "round-off"`).
    """
    from gaussdiag.engine.switch import SwitchNameError, merge, parse_switch
    from gaussdiag.frontends.yaml.run import diagnose as run
    from gaussdiag.frontends.yaml.spec import load_spec
    from gaussdiag.pipeline import Options

    if isinstance(max_elements, bool) or not isinstance(max_elements, int) or max_elements < 1:
        raise UsageError(f"max_elements must be a positive integer, found {max_elements!r}")
    if isinstance(switches, str):
        raise UsageError(f"switches is a list of names: switches=[{switches!r}]")
    try:
        chosen = merge(parse_switch(n) for n in switches)
    except SwitchNameError as err:
        raise UsageError(f"switches: {err}") from None
    loaded = load_spec(os.fspath(spec), max_elements=max_elements, switched=bool(chosen))
    report = run(loaded, Options(device=device, max_elements=max_elements, switches=chosen))
    if report.interrupted:
        raise KeyboardInterrupt
    if report.error is not None:
        raise GaussdiagError(report.error)
    return Report.of(report)


def compare(a: Any, b: Any = None, *, params: Mapping[str, Any],
            inputs: Mapping[str, Any] | None = None, at: str | None = None,
            mode: str = "log_prob", sample_shape: Iterable[int] = (),
            train: Mapping[str, Any] | None = None,
            dtypes: Iterable[str] = ("float32", "float64"), seed: int = 0,
            device: str | None = None, expect: str | Mapping[str, Any] | None = None,
            name: str = "", reference: str | None = None, switch: str | None = None,
            switches: Iterable[str] = (), repro_dir: str | os.PathLike[str] | None = None
            ) -> Report:
    """Diagnose side `a` against side `b`, as `gaussdiag compare` does a spec.

    A side is a callable taking params and inputs by keyword (only the names in its
    signature; an nn.Module's `forward`'s) and returning a `torch.distributions.Distribution`,
    or a tensor: the log-density in log_prob mode (a tensor of the params alone, such as a KL
    term, needs no input), the draws in rsample mode. Each call runs with torch's default
    dtype set to the run's and gets its own copies of the params and inputs. `params` maps
    names to tensors or nn.Modules (a module's parameters are the leaves, `net.fc.weight`);
    `inputs` to tensors or `gaussdiag.sample(side, shape)`; `at` is the input log_prob is
    evaluated at (default: the only one). `mode`: log_prob, rsample (with `sample_shape`) or
    train (`train={"steps": 100, "optimizer": "adam", "lr": 0.01}`). `reference` ("a" or "b")
    names the side that is right by definition: a found fix on the other side comes first.

    `switch="compile"` (or `switches=[...]`: `compile:BACKEND`, `device:cuda`, `device:mps`,
    `tf32`, `autocast:bfloat16`, `autocast:float16`) also checks each side run with that
    switch against itself without it (`report.switches`); with a switch, `b` may be left
    out: the one side is checked alone, and `report.verdict` is its checks' worst. `expect`
    is a verdict (the pair's, or a single side's checks'), or a dict: `"pair"` and switch
    names to verdicts, a switch's per side as `{"a": ..., "b": ...}`. A compile check that
    finds a change of the math writes a reproducer script to `repro_dir` (made if missing;
    None: a new temporary folder each time).

    Returns the `Report` (`print(report)` shows the table, `report.to_dict()` its `--json`
    entry, `report.to_json()` the same as JSON text). Raises `GaussdiagError`, naming the
    side, when it cannot diagnose.
    """
    from gaussdiag.engine.reproducer import repro_folder
    from gaussdiag.frontends.python.run import run
    from gaussdiag.frontends.python.settings import settings

    folder = None if repro_dir is None else repro_folder(repro_dir, "repro_dir")
    chosen = settings(params=params, inputs=inputs, at=at, mode=mode,
                      sample_shape=sample_shape, train=train, dtypes=dtypes, seed=seed,
                      device=device, expect=expect, name=name, reference=reference,
                      switch=switch, switches=switches, single=b is None)
    return Report.of(run(a, b, chosen, repro_dir=folder))
