"""Import torch for the gaussdiag command without paying the cyclic garbage collector for it.

`import torch` makes millions of long-lived objects, and the collector walks all of them
again at every full collection it triggers on the way: 0.3 to 0.4 s of a small diagnosis
(`benchmarks/bench_compare.py`). So in a process the command owns (`own_process()`, called
by the console entry point), the import runs with the collector off, and `gc.freeze()` then
moves everything imported so far (torch, pydantic, typer, rich, gaussdiag) out of the
collector's view for the rest of the process; garbage made later is collected as usual.
Anywhere else (`gaussdiag.diagnose` or `gaussdiag.compare` in a user's program) torch is
imported plainly: freezing would keep the user's own cyclic garbage forever.
"""

from __future__ import annotations

import gc
import sys

_OWNED = False


def own_process() -> None:
    """The command line runs in a process of its own: let `import_torch` freeze."""
    global _OWNED
    _OWNED = True


def import_torch() -> None:
    """Import torch and torch.distributions once, as the module docstring says."""
    if "torch" in sys.modules:
        return
    if not _OWNED:
        import torch.distributions  # noqa: F401 - the import is the point
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        import torch.distributions  # noqa: F401
        gc.freeze()  # only after an import that worked
    finally:
        if enabled:
            gc.enable()
