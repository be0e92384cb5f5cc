"""Validate an expression against the grammar and the limits, naming the offending piece.
Never imports torch, so spec errors answer fast."""

from __future__ import annotations

import ast
import warnings
from collections.abc import Collection

from gaussdiag.errors import ExprError
from gaussdiag.frontends.yaml.expr.grammar import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NODES,
    TOKENS,
    Expr,
    Kind,
    cut,
    segment,
)
from gaussdiag.frontends.yaml.expr.validate import Validator


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
    validator = Validator(text, frozenset(names), allow_randn)
    kind, program = validator.expr(tree.body)
    if kind not in (Kind.TENSOR, Kind.INT):
        validator.value(tree.body)  # raises, saying what to do with a shape or a tuple
    return Expr(text, tree, frozenset(validator.names), frozenset(validator.functions),
                ast.Expression(program))


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
