"""Spec expressions (spec-v1.md, "Expressions"): an explicit whitelist walk over Python's `ast`.

`parse` validates a string against the grammar below and the size limits, and never imports
torch, so spec errors answer fast. `evaluate` walks a validated tree with caller-supplied
values, functions and literal conversion; `torch_functions` binds the whitelist to torch (the
only place torch is imported). `substitute` rewrites a name, to print concrete fixes.

Grammar: int/float literals; declared names; `+ - * / ** @`; unary `-` and `+`; calls of the
functions in `FUNCTIONS` by plain name; `x[i]` with an integer literal `i`; a list literal as
the first argument of `cat` and `stack` only. Everything else is rejected with an `ExprError`
that names the offending piece.
"""

from __future__ import annotations

import ast
import copy
import difflib
import math
import operator
import warnings
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeGuard

from gaussdiag.errors import ExprError

if TYPE_CHECKING:
    from torch import Tensor

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


# ---- parsing -------------------------------------------------------------------------------

_OPERATORS: Mapping[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow, ast.MatMult: operator.matmul,
}
_UNARY_OPERATORS: Mapping[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos,
}
# Python spellings of the operators the grammar leaves out, for error messages.
_OPERATOR_SYMBOLS: Mapping[type[ast.AST], str] = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|",
    ast.BitXor: "^", ast.BitAnd: "&", ast.Invert: "~", ast.Not: "not",
}
# Messages for the constructs the grammar leaves out; anything else unknown gets a generic one.
_FORBIDDEN: Mapping[type[ast.AST], str] = {
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
_TOKENS = (ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)


def parse(source: str, *, names: Collection[str], allow_randn: bool = False) -> Expr:
    """Validate `source` against the grammar and limits; raise ExprError naming the offending
    piece. `names` are the declared names; `randn_like` needs `allow_randn` (rsample mode)."""
    if len(source) > MAX_LENGTH:
        raise ExprError(f"expression is longer than {MAX_LENGTH} characters ({len(source)})",
                        _cut(source))
    text = source.strip()
    if not text:
        raise ExprError("empty expression", source)
    tree = _parse_python(text)
    _check_size(text, tree)
    validator = _Validator(text, frozenset(names), allow_randn)
    validator.expr(tree.body)
    return Expr(text, tree, frozenset(validator.names), frozenset(validator.functions))


def _parse_python(text: str) -> ast.Expression:
    try:
        # The tokenizer warns about things such as invalid escapes in string literals, which
        # are rejected anyway; keep those warnings out of the user's output.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text, mode="eval")
    except SyntaxError as err:
        where = ""
        if err.offset is not None:
            line = f"line {err.lineno}, " if err.lineno and err.lineno > 1 else ""
            where = f" at {line}column {err.offset}"
        raise ExprError(f"syntax error{where}: {err.msg}", _cut(text)) from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as err:
        # ValueError: null bytes or lone surrogates in the text; the others: inputs that
        # exhaust the parser despite the length cap.
        raise ExprError(f"cannot parse the expression ({type(err).__name__})",
                        _cut(text)) from None


def _check_size(text: str, tree: ast.Expression) -> None:
    """Enforce MAX_DEPTH and MAX_NODES iteratively, before any recursive walk."""
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExprError(f"expression nests deeper than {MAX_DEPTH} levels",
                            _segment(text, node))
        count += 1
        if count > MAX_NODES:
            raise ExprError(f"expression has more than {MAX_NODES} parts", _cut(text))
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node)
                     if not isinstance(child, _TOKENS))


def _cut(piece: str) -> str:
    return piece if len(piece) <= _PIECE_LENGTH else piece[:_PIECE_LENGTH] + "..."


def _segment(text: str, node: ast.AST) -> str:
    return _cut(ast.get_source_segment(text, node) or text)


