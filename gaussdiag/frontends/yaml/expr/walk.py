"""Walk a validated expression: evaluate it with caller-supplied values and functions, or
rewrite a name in it (to print concrete fixes)."""

from __future__ import annotations

import ast
import copy
import operator
from collections.abc import Callable, Mapping
from typing import Any

from gaussdiag.errors import ExprError
from gaussdiag.frontends.yaml.expr.grammar import (
    ATTRIBUTES,
    FUNCTIONS,
    METHOD_ONLY,
    OPERATORS,
    UNARY_OPERATORS,
    ArgKind,
    Expr,
    Param,
    is_none,
    is_number,
    segment,
    signed_int,
)
from gaussdiag.frontends.yaml.expr.parse import parse

_COMPARISONS: Mapping[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}


def evaluate(expr: Expr, env: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]], *,
             literal: Callable[[float], Any], check: Callable[[Any], None] | None = None) -> Any:
    """Walk the validated tree. Names come from `env`, calls from `functions` (arguments passed
    as written: positional stay positional, keywords stay keywords). Number literals become
    `literal(float(value))`, except integer-only arguments (`dim`, `k`), shapes (tuples of
    ints), `keepdim` and `None`, which stay Python values. A function that creates a tensor
    (`zeros`, `randn`) also gets `like=literal(0.0)`, for the run's dtype and device.
    `check(value)` runs on the result of every operator, subscript, attribute and call.

    An ExprError raised by `check` or a function without a piece gets the piece of the node
    being evaluated; any other exception (a torch runtime error) propagates unchanged."""
    return _Evaluator(expr.source, env, functions, literal, check).expr(expr.program.body)


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
            assert is_number(node.value)  # parse() admits no other constant here
            return self.literal(float(node.value))
        if isinstance(node, ast.Name):
            if node.id not in self.env:
                raise ExprError(f"no value for '{node.id}' here", node.id)
            return self.env[node.id]
        if isinstance(node, ast.BinOp):
            left, right = self.expr(node.left), self.expr(node.right)
            return self.apply(node, OPERATORS[type(node.op)], left, right)
        if isinstance(node, ast.UnaryOp):
            return self.apply(node, UNARY_OPERATORS[type(node.op)], self.expr(node.operand))
        if isinstance(node, ast.Subscript):
            return self.apply(node, operator.getitem, self.expr(node.value), _index(node.slice))
        if isinstance(node, ast.Attribute):
            assert node.attr in ATTRIBUTES  # parse() admits no other attribute
            return self.apply(node, getattr, self.expr(node.value), node.attr)
        if isinstance(node, ast.Compare):
            compare = _COMPARISONS[type(node.ops[0])]
            return self.apply(node, compare, self.expr(node.left), self.expr(node.comparators[0]))
        if isinstance(node, ast.Call):
            return self.call(node)
        raise AssertionError(f"unvalidated node {ast.dump(node)}")  # parse() rejects it

    def call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        signature = FUNCTIONS.get(name) or METHOD_ONLY[name]
        function = self.functions.get(name)
        if function is None:
            raise ExprError(f"function '{name}' is not available here",
                            segment(self.text, node))
        # Positional arguments fill the first parameters (parse() checked there are no more).
        positional = zip(signature.params, node.args, strict=False)
        args = [self.argument(param, arg) for param, arg in positional]
        kwargs: dict[str, Any] = {}
        for keyword in node.keywords:
            assert keyword.arg is not None
            param = signature.param(keyword.arg)
            assert param is not None
            kwargs[keyword.arg] = self.argument(param, keyword.value)
        if signature.factory:
            kwargs["like"] = self.literal(0.0)
        return self.apply(node, function, *args, **kwargs)

    def argument(self, param: Param, node: ast.expr) -> Any:
        if is_none(node):
            return None
        kind = param.kind
        if kind in (ArgKind.INT, ArgKind.OPTIONAL_INT, ArgKind.POSITIVE_INT):
            return signed_int(node)
        if kind is ArgKind.BOOL:
            assert isinstance(node, ast.Constant)
            return bool(node.value)
        if kind is ArgKind.SIZES:
            if isinstance(node, (ast.List, ast.Tuple)):
                return [signed_int(element) for element in node.elts]
            return signed_int(node)
        if kind is ArgKind.SHAPE:
            if isinstance(node, ast.Tuple):
                return tuple(self.dimension(element) for element in node.elts)
            return tuple(int(n) for n in self.expr(node))  # x.shape, x.size()
        if kind is ArgKind.TENSORS:
            assert isinstance(node, ast.List)
            return [self.expr(element) for element in node.elts]
        return self.expr(node)

    def dimension(self, node: ast.expr) -> int:
        literal = signed_int(node)
        return int(self.expr(node)) if literal is None else literal

    def apply(self, node: ast.expr, function: Callable[..., Any], *args: Any,
              **kwargs: Any) -> Any:
        try:
            value = function(*args, **kwargs)
            if self.check is not None:
                self.check(value)
        except ExprError as err:
            if err.piece is not None:
                raise
            raise ExprError(err.message, segment(self.text, node)) from err
        return value


