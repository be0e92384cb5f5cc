"""Validate an expression against the grammar and the limits, naming the offending piece.
Never imports torch, so spec errors answer fast."""

from __future__ import annotations

import ast
import math
import warnings
from collections.abc import Collection

from gaussdiag.errors import ExprError
from gaussdiag.expr.grammar import (
    FORBIDDEN,
    FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_NODES,
    OPERATOR_SYMBOLS,
    OPERATORS,
    TOKENS,
    UNARY_OPERATORS,
    ArgKind,
    Expr,
    Param,
    Signature,
    cut,
    is_none,
    is_number,
    segment,
    signed_constant,
    signed_int,
)
from gaussdiag.suggest import hint


def parse(source: str, *, names: Collection[str], allow_randn: bool = False) -> Expr:
    """Validate `source` against the grammar and limits; raise ExprError naming the offending
    piece. `names` are the declared names; `randn_like` needs `allow_randn` (rsample mode)."""
    if len(source) > MAX_LENGTH:
        raise ExprError(f"expression is longer than {MAX_LENGTH} characters ({len(source)})",
                        cut(source))
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
        raise ExprError(f"syntax error{where}: {err.msg}", cut(text)) from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as err:
        # ValueError: null bytes or lone surrogates in the text; the others: inputs that
        # exhaust the parser despite the length cap.
        raise ExprError(f"cannot parse the expression ({type(err).__name__})",
                        cut(text)) from None


def _check_size(text: str, tree: ast.Expression) -> None:
    """Enforce MAX_DEPTH and MAX_NODES iteratively, before any recursive walk."""
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExprError(f"expression nests deeper than {MAX_DEPTH} levels",
                            segment(text, node))
        count += 1
        if count > MAX_NODES:
            raise ExprError(f"expression has more than {MAX_NODES} parts", cut(text))
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node)
                     if not isinstance(child, TOKENS))



def _fold(node: ast.expr) -> float | None:
    """The value of a constant subexpression in float arithmetic (inf or nan where it
    overflows or is undefined), or None when it involves names or calls. Never raises and
    never builds huge integers, so `10**10**10` folds to inf at once."""
    if isinstance(node, ast.Constant):
        value = node.value
        if not is_number(value):
            return None
        try:
            return float(value)
        except OverflowError:
            return math.inf
    if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY_OPERATORS:
        inner = _fold(node.operand)
        return None if inner is None else -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        if isinstance(node.op, ast.MatMult):
            return None
        left, right = _fold(node.left), _fold(node.right)
        if left is None or right is None:
            return None
        try:
            result: object = OPERATORS[type(node.op)](left, right)
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
        return ExprError(message, segment(self.text, node))

    def expr(self, node: ast.expr) -> None:
        if isinstance(node, ast.Constant):
            self.number(node)
        elif isinstance(node, ast.Name):
            self.name(node)
        elif isinstance(node, ast.BinOp):
            self.binop(node)
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in UNARY_OPERATORS:
                raise self.fail(f"operator {OPERATOR_SYMBOLS[type(node.op)]} is not allowed",
                                node)
            self.expr(node.operand)
        elif isinstance(node, ast.Call):
            self.call(node)
        elif isinstance(node, ast.Subscript):
            if signed_int(node.slice) is None:
                raise self.fail(FORBIDDEN[ast.Slice], node)
            self.expr(node.value)
        else:
            message = FORBIDDEN.get(type(node), f"{type(node).__name__} is not allowed")
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
        if not is_number(value):
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
            close = hint(node.id, self.declared | set(FUNCTIONS))
            raise self.fail(f"unknown name '{node.id}'{close}", node)
        self.names.add(node.id)

    def binop(self, node: ast.BinOp) -> None:
        if type(node.op) not in OPERATORS:
            raise self.fail(f"operator {OPERATOR_SYMBOLS[type(node.op)]} is not allowed", node)
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
                raise self.fail(FORBIDDEN[ast.Attribute], func)
            raise self.fail("only the whitelisted functions can be called, by name", node)
        name = func.id
        if name.startswith("__"):
            raise self.fail("dunder names are not allowed", node)
        signature = FUNCTIONS.get(name)
        if signature is None:
            if name in self.declared:
                raise self.fail(f"'{name}' is not a function", node)
            raise self.fail(f"unknown function '{name}'{hint(name, FUNCTIONS)}", node)
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
                raise self.fail(FORBIDDEN[ast.Starred], arg)
        if len(node.args) > len(signature.params):
            raise self.fail(f"{name}() takes at most {len(signature.params)} positional "
                            f"argument(s), got {len(node.args)}; signature: {shown}", node)
        bound.update(zip(signature.params, node.args, strict=False))
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.fail("** arguments are not allowed", keyword)
            param = signature.param(keyword.arg)
            if param is None:
                close = hint(keyword.arg, [p.name for p in signature.params])
                raise self.fail(f"{name}() has no argument '{keyword.arg}'{close}; "
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
            p.name in signature.needs_one_of and not is_none(a) for p, a in bound.items()
        ):
            wanted = " or ".join(f"{n}=" for n in signature.needs_one_of)
            raise self.fail(f"{name}() needs {wanted}; signature: {shown}", node)
        return bound

    def argument(self, name: str, param: Param, arg: ast.expr) -> None:
        kind = param.kind
        if kind in (ArgKind.TENSOR, ArgKind.OPTIONAL_TENSOR):
            if not (kind is ArgKind.OPTIONAL_TENSOR and is_none(arg)):
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
            if signed_int(arg) is None and not (kind is ArgKind.OPTIONAL_INT and is_none(arg)):
                raise self.fail(f"{name}() argument '{param.name}' must be {kind.value}", arg)
        elif kind is ArgKind.NUMBER:
            if signed_constant(arg) is None:
                raise self.fail(f"{name}() argument '{param.name}' must be {kind.value}", arg)
            self.expr(arg)
        else:  # pragma: no cover - every kind is handled above
            raise AssertionError(kind)


