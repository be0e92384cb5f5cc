"""Where and in what precision a side runs: the torch device a name asks for, the torch dtype
of a `DType`, and a seeded draw that leaves the caller's random stream alone."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from gaussdiag.errors import DeviceError
from gaussdiag.vocab import DType

if TYPE_CHECKING:
    import torch


def torch_dtype(dtype: DType) -> torch.dtype:
    import torch

    return {DType.FLOAT16: torch.float16, DType.BFLOAT16: torch.bfloat16,
            DType.FLOAT32: torch.float32, DType.FLOAT64: torch.float64}[dtype]


def resolve_device(requested: str) -> torch.device:
    """`cpu`, `cuda`, `cuda:N`, `mps` or `auto` -> a torch.device that exists, else DeviceError."""
    import torch

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cpu":
        return torch.device("cpu")
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device '{requested}' requested but CUDA is not available "
                f"(torch {torch.__version__}, built with CUDA: {torch.version.cuda or 'no'}); "
                "use --device cpu, or --device auto to fall back to the CPU"
            )
        index = int(requested.split(":", 1)[1]) if ":" in requested else 0
        count = torch.cuda.device_count()
        if index >= count:
            raise DeviceError(
                f"device '{requested}' requested but only {count} CUDA device(s) are visible "
                f"(cuda:0..cuda:{count - 1})"
            )
        return torch.device("cuda", index)
    if requested == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise DeviceError("device 'mps' requested but MPS is not available on this machine; "
                              "use --device cpu")
        return torch.device("mps")
    raise DeviceError(f"unknown device '{requested}': use cpu, cuda, cuda:N, mps or auto")


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's global generator for a draw without disturbing the caller's stream.
    torch.distributions draws from the global generator, so both sides (and `randn_like`)
    see the same noise when each is drawn under the same seed."""
    import torch

    state = torch.random.get_rng_state()
    reseed(seed)
    try:
        yield
    finally:
        torch.random.set_rng_state(state)


def reseed(seed: int) -> None:
    """Seed torch's global generators with `seed` (inside `seeded`, which restores them)."""
    import torch

    if _accelerators():
        torch.manual_seed(seed)  # seeds (or queues the seed for) every device's generator
    else:
        # torch.manual_seed formats the caller's stack for each lazy device it would seed
        # (about 1 ms a call deep in a run); with none present the CPU generator is all
        torch.default_generator.manual_seed(seed)


@functools.cache
def _accelerators() -> bool:
    """Whether torch has a device besides the CPU here (CUDA, MPS or XPU)."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    xpu = getattr(torch, "xpu", None)
    return bool(torch.cuda.is_available()
                or (mps is not None and mps.is_available())
                or (xpu is not None and xpu.is_available()))
