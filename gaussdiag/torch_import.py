"""Import torch for the gaussdiag command without paying the cyclic garbage collector for it.

`import torch` makes millions of long-lived objects, and the collector walks all of them
again at every full collection it triggers on the way: 0.3 to 0.4 s of a small diagnosis
(`benchmarks/bench_compare.py`). So in a process the command owns (`own_process()`, called
by the console entry point), the import runs with the collector off, and `gc.freeze()` then
moves everything imported so far (torch, pydantic, typer, rich, gaussdiag) out of the
collector's view for the rest of the process; garbage made later is collected as usual.
Anywhere else (`gaussdiag.diagnose` or `gaussdiag.compare` in a user's program) torch is
imported plainly: freezing would keep the user's own cyclic garbage forever.

In the command's own process the import also runs from the root folder, the working folder
put back afterwards: a working folder removed meanwhile must not break it (oneMKL's loader
then aborts the process, and `inspect` fails on torch's relative file names).
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

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
        with _from_root():
            import torch.distributions  # noqa: F401
        gc.freeze()  # only after an import that worked
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _from_root() -> Iterator[None]:
    """Run the block with `/` as the working folder, then return to the folder it was (held
    open, so the return works even if that folder was removed meanwhile)."""
    if not hasattr(os, "fchdir"):  # not POSIX: import where we are
        yield
        return
    try:
        here = os.open(".", os.O_RDONLY)
    except OSError:  # no access to it: nothing to return to
        os.chdir(os.sep)
        yield
        return
    try:
        os.chdir(os.sep)
        yield
    finally:
        os.fchdir(here)
        os.close(here)