def _did_you_mean(word: str, candidates: Collection[str]) -> str:
    close = difflib.get_close_matches(word, sorted(candidates), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _signed_constant(node: ast.expr) -> int | float | None:
    """The value of a number literal or a signed one (`-1`, `+2.5`); None for anything else."""
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1 if isinstance(node.op, ast.USub) else 1
        node = node.operand
    if isinstance(node, ast.Constant) and _is_number(node.value):
        return sign * node.value
    return None


def _signed_int(node: ast.expr) -> int | None:
    value = _signed_constant(node)
    return value if isinstance(value, int) else None


def _fold(node: ast.expr) -> float | None:
    """The value of a constant subexpression in float arithmetic (inf or nan where it
    overflows or is undefined), or None when it involves names or calls. Never raises and
    never builds huge integers, so `10**10**10` folds to inf at once."""
    if isinstance(node, ast.Constant):
        value = node.value
        if not _is_number(value):
            return None
        try:
            return float(value)
        except OverflowError:
            return math.inf
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY_OPERATORS:
        inner = _fold(node.operand)
        return None if inner is None else -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        if isinstance(node.op, ast.MatMult):
            return None
        left, right = _fold(node.left), _fold(node.right)
        if left is None or right is None:
            return None
        try:
            result: object = _OPERATORS[type(node.op)](left, right)
        except OverflowError:
            return math.inf
        except ZeroDivisionError:
            return math.nan
        # A negative base to a fractional power is complex in Python: not a real exponent.
        return result if isinstance(result, float) else math.nan
    return None


class _Validator:
    """Recursive whitelist check. Depth is already bounded by `_check_size`."""

    def __init__(self, text: str, declared: frozenset[str], allow_randn: bool) -> None:
        self.text = text
        self.declared = declared
        self.allow_randn = allow_randn
        self.names: set[str] = set()
        self.functions: set[str] = set()

    def fail(self, message: str, node: ast.AST) -> ExprError:
        return ExprError(message, _segment(self.text, node))

    def expr(self, node: ast.expr) -> None:
        if isinstance(node, ast.Constant):
            self.number(node)
        elif isinstance(node, ast.Name):
            self.name(node)
        elif isinstance(node, ast.BinOp):
            self.binop(node)
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY_OPERATORS:
                raise self.fail(f"operator {_OPERATOR_SYMBOLS[type(node.op)]} is not allowed",
                                node)
            self.expr(node.operand)
        elif isinstance(node, ast.Call):
            self.call(node)
        elif isinstance(node, ast.Subscript):
            if _signed_int(node.slice) is None:
                raise self.fail(_FORBIDDEN[ast.Slice], node)
            self.expr(node.value)
        else:
            message = _FORBIDDEN.get(type(node), f"{type(node).__name__} is not allowed")
            raise self.fail(message, node)

    def number(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool):
            raise self.fail("True and False are not allowed; use 1 or 0", node)
        if isinstance(value, (str, bytes)):
            raise self.fail("string literals are not allowed", node)
        if isinstance(value, complex):
            raise self.fail("complex numbers are not allowed", node)
        if value is None:
            raise self.fail("None is only allowed for the optional arguments dim, min and max",
                            node)
        if not _is_number(value):
            raise self.fail(f"{value!r} is not allowed", node)
        folded = _fold(node)
        if folded is None or not math.isfinite(folded):
            raise self.fail("number literal is too large for a float", node)

    def name(self, node: ast.Name) -> None:
        if node.id.startswith("__"):
            raise self.fail("dunder names are not allowed", node)
        if node.id not in self.declared:
            if node.id in FUNCTIONS:
                raise self.fail(f"'{node.id}' is a function: call it, e.g. {node.id}(x)", node)
            hint = _did_you_mean(node.id, self.declared | set(FUNCTIONS))
            raise self.fail(f"unknown name '{node.id}'{hint}", node)
        self.names.add(node.id)

    def binop(self, node: ast.BinOp) -> None:
        if type(node.op) not in _OPERATORS:
            raise self.fail(f"operator {_OPERATOR_SYMBOLS[type(node.op)]} is not allowed", node)
        if isinstance(node.op, ast.Pow):
            exponent = _fold(node.right)
            if exponent is not None and not math.isfinite(exponent):
                raise self.fail("constant exponent is not a finite number", node)
            if exponent is not None and abs(exponent) > MAX_EXPONENT:
                raise self.fail(f"constant exponent {exponent:g} is too large: at most "
                                f"{MAX_EXPONENT} in absolute value is allowed", node)
        self.expr(node.left)
        self.expr(node.right)

    def call(self, node: ast.Call) -> None:
        func = node.func
        if not isinstance(func, ast.Name):
            if isinstance(func, ast.Attribute):
                raise self.fail(_FORBIDDEN[ast.Attribute], func)
            raise self.fail("only the whitelisted functions can be called, by name", node)
        name = func.id
        if name.startswith("__"):
            raise self.fail("dunder names are not allowed", node)
        signature = FUNCTIONS.get(name)
        if signature is None:
            if name in self.declared:
                raise self.fail(f"'{name}' is not a function", node)
            raise self.fail(f"unknown function '{name}'{_did_you_mean(name, FUNCTIONS)}", node)
        if signature.rsample_only and not self.allow_randn:
            raise self.fail(f"{name} is only allowed in rsample mode", node)
        self.functions.add(name)
        for param, arg in self.bind(name, signature, node).items():
            self.argument(name, param, arg)

    def bind(self, name: str, signature: Signature, node: ast.Call) -> dict[Param, ast.expr]:
        """Match a call's arguments to `signature` as Python would, or fail naming the call."""
        shown = signature.render(name)
        bound: dict[Param, ast.expr] = {}
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.fail(_FORBIDDEN[ast.Starred], arg)
        if len(node.args) > len(signature.params):
            raise self.fail(f"{name}() takes at most {len(signature.params)} positional "
                            f"argument(s), got {len(node.args)}; signature: {shown}", node)
        bound.update(zip(signature.params, node.args, strict=False))
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.fail("** arguments are not allowed", keyword)
            param = signature.param(keyword.arg)
            if param is None:
                hint = _did_you_mean(keyword.arg, [p.name for p in signature.params])
                raise self.fail(f"{name}() has no argument '{keyword.arg}'{hint}; "
                                f"signature: {shown}", node)
            if param in bound:
                raise self.fail(f"{name}() got more than one value for '{param.name}'; "
                                f"signature: {shown}", node)
            bound[param] = keyword.value
        for param in signature.params:
            if param.required and param not in bound:
                raise self.fail(f"{name}() is missing its argument '{param.name}'; "
                                f"signature: {shown}", node)
        if signature.needs_one_of and not any(
            p.name in signature.needs_one_of and not _is_none(a) for p, a in bound.items()
        ):
            wanted = " or ".join(f"{n}=" for n in signature.needs_one_of)
            raise self.fail(f"{name}() needs {wanted}; signature: {shown}", node)
        return bound

    def argument(self, name: str, param: Param, arg: ast.expr) -> None:
        kind = param.kind
        if kind in (ArgKind.TENSOR, ArgKind.OPTIONAL_TENSOR):
            if not (kind is ArgKind.OPTIONAL_TENSOR and _is_none(arg)):
                self.expr(arg)
        elif kind is ArgKind.TENSORS:
            if not isinstance(arg, ast.List):
                raise self.fail(f"{name}() takes a list literal as '{param.name}', "
                                f"e.g. {name}([x, y])", arg)
            if not arg.elts:
                raise self.fail(f"{name}() needs at least one tensor in its list", arg)
            for element in arg.elts:
                self.expr(element)
        elif kind in (ArgKind.INT, ArgKind.OPTIONAL_INT):
            if _signed_int(arg) is None and not (kind is ArgKind.OPTIONAL_INT and _is_none(arg)):
                raise self.fail(f"{name}() argument '{param.name}' must be {kind.value}", arg)
        elif kind is ArgKind.NUMBER:
            if _signed_constant(arg) is None:
                raise self.fail(f"{name}() argument '{param.name}' must be {kind.value}", arg)
            self.expr(arg)
        else:  # pragma: no cover - every kind is handled above
            raise AssertionError(kind)


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


# ---- evaluation ----------------------------------------------------------------------------


def evaluate(expr: Expr, env: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]], *,
             literal: Callable[[float], Any], check: Callable[[Any], None] | None = None) -> Any:
    """Walk the validated tree. Names come from `env`, calls from `functions` (arguments passed
    as written: positional stay positional, keywords stay keywords). Number literals become
    `literal(float(value))`, except integer-only arguments (`dim`, `k`) and `None`, which stay
    Python values. `check(value)` runs on the result of every operator, subscript and call.

    An ExprError raised by `check` or a function without a piece gets the piece of the node
    being evaluated; any other exception (a torch runtime error) propagates unchanged."""
    return _Evaluator(expr.source, env, functions, literal, check).expr(expr.tree.body)


