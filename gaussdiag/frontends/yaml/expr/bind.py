"""The whitelist bound to torch. torch is imported inside `torch_functions`, so importing this
package (to parse a spec) never imports torch."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gaussdiag.errors import ExprError
from gaussdiag.limits import DEFAULT_MAX_ELEMENTS

if TYPE_CHECKING:
    from torch import Tensor


def _refuse_size(shape: tuple[int, ...], max_elements: int) -> None:
    """Refuse a shape before anything of that size is allocated."""
    if any(n < 0 for n in shape):
        raise ExprError(f"a size cannot be negative, got shape {list(shape)}")
    numel = math.prod(shape)
    if numel > max_elements:
        raise ExprError(f"shape {list(shape)} has {numel:,} elements, over the limit of "
                        f"{max_elements:,} (raise it with --max-elements)")


def torch_functions(*, sample_shape: tuple[int, ...] = (), generator: Any = None,
                    max_elements: int = DEFAULT_MAX_ELEMENTS) -> dict[str, Callable[..., Any]]:
    """The whitelist bound to torch, with the parameter names and defaults of `FUNCTIONS`.
    `randn_like(t)` and `randn(t.shape)` draw shape `sample_shape + t.shape` from `generator`;
    shapes given to `zeros`, `ones`, `randn`, `view` and `reshape` are refused over
    `max_elements` before anything is allocated."""
    import torch
    import torch.nn.functional as F  # noqa: N812 - torch's own spelling

    def elu(x: Tensor, alpha: Any = 1.0) -> Tensor:
        # F.elu takes a Python scalar; a literal arrives as a 0-d tensor.
        out: Tensor = F.elu(x, alpha=float(alpha))
        return out

    def diagonal(x: Tensor) -> Tensor:
        return x.diagonal(dim1=-2, dim2=-1)

    def transpose(x: Tensor, dim0: int | None = None, dim1: int | None = None) -> Tensor:
        if dim0 is None or dim1 is None:
            return x.transpose(-1, -2)
        return x.transpose(dim0, dim1)

    def tril(x: Tensor, k: int = 0) -> Tensor:
        return torch.tril(x, diagonal=k)

    def triu(x: Tensor, k: int = 0) -> Tensor:
        return torch.triu(x, diagonal=k)

    def matmul(A: Tensor, B: Tensor) -> Tensor:
        return torch.matmul(A, B)

    def eye_like(x: Tensor) -> Tensor:
        if x.dim() == 0 or (x.dim() >= 2 and x.shape[-2] != x.shape[-1]):
            raise ExprError("eye_like needs a vector or (a batch of) square matrices, got "
                            f"shape {list(x.shape)}")
        eye = torch.eye(x.shape[-1], dtype=x.dtype, device=x.device)
        return eye if x.dim() == 1 else eye.expand(x.shape)

    def reduce(function: Callable[..., Tensor], x: Tensor, dim: int | None,
               keepdim: bool) -> Tensor:
        if dim is not None:
            return function(x, dim=dim, keepdim=keepdim)
        out = function(x)
        return out.reshape([1] * x.dim()) if keepdim else out

    def sum_(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return reduce(torch.sum, x, dim, keepdim)

    def mean(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return reduce(torch.mean, x, dim, keepdim)

    def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:
        return torch.clamp(x, min=min, max=max)

    def cat(tensors: list[Tensor], dim: int = 0) -> Tensor:
        return torch.cat(tensors, dim=dim)

    def stack(tensors: list[Tensor], dim: int = 0) -> Tensor:
        return torch.stack(tensors, dim=dim)

    def detach(x: Tensor) -> Tensor:
        return x.detach()

    def solve(A: Tensor, B: Tensor) -> Tensor:
        out: Tensor = torch.linalg.solve(A, B)
        return out

    def logsumexp(x: Tensor, dim: int, keepdim: bool = False) -> Tensor:
        return torch.logsumexp(x, dim=dim, keepdim=keepdim)

    def randn_like(x: Tensor) -> Tensor:
        return torch.randn((*sample_shape, *x.shape), dtype=x.dtype, device=x.device,
                           generator=generator)

    def randn(size: tuple[int, ...], *, like: Tensor) -> Tensor:
        # torch.randn(x.shape) in user code: the same draw as randn_like(x).
        _refuse_size((*sample_shape, *size), max_elements)
        return torch.randn((*sample_shape, *size), dtype=like.dtype, device=like.device,
                           generator=generator)

    def zeros(size: tuple[int, ...], *, like: Tensor) -> Tensor:
        _refuse_size(size, max_elements)
        return like.new_zeros(size)

    def ones(size: tuple[int, ...], *, like: Tensor) -> Tensor:
        _refuse_size(size, max_elements)
        return like.new_ones(size)

    def reshaped(method: str) -> Callable[[Tensor, tuple[int, ...]], Tensor]:
        def bound(x: Tensor, shape: tuple[int, ...]) -> Tensor:
            if sum(n == -1 for n in shape) > 1:
                raise ExprError(f"{method}() takes at most one -1, got shape {list(shape)}")
            _refuse_size(tuple(n for n in shape if n != -1), max_elements)
            out: Tensor = getattr(x, method)(shape)
            return out

        bound.__name__ = method
        return bound

    def squeeze(x: Tensor, dim: int | None = None) -> Tensor:
        return x.squeeze() if dim is None else x.squeeze(dim)

    def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return torch.flatten(x, start_dim, end_dim)

    def split(x: Tensor, split_size_or_sections: int | list[int],
              dim: int = 0) -> tuple[Tensor, ...]:
        return tuple(torch.split(x, split_size_or_sections, dim=dim))

    def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return tuple(torch.chunk(x, chunks, dim=dim))

    def where(condition: Tensor, input: Tensor, other: Tensor) -> Tensor:
        # A value as the condition means "nonzero", as in Python.
        mask = condition if condition.dtype == torch.bool else condition != 0
        return torch.where(mask, input, other)

    def full_like(x: Tensor, fill_value: Any) -> Tensor:
        return torch.full_like(x, float(fill_value))

    def binary(function: Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
        def bound(input: Tensor, other: Tensor) -> Tensor:
            return function(input, other)

        return bound

    def pow_(x: Tensor, exponent: Tensor) -> Tensor:
        return torch.pow(x, exponent)

    def diag(x: Tensor) -> Tensor:
        # As torch.diag: a vector becomes a diagonal matrix, a matrix gives its diagonal.
        if x.dim() == 1:
            return torch.diag_embed(x)
        if x.dim() == 2:
            return x.diagonal()
        raise ExprError(f"diag needs a vector or a matrix, got shape {list(x.shape)}; use "
                        "diag_embed or diagonal for batches")

    def softmax(x: Tensor, dim: int) -> Tensor:
        return torch.softmax(x, dim)

    def log_softmax(x: Tensor, dim: int) -> Tensor:
        return torch.log_softmax(x, dim)

    def logit(x: Tensor, eps: Any = None) -> Tensor:
        return torch.logit(x, eps=None if eps is None else float(eps))

    def clamp_min(x: Tensor, min: Tensor) -> Tensor:
        return torch.clamp_min(x, min)

    def size(x: Tensor, dim: int | None = None) -> Any:
        return x.size() if dim is None else x.size(dim)

    def unsqueeze(x: Tensor, dim: int) -> Tensor:
        return x.unsqueeze(dim)

    def unary(function: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
        # A named one-argument wrapper, so every binding takes `x` like its signature says.
        def bound(x: Tensor) -> Tensor:
            return function(x)

        return bound

    bindings: dict[str, Callable[..., Any]] = {
        "sqrt": unary(torch.sqrt), "exp": unary(torch.exp), "log": unary(torch.log),
        "log1p": unary(torch.log1p), "expm1": unary(torch.expm1),
        "square": unary(torch.square), "abs": unary(torch.abs), "softplus": unary(F.softplus),
        "sigmoid": unary(torch.sigmoid), "tanh": unary(torch.tanh), "elu": elu,
        "relu": unary(F.relu), "diag_embed": unary(torch.diag_embed), "diagonal": diagonal,
        "tril": tril, "triu": triu, "transpose": transpose, "matmul": matmul,
        "eye_like": eye_like, "sum": sum_, "mean": mean, "clamp": clamp, "cat": cat,
        "stack": stack, "detach": detach, "cholesky": unary(torch.linalg.cholesky),
        "inverse": unary(torch.linalg.inv), "solve": solve, "logdet": unary(torch.logdet),
        "lgamma": unary(torch.lgamma), "digamma": unary(torch.digamma),
        "atanh": unary(torch.atanh), "logsumexp": logsumexp, "randn_like": randn_like,
        "reshape": reshaped("reshape"), "view": reshaped("view"), "unsqueeze": unsqueeze,
        "squeeze": squeeze, "flatten": flatten, "split": split, "chunk": chunk, "where": where,
        "zeros": zeros, "ones": ones, "zeros_like": unary(torch.zeros_like),
        "ones_like": unary(torch.ones_like), "full_like": full_like,
        "maximum": binary(torch.maximum), "minimum": binary(torch.minimum), "pow": pow_,
        "diag": diag, "softmax": softmax, "log_softmax": log_softmax, "logit": logit,
        "erf": unary(torch.erf), "erfc": unary(torch.erfc), "clamp_min": clamp_min,
        "sign": unary(torch.sign), "randn": randn, "size": size,
    }
    return bindings
