"""torch's intra-op thread count during a diagnosis: chosen from the problem's size unless the
caller names one (`--threads N`).

A problem whose largest param or input has at most `SMALL_PROBLEM_ELEMENTS` elements runs on
one thread: its ops are too small for torch to split, so more threads only add fork/join
barriers, which on a busy machine wait for descheduled threads (`limits.py` has the numbers).
A bigger problem keeps the thread count it found. Either way the count is restored after.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from gaussdiag.errors import UsageError
from gaussdiag.limits import SMALL_PROBLEM_ELEMENTS

if TYPE_CHECKING:
    import torch


def largest_tensor(values: Mapping[str, torch.Tensor]) -> int:
    """Elements of the largest tensor among `values` (0 for none)."""
    return max((int(t.numel()) for t in values.values()), default=0)


def choose_threads(requested: int | None, largest: int, current: int) -> int:
    """`requested` when given, else 1 for a small problem and `current` for a big one."""
    if requested is not None:
        if requested < 1:
            raise UsageError(f"threads must be at least 1, found {requested}")
        return requested
    return 1 if largest <= SMALL_PROBLEM_ELEMENTS else current


@contextmanager
def intra_op_threads(requested: int | None, values: Mapping[str, torch.Tensor]
                     ) -> Iterator[int]:
    """Run the block with the chosen thread count (yielded), then restore torch's."""
    import torch

    before = torch.get_num_threads()
    n = choose_threads(requested, largest_tensor(values), before)
    if n != before:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
