"""The validator's checks that need no recursion: dotted names (`torch.linalg.cholesky`),
constant folding (`2 * math.pi`), constant exponents, subscript entries, `split` sizes, and
matching a call's arguments to its signature."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

from gaussdiag.errors import ExprError
from gaussdiag.frontends.yaml.expr.grammar import (
    CONSTANTS,
    FORBIDDEN,
    MATH_FUNCTIONS,
    MAX_EXPONENT,
    MAX_INDEX,
    OPERATORS,
    UNARY_OPERATORS,
    ArgKind,
    Param,
    Signature,
    is_none,
    is_number,
    segment,
    signed_int,
)
from gaussdiag.suggest import hint

# Builds the located error for a node (the validator's `fail`).
Fail = Callable[[str, ast.AST], ExprError]


def dotted(node: ast.expr) -> list[str] | None:
    """`a.b.c` as ["a", "b", "c"]; None when the chain does not end in a plain name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def fold(node: ast.expr, declared: frozenset[str] = frozenset()) -> float | None:
    """The value of a constant subexpression in float arithmetic (inf or nan where it
    overflows or is undefined), or None when it involves names or calls other than `math.`
    functions of constants. Never raises and never builds huge integers, so `10**10**10`
    folds to inf at once."""
    if isinstance(node, ast.Constant):
        if not is_number(node.value):
            return None
        try:
            return float(node.value)
        except OverflowError:
            return math.inf
    if isinstance(node, ast.Attribute):
        chain = dotted(node)
        if chain is None or chain[0] in declared or len(chain) != 2:
            return None
        return CONSTANTS.get(chain[0], {}).get(chain[1])
    if isinstance(node, ast.Call):
        chain = dotted(node.func)
        if (chain is None or chain[0] in declared or chain[:1] != ["math"] or len(chain) != 2
                or chain[1] not in MATH_FUNCTIONS or len(node.args) != 1 or node.keywords):
            return None
        inner = fold(node.args[0], declared)
        if inner is None:
            return None
        try:
            return MATH_FUNCTIONS[chain[1]](inner)
        except (ValueError, OverflowError):
            return math.nan
    if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY_OPERATORS:
        inner = fold(node.operand, declared)
        return None if inner is None else -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        if isinstance(node.op, ast.MatMult):
            return None
        left, right = fold(node.left, declared), fold(node.right, declared)
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


def located(new: ast.expr, old: ast.AST) -> ast.expr:
    return ast.copy_location(new, old)


def check_sizes(arg: ast.expr, fail: Fail, text: str) -> None:
    """`split`'s sizes: a positive integer literal or a non-empty list of them."""
    elements = arg.elts if isinstance(arg, (ast.List, ast.Tuple)) else [arg]
    if not elements:
        raise fail("split() needs at least one size", arg)
    for element in elements:
        value = signed_int(element)
        if value is None or not 1 <= value <= MAX_INDEX:
            raise fail(f"split() sizes must be positive integer literals, got "
                       f"`{segment(text, element)}`", element)


def check_index(entry: ast.expr, fail: Fail) -> None:
    """One subscript entry: an integer literal, a slice of them (positive step), None, `...`."""
    allowed = "subscripts take integer literals, slices such as 0:3, None and ..."
    if isinstance(entry, ast.Constant) and (entry.value is None or entry.value is Ellipsis):
        return
    if isinstance(entry, ast.Slice):
        for bound in (entry.lower, entry.upper, entry.step):
            if bound is not None and not is_none(bound):
                value = signed_int(bound)
                if value is None or abs(value) > MAX_INDEX:
                    raise fail(f"slice bounds must be integer literals of at most "
                                    f"{MAX_INDEX} in absolute value", entry)
        step = signed_int(entry.step) if entry.step is not None else None
        if step is not None and step <= 0:
            raise fail("a slice step must be positive", entry)
        return
    value = signed_int(entry)
    if value is None:
        raise fail(allowed, entry)
    if abs(value) > MAX_INDEX:
        raise fail(f"index {value} is too large: at most {MAX_INDEX} in absolute "
                        "value", entry)


def check_exponent(node: ast.AST, exponent: ast.expr, fail: Fail,
                   declared: frozenset[str]) -> None:
    """A constant exponent (`x ** c`, `x.pow(c)`) is finite and at most MAX_EXPONENT."""
    value = fold(exponent, declared)
    if value is not None and not math.isfinite(value):
        raise fail("constant exponent is not a finite number", node)
    if value is not None and abs(value) > MAX_EXPONENT:
        raise fail(f"constant exponent {value:g} is too large: at most "
                        f"{MAX_EXPONENT} in absolute value is allowed", node)


def bind(name: str, signature: Signature, node: ast.Call, positional: list[ast.expr],
         fail: Fail, declared: frozenset[str]) -> dict[Param, ast.expr]:
    """Match a call's arguments to `signature` as Python would, or fail naming the call.
    Shape parameters take the rest of the positionals as torch does: `x.view(-1, 3, 3)`."""
    shown = signature.render(name)
    for arg in positional:
        if isinstance(arg, ast.Starred):
            raise fail(FORBIDDEN[ast.Starred], arg)
    last = signature.params[-1] if signature.params else None
    if last is not None and last.kind is ArgKind.SHAPE:
        at = len(signature.params) - 1
        rest = positional[at:]
        if len(rest) > 1 or (rest and not isinstance(rest[0], (ast.List, ast.Tuple))):
            positional = positional[:at] + [located(ast.Tuple(rest, ast.Load()), rest[0])]
    if len(positional) > len(signature.params):
        raise fail(f"{name}() takes at most {len(signature.params)} positional "
                        f"argument(s), got {len(positional)}; signature: {shown}", node)
    bound: dict[Param, ast.expr] = dict(zip(signature.params, positional, strict=False))
    for keyword in node.keywords:
        if keyword.arg is None:
            raise fail("** arguments are not allowed", keyword)
        param = signature.param(keyword.arg)
        if param is None:
            close = hint(keyword.arg, [p.name for p in signature.params])
            raise fail(f"{name}() has no argument '{keyword.arg}'{close}; "
                            f"signature: {shown}", node)
        if param in bound:
            raise fail(f"{name}() got more than one value for '{param.name}'; "
                            f"signature: {shown}", node)
        bound[param] = keyword.value
    for param in signature.params:
        if param.required and param not in bound:
            raise fail(f"{name}() is missing its argument '{param.name}'; "
                            f"signature: {shown}", node)
    if signature.needs_one_of and not any(
        p.name in signature.needs_one_of and not is_none(a) for p, a in bound.items()
    ):
        wanted = " or ".join(f"{n}=" for n in signature.needs_one_of)
        raise fail(f"{name}() needs {wanted}; signature: {shown}", node)
    if name == "transpose" and sum(p.name in ("dim0", "dim1") and not is_none(a)
                                   for p, a in bound.items()) == 1:
        raise fail("transpose() takes both dim0 and dim1, or neither (the last two "
                        f"dims); signature: {shown}", node)
    if name == "pow":
        check_exponent(node, bound[signature.params[1]], fail, declared)
    return bound
