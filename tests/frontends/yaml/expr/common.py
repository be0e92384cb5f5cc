"""One point shared by the expression tests, as numpy (for references) and as torch (for the
evaluator), and a parse-then-evaluate helper."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from gaussdiag.frontends.yaml import expr as ex

F64 = torch.float64

# Copied from spec-v1.md, "Expressions", in its order.
SPEC_FUNCTIONS = [
    "sqrt", "exp", "log", "log1p", "expm1", "square", "abs", "softplus", "sigmoid", "tanh",
    "elu", "relu", "diag_embed", "diagonal", "tril", "triu", "transpose", "matmul", "eye_like",
    "sum", "mean", "clamp", "cat", "stack", "detach", "cholesky", "inverse", "solve", "logdet",
    "lgamma", "digamma", "atanh", "logsumexp", "randn_like", "reshape", "view", "unsqueeze",
    "squeeze", "flatten", "split", "chunk", "where", "zeros", "ones", "zeros_like", "ones_like",
    "full_like", "maximum", "minimum", "pow", "diag", "softmax", "log_softmax", "logit", "erf",
    "erfc", "clamp_min", "sign", "randn",
]

# A lower-triangular factor with a positive diagonal: cholesky(L @ L.T) is L exactly, and
# logdet(L @ L.T) is 2 * sum(log(diag(L))), closed forms independent of torch.
L_FACTOR = np.array([[2.0, 0.0, 0.0], [0.5, 1.5, 0.0], [-0.3, 0.2, 1.0]])
NP: dict[str, Any] = {
    "v": np.array([0.5, 1.2, 2.0]),                   # positive: sqrt, log, lgamma, digamma
    "w": np.array([-0.7, 0.1, 0.6]),                  # mixed signs, inside (-1, 1) for atanh
    "s": np.float64(0.7),
    "A": L_FACTOR @ L_FACTOR.T,                       # symmetric positive definite
    "B": np.array([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]]),
    "N": np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),  # not positive definite
}
NAMES = frozenset(NP)


def env() -> dict[str, torch.Tensor]:
    return {name: torch.tensor(value, dtype=F64) for name, value in NP.items()}


def literal64(value: float) -> torch.Tensor:
    return torch.tensor(value, dtype=F64)


def run(source: str, *, names: frozenset[str] = NAMES, values: dict[str, Any] | None = None,
        functions: dict[str, Callable[..., Any]] | None = None,
        check: Callable[[Any], None] | None = None, allow_randn: bool = False) -> Any:
    parsed = ex.parse(source, names=names, allow_randn=allow_randn)
    return ex.evaluate(parsed, env() if values is None else values,
                       ex.torch_functions() if functions is None else functions,
                       literal=literal64, check=check)
