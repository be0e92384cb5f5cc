"""The expression grammar (spec-v1.md, "Expressions"): the whitelist of functions with their
signatures, the operator tables, the size limits, and what counts as a literal. Pure data and
small predicates over `ast` nodes; no torch."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Any, TypeGuard

from gaussdiag.vocab import Vocab

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
    BOOL = "True or False"
    SHAPE = "a shape: integers such as -1, 3, a list such as [n, 3], or x.shape / x.size()"
    SIZES = "a positive integer literal or a list of them, such as 3 or [1, 2]"
    POSITIVE_INT = "a positive integer literal such as 2"
    CONDITION = "a comparison such as x > 0, or an expression"


class Kind(Vocab):
    """What an expression evaluates to, known at parse time: method calls, subscripts and
    arithmetic are checked against it."""

    TENSOR = "a tensor"
    INT = "an integer"            # x.size(0), x.shape[-1]
    SIZE = "a shape"              # x.shape, x.size()
    TENSORS = "a tuple of tensors"  # x.split(3), x.chunk(2): index it, e.g. x.split(3)[0]


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
    # Creates a tensor: the evaluator passes `like=` (a literal of the run's dtype and device).
    factory: bool = False
    # What a call returns (`split` and `chunk` give tuples, `size` an integer or a shape).
    returns: Kind = Kind.TENSOR

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
_KEEP = _opt("keepdim", ArgKind.BOOL, False)
_REDUCE_KEEP = Signature(_X + (_opt("dim", ArgKind.OPTIONAL_INT, None), _KEEP))
_DIM = Signature(_X + (Param("dim", ArgKind.INT),))
_SHAPED = Signature(_X + (Param("shape", ArgKind.SHAPE),))
_SIZED = Signature((Param("size", ArgKind.SHAPE),), factory=True)
_BINARY = Signature((Param("input", ArgKind.TENSOR), Param("other", ArgKind.TENSOR)))

# The whitelist, in the spec's order. `torch_functions` binds each name with the same
# parameter names and defaults (a test checks this).
FUNCTIONS: Mapping[str, Signature] = MappingProxyType({
    "sqrt": _UNARY, "exp": _UNARY, "log": _UNARY, "log1p": _UNARY, "expm1": _UNARY,
    "square": _UNARY, "abs": _UNARY, "softplus": _UNARY, "sigmoid": _UNARY, "tanh": _UNARY,
    "elu": Signature(_X + (_opt("alpha", ArgKind.NUMBER, 1.0),)),
    "relu": _UNARY, "diag_embed": _UNARY, "diagonal": _UNARY, "tril": _BAND, "triu": _BAND,
    # transpose(x) swaps the last two dims; torch's transpose(x, dim0, dim1) names them.
    "transpose": Signature(_X + (_opt("dim0", ArgKind.OPTIONAL_INT, None),
                                 _opt("dim1", ArgKind.OPTIONAL_INT, None))),
    "matmul": _AB, "eye_like": _UNARY, "sum": _REDUCE_KEEP, "mean": _REDUCE_KEEP,
    "clamp": Signature(
        _X + (_opt("min", ArgKind.OPTIONAL_TENSOR, None),
              _opt("max", ArgKind.OPTIONAL_TENSOR, None)),
        needs_one_of=("min", "max"),
    ),
    "cat": _LIST, "stack": _LIST, "detach": _UNARY, "cholesky": _UNARY, "inverse": _UNARY,
    "solve": _AB, "logdet": _UNARY, "lgamma": _UNARY, "digamma": _UNARY, "atanh": _UNARY,
    "logsumexp": Signature(_X + (Param("dim", ArgKind.INT), _KEEP)),
    "randn_like": Signature(_X, rsample_only=True),
    # torch's own spellings, added with method calls and namespaces.
    "reshape": _SHAPED, "view": _SHAPED, "unsqueeze": _DIM,
    "squeeze": Signature(_X + (_opt("dim", ArgKind.OPTIONAL_INT, None),)),
    "flatten": Signature(_X + (_opt("start_dim", ArgKind.INT, 0),
                               _opt("end_dim", ArgKind.INT, -1))),
    "split": Signature(_X + (Param("split_size_or_sections", ArgKind.SIZES),
                             _opt("dim", ArgKind.INT, 0)), returns=Kind.TENSORS),
    "chunk": Signature(_X + (Param("chunks", ArgKind.POSITIVE_INT), _opt("dim", ArgKind.INT, 0)),
                       returns=Kind.TENSORS),
    "where": Signature((Param("condition", ArgKind.CONDITION), Param("input", ArgKind.TENSOR),
                        Param("other", ArgKind.TENSOR))),
    "zeros": _SIZED, "ones": _SIZED, "zeros_like": _UNARY, "ones_like": _UNARY,
    "full_like": Signature(_X + (Param("fill_value", ArgKind.NUMBER),)),
    "maximum": _BINARY, "minimum": _BINARY,
    "pow": Signature(_X + (Param("exponent", ArgKind.TENSOR),)),
    "diag": _UNARY, "softmax": _DIM, "log_softmax": _DIM,
    "logit": Signature(_X + (_opt("eps", ArgKind.NUMBER, None),)),
    "erf": _UNARY, "erfc": _UNARY, "clamp_min": Signature(_X + (Param("min", ArgKind.TENSOR),)),
    "sign": _UNARY,
    "randn": Signature((Param("size", ArgKind.SHAPE),), rsample_only=True, factory=True),
})

# Spellings that are only methods: `x.size()`, `x.size(0)`.
METHOD_ONLY: Mapping[str, Signature] = MappingProxyType({
    "size": Signature(_X + (_opt("dim", ArgKind.OPTIONAL_INT, None),), returns=Kind.SIZE),
})
# Whitelisted functions that are also tensor methods (`x.sqrt()` is `sqrt(x)`).
METHODS: frozenset[str] = frozenset({
    "sqrt", "exp", "log", "log1p", "expm1", "square", "abs", "sigmoid", "tanh", "relu",
    "diag_embed", "diagonal", "tril", "triu", "transpose", "matmul", "sum", "mean", "clamp",
    "detach", "cholesky", "inverse", "logdet", "lgamma", "digamma", "atanh", "logsumexp",
    "reshape", "view", "unsqueeze", "squeeze", "flatten", "split", "chunk", "maximum",
    "minimum", "pow", "diag", "softmax", "log_softmax", "logit", "erf", "erfc", "clamp_min",
    "sign", "size",
})
# Tensor attributes: `x.T` and `x.mT` transpose, `x.shape` is the shape.
ATTRIBUTES: Mapping[str, Kind] = MappingProxyType(
    {"T": Kind.TENSOR, "mT": Kind.TENSOR, "shape": Kind.SIZE})

_F = {n: n for n in ("softplus", "elu", "relu", "sigmoid", "tanh", "softmax", "log_softmax")}
# Namespace prefixes, each a table from torch's spelling to the whitelisted name.
NAMESPACES: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "torch": {**{n: n for n in FUNCTIONS if n not in {"softplus", "elu", "eye_like", "view",
                                                      "solve"}},
              "inverse": "inverse", "cholesky": "cholesky"},
    "torch.linalg": {"cholesky": "cholesky", "inv": "inverse", "solve": "solve",
                     "matmul": "matmul", "diagonal": "diagonal"},
    "torch.nn.functional": _F, "nn.functional": _F, "F": _F,
})
# Constants under `math.` and `torch.`; `math.` functions take constants and fold at parse time.
CONSTANTS: Mapping[str, Mapping[str, float]] = MappingProxyType({
    "math": {"pi": math.pi, "e": math.e, "tau": math.tau},
    "torch": {"pi": math.pi, "e": math.e},
})
MATH_FUNCTIONS: Mapping[str, Callable[[float], float]] = MappingProxyType({
    "sqrt": math.sqrt, "log": math.log, "exp": math.exp, "log1p": math.log1p,
    "expm1": math.expm1, "lgamma": math.lgamma, "log2": math.log2, "log10": math.log10,
})
MODULE_ROOTS = frozenset({"torch", "nn", "F", "math"})
# Largest |i| in a subscript or slice bound, and most entries in one subscript.
MAX_INDEX = 2**31 - 1
MAX_INDEX_ENTRIES = 8



@dataclass(frozen=True)
class Expr:
    """A validated expression. `source` is the text as parsed (surrounding whitespace removed);
    `names` the declared names it references; `functions` the whitelisted functions it calls."""

    source: str
    tree: ast.Expression
    names: frozenset[str]
    functions: frozenset[str]
    # The same tree with torch's spellings resolved (methods, namespaces, constants), which
    # the evaluator walks; `tree` keeps the user's spelling for `substitute`.
    program: ast.Expression


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

