"""The expression grammar (spec-v1.md, "Expressions"): the whitelist of functions with their
signatures, the operator tables, the size limits, and what counts as a literal. Pure data and
small predicates over `ast` nodes; no torch."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Any, TypeGuard

# Longest accepted source. Real specs are one line (the longest hand-written log-density in the
# examples is ~100 characters); the cap also keeps CPython's parser away from inputs that
# exhaust its own stack ("(" * 10000) or memory.
MAX_LENGTH = 2000
# Deepest nesting of expression nodes. Hand-written densities nest ~6 deep; the cap keeps the
# recursive validator, evaluator and `ast.unparse` far below the interpreter's recursion limit.
MAX_DEPTH = 32
# Most expression nodes (names, literals, operators, calls, keywords). Bounds validation and
# evaluation time for wide-but-shallow inputs such as a 1000-element `cat` list.
MAX_NODES = 500
# Largest |c| in `x ** c` with a constant exponent. Powers beyond this overflow float32 for any
# base away from 1 and are almost always a typo; `10**10**10` is rejected without computing it.
MAX_EXPONENT = 64

# Longest piece quoted back in an error; longer ones are cut with "...".
_PIECE_LENGTH = 60


class ArgKind(Enum):
    """What a function parameter accepts, checked at parse time."""

    TENSOR = "an expression"
    OPTIONAL_TENSOR = "an expression or None"
    TENSORS = "a list literal of expressions, e.g. [x, y]"
    INT = "an integer literal such as 0 or -1"
    OPTIONAL_INT = "an integer literal such as 0 or -1, or None"
    NUMBER = "a number literal such as 1.0"


@dataclass(frozen=True)
class Param:
    """One parameter: its name (also its keyword), kind, and default when optional."""

    name: str
    kind: ArgKind
    required: bool = True
    default: int | float | None = None

    def render(self) -> str:
        return self.name if self.required else f"{self.name}={self.default!r}"


@dataclass(frozen=True)
class Signature:
    """A whitelisted function's parameters, in positional order; any may also be passed by
    keyword. `needs_one_of`: at least one of these must be given and not None."""

    params: tuple[Param, ...]
    rsample_only: bool = False
    needs_one_of: tuple[str, ...] = ()

    def render(self, name: str) -> str:
        return f"{name}({', '.join(p.render() for p in self.params)})"

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


def _opt(name: str, kind: ArgKind, default: int | float | None) -> Param:
    return Param(name, kind, required=False, default=default)


_X = (Param("x", ArgKind.TENSOR),)
_UNARY = Signature(_X)
_AB = Signature((Param("A", ArgKind.TENSOR), Param("B", ArgKind.TENSOR)))
_LIST = Signature((Param("tensors", ArgKind.TENSORS), _opt("dim", ArgKind.INT, 0)))
_REDUCE = Signature(_X + (_opt("dim", ArgKind.OPTIONAL_INT, None),))
_BAND = Signature(_X + (_opt("k", ArgKind.INT, 0),))

# The whitelist, in the spec's order. `torch_functions` binds each name with the same
# parameter names and defaults (a test checks this).
FUNCTIONS: Mapping[str, Signature] = MappingProxyType({
    "sqrt": _UNARY, "exp": _UNARY, "log": _UNARY, "log1p": _UNARY, "expm1": _UNARY,
    "square": _UNARY, "abs": _UNARY, "softplus": _UNARY, "sigmoid": _UNARY, "tanh": _UNARY,
    "elu": Signature(_X + (_opt("alpha", ArgKind.NUMBER, 1.0),)),
    "relu": _UNARY, "diag_embed": _UNARY, "diagonal": _UNARY, "tril": _BAND, "triu": _BAND,
    "transpose": _UNARY, "matmul": _AB, "eye_like": _UNARY, "sum": _REDUCE, "mean": _REDUCE,
    "clamp": Signature(
        _X + (_opt("min", ArgKind.OPTIONAL_TENSOR, None),
              _opt("max", ArgKind.OPTIONAL_TENSOR, None)),
        needs_one_of=("min", "max"),
    ),
    "cat": _LIST, "stack": _LIST, "detach": _UNARY, "cholesky": _UNARY, "inverse": _UNARY,
    "solve": _AB, "logdet": _UNARY, "lgamma": _UNARY, "digamma": _UNARY, "atanh": _UNARY,
    "logsumexp": Signature(_X + (Param("dim", ArgKind.INT),)),
    "randn_like": Signature(_X, rsample_only=True),
})


@dataclass(frozen=True)
class Expr:
    """A validated expression. `source` is the text as parsed (surrounding whitespace removed);
    `names` the declared names it references; `functions` the whitelisted functions it calls."""

    source: str
    tree: ast.Expression
    names: frozenset[str]
    functions: frozenset[str]


OPERATORS: Mapping[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow, ast.MatMult: operator.matmul,
}
UNARY_OPERATORS: Mapping[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos,
}
# Python spellings of the operators the grammar leaves out, for error messages.
OPERATOR_SYMBOLS: Mapping[type[ast.AST], str] = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|",
    ast.BitXor: "^", ast.BitAnd: "&", ast.Invert: "~", ast.Not: "not",
}
# Messages for the constructs the grammar leaves out; anything else unknown gets a generic one.
FORBIDDEN: Mapping[type[ast.AST], str] = {
    ast.Attribute: "attribute access is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.Starred: "starred arguments are not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.Compare: "comparisons are not allowed",
    ast.BoolOp: "boolean operators (and, or) are not allowed",
    ast.IfExp: "conditional expressions (x if c else y) are not allowed",
    ast.Dict: "dict literals are not allowed",
    ast.Set: "set literals are not allowed",
    ast.Tuple: "tuple literals are not allowed",
    ast.List: "a list literal is only allowed as the first argument of cat or stack",
    ast.Slice: "only plain integer subscripts such as x[0] or x[-1] are allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
}
# AST nodes that are not expression parts (operator tokens, load/store context); the size
# limits count expressions and keywords only.
TOKENS = (ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)

def cut(piece: str) -> str:
    return piece if len(piece) <= _PIECE_LENGTH else piece[:_PIECE_LENGTH] + "..."


def segment(text: str, node: ast.AST) -> str:
    return cut(ast.get_source_segment(text, node) or text)


def is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def signed_constant(node: ast.expr) -> int | float | None:
    """The value of a number literal or a signed one (`-1`, `+2.5`); None for anything else."""
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1 if isinstance(node.op, ast.USub) else 1
        node = node.operand
    if isinstance(node, ast.Constant) and is_number(node.value):
        return sign * node.value
    return None


def signed_int(node: ast.expr) -> int | None:
    value = signed_constant(node)
    return value if isinstance(value, int) else None


def is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None

