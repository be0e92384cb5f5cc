"""The whitelist bound to torch. torch is imported inside `torch_functions`, so importing this
package (to parse a spec) never imports torch."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gaussdiag.errors import ExprError

if TYPE_CHECKING:
    from torch import Tensor


def torch_functions(*, sample_shape: tuple[int, ...] = (),
                    generator: Any = None) -> dict[str, Callable[..., Any]]:
    """The whitelist bound to torch, with the parameter names and defaults of `FUNCTIONS`.
    `randn_like(t)` draws shape `sample_shape + t.shape` from `generator`."""
    import torch
    import torch.nn.functional as F  # noqa: N812 - torch's own spelling

    def elu(x: Tensor, alpha: Any = 1.0) -> Tensor:
        # F.elu takes a Python scalar; a literal arrives as a 0-d tensor.
        out: Tensor = F.elu(x, alpha=float(alpha))
        return out

    def diagonal(x: Tensor) -> Tensor:
        return x.diagonal(dim1=-2, dim2=-1)

    def transpose(x: Tensor) -> Tensor:
        return x.transpose(-1, -2)

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

    def sum_(x: Tensor, dim: int | None = None) -> Tensor:
        return torch.sum(x) if dim is None else torch.sum(x, dim=dim)

    def mean(x: Tensor, dim: int | None = None) -> Tensor:
        return torch.mean(x) if dim is None else torch.mean(x, dim=dim)

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

    def logsumexp(x: Tensor, dim: int) -> Tensor:
        return torch.logsumexp(x, dim=dim)

    def randn_like(x: Tensor) -> Tensor:
        return torch.randn((*sample_shape, *x.shape), dtype=x.dtype, device=x.device,
                           generator=generator)

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
    }
    return bindings