def _index(node: ast.expr) -> Any:
    """A validated subscript as a Python index: ints, slices, None and Ellipsis."""
    if isinstance(node, ast.Tuple):
        return tuple(_index(element) for element in node.elts)
    if isinstance(node, ast.Slice):
        return slice(*(None if part is None else _index(part)
                       for part in (node.lower, node.upper, node.step)))
    if isinstance(node, ast.Constant) and (node.value is None or node.value is Ellipsis):
        return node.value
    return signed_int(node)


# ---- rewriting -----------------------------------------------------------------------------


def substitute(expr: Expr, name: str, template: str) -> str:
    """The source with every reference to `name` replaced by `template.format(name)`, parsed
    as an expression (`"{}**2"`, `"exp({})"`), in `ast.unparse` style. The template must itself
    be a valid expression over `name` (else ExprError); function names are never replaced.

    substitute(parse("diag_embed(std)", names={"std"}), "std", "{}**2") == "diag_embed(std ** 2)"
    """
    replacement = parse(template.format(name), names={name}, allow_randn=True).tree.body
    tree = _Substitute(name, replacement).visit(copy.deepcopy(expr.tree))
    return ast.unparse(_Cancel().visit(tree))


class _Cancel(ast.NodeTransformer):
    """A factor the fix multiplies in and the user's expression divides out, or the reverse,
    cancelled: `2 * h / 2` and `2 * (h / 2)` read `h` (the scale candidate's fixes)."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        outer = _number(node.right) if isinstance(node.op, (ast.Div, ast.Mult)) else None
        inner = node.left
        if outer is None and isinstance(node.op, ast.Mult):  # c * (x / c)
            outer, inner = _number(node.left), node.right
        if outer is None or outer == 0 or not isinstance(inner, ast.BinOp):
            return node
        undo = ast.Mult if isinstance(node.op, ast.Div) else ast.Div
        if isinstance(inner.op, undo) and _number(inner.right) == outer:
            return inner.left  # (x * c) / c, (x / c) * c, c * (x / c)
        if isinstance(inner.op, ast.Mult) and undo is ast.Mult and _number(inner.left) == outer:
            return inner.right  # (c * x) / c
        return node


def _number(node: ast.expr) -> float | None:
    value = node.value if isinstance(node, ast.Constant) else None
    # not bool, not complex: a number the user wrote as a factor
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


class _Substitute(ast.NodeTransformer):
    def __init__(self, name: str, replacement: ast.expr) -> None:
        self.name = name
        self.replacement = replacement

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return copy.deepcopy(self.replacement) if node.id == self.name else node

    def visit_Call(self, node: ast.Call) -> ast.Call:
        # Leave a plain function name alone: a declared name may coincide with it. A method's
        # receiver (`std` in `std.sqrt()`) is visited; module roots (`torch`) are never
        # declared names, so they are never replaced.
        if isinstance(node.func, ast.Attribute):
            node.func = self.visit(node.func)
        node.args = [self.visit(arg) for arg in node.args]
        node.keywords = [self.visit(keyword) for keyword in node.keywords]
        return node

