"""Spec expressions (spec-v1.md, "Expressions"): an explicit whitelist walk over Python's `ast`.

`grammar` holds the whitelist and the limits; `parse` validates a string against them without
importing torch, so spec errors answer fast; `walk` evaluates a validated tree with
caller-supplied values, functions and literal conversion, and rewrites names (`substitute`);
`bind` binds the whitelist to torch (the only place torch is imported).

`validate` is the whitelist walk behind `parse`.

Grammar (docs/spec.md, "Expressions"): int/float literals; declared names; `+ - * / ** @`;
unary `-` and `+`; calls of the functions in `FUNCTIONS` by plain name, under a namespace
prefix (`NAMESPACES`: `torch.`, `torch.linalg.`, `F.`, ...) or as tensor methods (`METHODS`);
the attributes `T`, `mT`, `shape`; `math.`/`torch.` constants; subscripts with integers,
slices, None and `...`; list literals for `cat`/`stack` and shapes. Everything else is
rejected with an `ExprError` that names the offending piece.
"""

from __future__ import annotations

from gaussdiag.frontends.yaml.expr.bind import torch_functions
from gaussdiag.frontends.yaml.expr.grammar import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_NODES,
    METHOD_ONLY,
    METHODS,
    NAMESPACES,
    ArgKind,
    Expr,
    Kind,
    Param,
    Signature,
)
from gaussdiag.frontends.yaml.expr.parse import parse
from gaussdiag.frontends.yaml.expr.walk import evaluate, substitute

__all__ = [
    "FUNCTIONS", "MAX_DEPTH", "MAX_EXPONENT", "MAX_LENGTH", "MAX_NODES", "METHODS",
    "METHOD_ONLY", "NAMESPACES", "ArgKind", "Expr", "Kind", "Param", "Signature", "evaluate",
    "parse", "substitute", "torch_functions",
]
