"""Walk a validated expression: evaluate it with caller-supplied values and functions, or
rewrite a name in it (to print concrete fixes)."""

from __future__ import annotations

import ast
import copy
import operator
from collections.abc import Callable, Mapping
from typing import Any

from gaussdiag.errors import ExprError
from gaussdiag.expr.grammar import (
    FUNCTIONS,
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
from gaussdiag.expr.parse import parse


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
            index = signed_int(node.slice)
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
        return self.apply(node, function, *args, **kwargs)

    def argument(self, param: Param, node: ast.expr) -> Any:
        if is_none(node):
            return None
        if param.kind in (ArgKind.INT, ArgKind.OPTIONAL_INT):
            return signed_int(node)
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
            raise ExprError(err.message, segment(self.text, node)) from err
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

