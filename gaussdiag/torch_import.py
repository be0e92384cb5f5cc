"""Import torch for a gaussdiag process without paying the cyclic garbage collector for it.

`import torch` makes millions of long-lived objects, and
the collector walks all of them again at every full collection it triggers on the way: 0.3 to
0.4 s of a small diagnosis (`benchmarks/bench_compare.py`). So the import runs with the
collector off, and `gc.freeze()` then moves everything imported so far (torch, pydantic,
typer, rich, gaussdiag) out of the collector's view for the rest of the process. Garbage made
later is collected as usual. A process that has torch already (a user's own script calling
the Python front end) is left alone.
"""

from __future__ import annotations

import gc
import sys


def import_torch() -> None:
    """Import torch and torch.distributions once, as the module docstring says."""
    if "torch" in sys.modules:
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        import torch.distributions  # noqa: F401 - the import is the point
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
