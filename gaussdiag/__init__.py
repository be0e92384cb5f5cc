"""gaussdiag: says whether two ways of writing the same PyTorch distribution differ by a
parameterization bug or by floating-point round-off.

`import gaussdiag` stays light (no torch, no pydantic): `diagnose` imports the pipeline when
it is first called.
"""

from __future__ import annotations

import os

from gaussdiag.errors import GaussdiagError, SpecError
from gaussdiag.frontends.python.compare import compare
from gaussdiag.frontends.python.pair import Pair
from gaussdiag.frontends.python.settings import sample
from gaussdiag.limits import DEFAULT_MAX_ELEMENTS
from gaussdiag.results import SpecReport
from gaussdiag.vocab import Verdict

__version__ = "0.1.0"

__all__ = ["GaussdiagError", "Pair", "SpecError", "SpecReport", "Verdict", "__version__",
           "compare", "diagnose", "sample"]


def diagnose(spec: str | os.PathLike[str], *, device: str | None = None,
             max_elements: int = DEFAULT_MAX_ELEMENTS) -> SpecReport:
    """Diagnose one spec file and return its `SpecReport` (see `gaussdiag.api.diagnose`).

    Raises `GaussdiagError` when the spec cannot be read or run.
    """
    from gaussdiag.api import diagnose as _diagnose

    return _diagnose(spec, device=device, max_elements=max_elements)


def __getattr__(name: str) -> object:
    """`gaussdiag.testing` on first use (it is not imported with the package)."""
    if name == "testing":
        import importlib

        return importlib.import_module("gaussdiag.testing")
    raise AttributeError(f"module 'gaussdiag' has no attribute '{name}'")
