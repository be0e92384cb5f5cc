"""The caller's code and what it hands in, seen from the engine: whatever a side raises
(`SystemExit`, `GeneratorExit`, any `BaseException` but Ctrl-C and the wall-clock bound)
is that side's error, a message whose `str()` itself fails is described instead of shown,
and a param must be a floating tensor with values."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any

from gaussdiag.deadline import TimedOut
from gaussdiag.errors import GaussdiagError

if TYPE_CHECKING:
    import torch

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # gaussdiag/


def stops(err: BaseException) -> bool:
    """Ctrl-C (SIGTERM too) and the spec's bound stop the run; they are never a side's
    error."""
    return isinstance(err, (KeyboardInterrupt, TimedOut))


def first_line(err: BaseException) -> str:
    """The first line of `err`'s message, or its type's name when it has none or when its
    `str()` raises (user code may define either)."""
    try:
        text = str(err).strip()
    except Exception as inner:  # noqa: BLE001 - the user's __str__: describe, do not crash
        return f"(its message could not be shown: str() raised {type(inner).__name__})"
    return text.splitlines()[0] if text else type(err).__name__


def user_frame(tb: TracebackType | None) -> str | None:
    """file:line of the deepest frame outside gaussdiag and torch: where the user's code
    failed."""
    import torch

    torch_dir = os.path.dirname(os.path.abspath(torch.__file__))
    where = None
    while tb is not None:
        path = os.path.abspath(tb.tb_frame.f_code.co_filename)
        if not path.startswith((_HERE, torch_dir)):
            where = f"{_shown_path(path)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _shown_path(path: str) -> str:
    if path.startswith("<"):
        return path
    try:
        return os.path.relpath(path)
    except (OSError, ValueError):  # no working folder, or another drive
        return path


def user_failure(err: BaseException) -> GaussdiagError | None:
    """The error to report for `err`, escaped from a Pair's diagnosis, when it is the user's
    doing: anything but an `Exception` (SystemExit ...), or an exception raised in user code
    (a frame outside gaussdiag and torch on its way). None: a bug in gaussdiag."""
    if isinstance(err, Exception) and user_frame(err.__traceback__) is None:
        return None
    return GaussdiagError(f"the code it runs raised {described(err)}")


def described(err: BaseException) -> str:
    """`Type: first line (at file:line)`, the place being the user's own line."""
    where = user_frame(err.__traceback__)
    return f"{type(err).__name__}: {first_line(err)}" + (f" (at {where})" if where else "")


def check_param(name: str, value: torch.Tensor) -> None:
    """A param is a leaf the engine copies per dtype and differentiates: a floating tensor
    with values (not on the meta device)."""
    if value.is_meta:
        raise GaussdiagError(f"params['{name}'] is on the meta device (a shape without values): "
                             "pass a tensor that holds the point")
    if not value.is_floating_point():
        raise GaussdiagError(
            f"params['{name}'] must be a floating-point tensor (float16, bfloat16, float32 or "
            f"float64), found {str(value.dtype).removeprefix('torch.')}: a param is copied into "
            "each run's dtype and gets a gradient; pass integer or boolean tensors in inputs, "
            "or convert it with .double()")


def check_input(name: str, value: Any) -> None:
    """An input tensor must hold values."""
    if getattr(value, "is_meta", False):
        raise GaussdiagError(f"inputs['{name}'] is on the meta device (a shape without "
                             "values): pass a tensor that holds the point")


@contextmanager
def user_code(what: str) -> Iterator[None]:
    """Within the block (a call into the caller's code), whatever is raised but a stop is a
    `GaussdiagError`: `what`, then the exception and where in the user's code."""
    try:
        yield
    except GaussdiagError:
        raise
    except BaseException as err:
        if stops(err):
            raise
        raise GaussdiagError(f"{what}: {described(err)}") from None
