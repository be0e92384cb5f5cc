"""Spec expressions (spec-v1.md, "Expressions"): an explicit whitelist walk over Python's `ast`.

`grammar` holds the whitelist and the limits; `parse` validates a string against them without
importing torch, so spec errors answer fast; `walk` evaluates a validated tree with
caller-supplied values, functions and literal conversion, and rewrites names (`substitute`);
`bind` binds the whitelist to torch (the only place torch is imported).

Grammar: int/float literals; declared names; `+ - * / ** @`; unary `-` and `+`; calls of the
functions in `FUNCTIONS` by plain name; `x[i]` with an integer literal `i`; a list literal as
the first argument of `cat` and `stack` only. Everything else is rejected with an `ExprError`
that names the offending piece.
"""

from __future__ import annotations

from gaussdiag.expr.bind import torch_functions
from gaussdiag.expr.grammar import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_NODES,
    ArgKind,
    Expr,
    Param,
    Signature,
)
from gaussdiag.expr.parse import parse
from gaussdiag.expr.walk import evaluate, substitute

__all__ = [
    "FUNCTIONS", "MAX_DEPTH", "MAX_EXPONENT", "MAX_LENGTH", "MAX_NODES", "ArgKind", "Expr",
    "Param", "Signature", "evaluate", "parse", "substitute", "torch_functions",
]
