"""Random noise requested in a low dtype, drawn in float64 and rounded, so that a side's
low-dtype run and its float64 run map the same noise."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


@contextmanager
def float64_noise() -> Iterator[None]:
    """Draw normal and uniform noise requested in a low dtype in float64 and round it, so a
    side's low-dtype draws map the same noise as its float64 draws (CPU and CUDA generators
    produce different streams per dtype). Other samplers (gamma, ...) are left alone."""
    import torch
    from torch.overrides import TorchFunctionMode

    low = (torch.float16, torch.bfloat16, torch.float32)
    in_place = (torch.Tensor.normal_, torch.Tensor.uniform_)
    factories = (torch.randn, torch.rand)
    likes = (torch.randn_like, torch.rand_like)

    class Float64Noise(TorchFunctionMode):
        # Inside __torch_function__ the mode is off, so the calls below reach torch itself.
        def __torch_function__(self, func: Any, types: Any, args: Sequence[Any] = (),
                               kwargs: dict[str, Any] | None = None) -> Any:
            kwargs = kwargs or {}
            if func in in_place and args and args[0].dtype in low:
                target = args[0]
                with torch.no_grad():
                    wide = torch.empty(target.shape, dtype=torch.float64, device=target.device)
                    func(wide, *args[1:], **kwargs)
                    target.copy_(wide)
                return target
            if func in factories and not kwargs.get("requires_grad", False):
                dt = kwargs.get("dtype") or torch.get_default_dtype()
                if dt in low:
                    return func(*args, **{**kwargs, "dtype": torch.float64}).to(dt)
            if func in likes and args and not kwargs.get("requires_grad", False):
                dt = kwargs.get("dtype") or args[0].dtype
                if dt in low:
                    return func(*args, **{**kwargs, "dtype": torch.float64}).to(dt)
            return func(*args, **kwargs)

    with Float64Noise():
        yield
