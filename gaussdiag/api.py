"""The Python API: diagnose a spec file from a program or a test, without the CLI.

    from gaussdiag import diagnose

    report = diagnose("configs/mvn_diag_vs_normal.yaml")
    assert report.verdict == "parameterization", report.explanation
"""

from __future__ import annotations

import os

from gaussdiag.errors import GaussdiagError, UsageError
from gaussdiag.limits import DEFAULT_MAX_ELEMENTS
from gaussdiag.results import SpecReport


def diagnose(spec: str | os.PathLike[str], *, device: str | None = None,
             max_elements: int = DEFAULT_MAX_ELEMENTS) -> SpecReport:
    """Diagnose one spec file, as `gaussdiag compare SPEC` does, and return its report.

    `device` overrides the spec's (`cpu`, `cuda`, `cuda:N`, `mps`, `auto`); `max_elements` is
    the largest tensor (in elements) a spec may create, as `--max-elements`.
    Raises `GaussdiagError` (a `SpecError` with `.file`, `.line`, `.message` where the loader
    can say) when the spec cannot be read or run, and `KeyboardInterrupt` when a train run
    was interrupted. The report's `verdict` is a `Verdict`, a `str` enum: compare it with
    the spec's strings (`report.verdict == "round-off"`).
    """
    from gaussdiag.frontends.yaml.run import diagnose as run
    from gaussdiag.frontends.yaml.spec import load_spec
    from gaussdiag.pipeline import Options

    if isinstance(max_elements, bool) or not isinstance(max_elements, int) or max_elements < 1:
        raise UsageError(f"max_elements must be a positive integer, found {max_elements!r}")
    loaded = load_spec(os.fspath(spec), max_elements=max_elements)
    report = run(loaded, Options(device=device, max_elements=max_elements))
    if report.interrupted:
        raise KeyboardInterrupt
    if report.error is not None:
        raise GaussdiagError(report.error)
    return report
