"""`gaussdiag.compare(a, b, params=..., ...)`: diagnose two Python sides, return the report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from gaussdiag.errors import GaussdiagError
from gaussdiag.live.settings import Settings, settings
from gaussdiag.results import SpecReport

if TYPE_CHECKING:
    from gaussdiag.pipeline import Progress


def compare(a: Any, b: Any, *, params: Mapping[str, Any],
            inputs: Mapping[str, Any] | None = None, at: str | None = None,
            mode: str = "log_prob", sample_shape: Iterable[int] = (),
            train: Mapping[str, Any] | None = None,
            dtypes: Iterable[str] = ("float32", "float64"), seed: int = 0,
            device: str | None = None, expect: str | None = None,
            name: str = "") -> SpecReport:
    """Diagnose side `a` against side `b`, as `gaussdiag compare` does a spec.

    A side is a callable taking params and inputs by keyword (only the names in its
    signature) and returning a `torch.distributions.Distribution`, or a tensor: the
    log-density in log_prob mode, the draws in rsample mode. `params` maps names to tensors
    or nn.Modules (a module's parameters are the leaves, `net.fc.weight`); `inputs` to
    tensors or `gaussdiag.sample(side, shape)`; `at` is the input log_prob is evaluated at
    (default: the only one). `mode`: log_prob, rsample (with `sample_shape`) or train
    (`train={"steps": 100, "optimizer": "adam", "lr": 0.01}`).

    Returns the `SpecReport` (`print(report)` shows the table, `report.to_json()` one
    `--json` entry). Raises `GaussdiagError`, naming the side, when it cannot diagnose.
    """
    chosen = settings(params=params, inputs=inputs, at=at, mode=mode,
                      sample_shape=sample_shape, train=train, dtypes=dtypes, seed=seed,
                      device=device, expect=expect, name=name)
    return run(a, b, chosen)


def run(a: Any, b: Any, chosen: Settings, progress: Progress | None = None) -> SpecReport:
    """The engine on a LiveProblem; errors surface without gaussdiag's frames."""
    from gaussdiag.live.problem import LiveProblem
    from gaussdiag.pipeline import diagnose_problem

    try:
        report = diagnose_problem(LiveProblem(a, b, chosen), progress)
    except GaussdiagError as err:
        raise err.with_traceback(None) from None
    if report.interrupted:
        raise KeyboardInterrupt
    return report