class _Evaluator:
    def __init__(self, text: str, env: Mapping[str, Any],
                 functions: Mapping[str, Callable[..., Any]], literal: Callable[[float], Any],
                 check: Callable[[Any], None] | None) -> None:
        self.text = text
        self.env = env
        self.functions = functions
        self.literal = literal
        self.check = check

    def expr(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            assert _is_number(node.value)  # parse() admits no other constant here
            return self.literal(float(node.value))
        if isinstance(node, ast.Name):
            if node.id not in self.env:
                raise ExprError(f"no value for '{node.id}' here", node.id)
            return self.env[node.id]
        if isinstance(node, ast.BinOp):
            left, right = self.expr(node.left), self.expr(node.right)
            return self.apply(node, _OPERATORS[type(node.op)], left, right)
        if isinstance(node, ast.UnaryOp):
            return self.apply(node, _UNARY_OPERATORS[type(node.op)], self.expr(node.operand))
        if isinstance(node, ast.Subscript):
            index = _signed_int(node.slice)
            return self.apply(node, operator.getitem, self.expr(node.value), index)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise AssertionError(f"unvalidated node {ast.dump(node)}")  # parse() rejects it

    def call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        signature = FUNCTIONS[name]
        function = self.functions.get(name)
        if function is None:
            raise ExprError(f"function '{name}' is not available here",
                            _segment(self.text, node))
        # Positional arguments fill the first parameters (parse() checked there are no more).
        positional = zip(signature.params, node.args, strict=False)
        args = [self.argument(param, arg) for param, arg in positional]
        kwargs: dict[str, Any] = {}
        for keyword in node.keywords:
            assert keyword.arg is not None
            param = signature.param(keyword.arg)
            assert param is not None
            kwargs[keyword.arg] = self.argument(param, keyword.value)
        return self.apply(node, function, *args, **kwargs)

    def argument(self, param: Param, node: ast.expr) -> Any:
        if _is_none(node):
            return None
        if param.kind in (ArgKind.INT, ArgKind.OPTIONAL_INT):
            return _signed_int(node)
        if param.kind is ArgKind.TENSORS:
            assert isinstance(node, ast.List)
            return [self.expr(element) for element in node.elts]
        return self.expr(node)

    def apply(self, node: ast.expr, function: Callable[..., Any], *args: Any,
              **kwargs: Any) -> Any:
        try:
            value = function(*args, **kwargs)
            if self.check is not None:
                self.check(value)
        except ExprError as err:
            if err.piece is not None:
                raise
            raise ExprError(err.message, _segment(self.text, node)) from err
        return value


# ---- rewriting -----------------------------------------------------------------------------


def substitute(expr: Expr, name: str, template: str) -> str:
    """The source with every reference to `name` replaced by `template.format(name)`, parsed
    as an expression (`"{}**2"`, `"exp({})"`), in `ast.unparse` style. The template must itself
    be a valid expression over `name` (else ExprError); function names are never replaced.

    substitute(parse("diag_embed(std)", names={"std"}), "std", "{}**2") == "diag_embed(std ** 2)"
    """
    replacement = parse(template.format(name), names={name}, allow_randn=True).tree.body
    return ast.unparse(_Substitute(name, replacement).visit(copy.deepcopy(expr.tree)))


class _Substitute(ast.NodeTransformer):
    def __init__(self, name: str, replacement: ast.expr) -> None:
        self.name = name
        self.replacement = replacement

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return copy.deepcopy(self.replacement) if node.id == self.name else node

    def visit_Call(self, node: ast.Call) -> ast.Call:
        # Leave `node.func` alone: a declared name may coincide with a function's name.
        node.args = [self.visit(arg) for arg in node.args]
        node.keywords = [self.visit(keyword) for keyword in node.keywords]
        return node


# ---- the torch binding ---------------------------------------------------------------------


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
