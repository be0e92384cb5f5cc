"""gaussdiag: says whether two ways of writing the same PyTorch distribution differ by a
parameterization bug or by floating-point round-off.

`import gaussdiag` stays light (no torch, no pydantic): `diagnose` and `compare` import the
engine when they are first called.
"""

from __future__ import annotations

from gaussdiag._version import __version__
from gaussdiag.api import Report, compare, diagnose
from gaussdiag.errors import GaussdiagError, SpecError
from gaussdiag.frontends.python.pair import Pair
from gaussdiag.frontends.python.settings import sample
from gaussdiag.results import SpecReport
from gaussdiag.vocab import Verdict

__all__ = ["GaussdiagError", "Pair", "Report", "SpecError", "SpecReport", "Verdict",
           "__version__", "compare", "diagnose", "sample"]


def __getattr__(name: str) -> object:
    """`gaussdiag.testing` on first use (it is not imported with the package)."""
    if name == "testing":
        import importlib

        return importlib.import_module("gaussdiag.testing")
    raise AttributeError(f"module 'gaussdiag' has no attribute '{name}'")
