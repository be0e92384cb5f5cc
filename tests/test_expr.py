"""Tests for gaussdiag.expr: the whitelist grammar and its limits, evaluation against
independent references (numpy, mpmath, closed forms), substitution, and properties over
generated and hostile expressions."""

from __future__ import annotations

import inspect
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from gaussdiag import expr as ex
from gaussdiag.errors import ExprError
from tests.strategies import EXPR_SHAPES, SETTINGS, hostile_text, typed_expressions

F64 = torch.float64

# ---- fixtures: one point, as numpy (for references) and as torch (for the evaluator) -------

# A lower-triangular factor with a positive diagonal: cholesky(L @ L.T) is L exactly, and
# logdet(L @ L.T) is 2 * sum(log(diag(L))), closed forms independent of torch.
_L = np.array([[2.0, 0.0, 0.0], [0.5, 1.5, 0.0], [-0.3, 0.2, 1.0]])
NP: dict[str, Any] = {
    "v": np.array([0.5, 1.2, 2.0]),                   # positive: sqrt, log, lgamma, digamma
    "w": np.array([-0.7, 0.1, 0.6]),                  # mixed signs, inside (-1, 1) for atanh
    "s": np.float64(0.7),
    "A": _L @ _L.T,                                   # symmetric positive definite
    "B": np.array([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]]),
    "N": np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),  # not positive definite
}
NAMES = frozenset(NP)


def env() -> dict[str, torch.Tensor]:
    return {name: torch.tensor(value, dtype=F64) for name, value in NP.items()}


def literal64(value: float) -> torch.Tensor:
    return torch.tensor(value, dtype=F64)


def run(source: str, *, names: frozenset[str] = NAMES, values: dict[str, Any] | None = None,
        functions: dict[str, Callable[..., Any]] | None = None,
        check: Callable[[Any], None] | None = None, allow_randn: bool = False) -> Any:
    parsed = ex.parse(source, names=names, allow_randn=allow_randn)
    return ex.evaluate(parsed, env() if values is None else values,
                       ex.torch_functions() if functions is None else functions,
                       literal=literal64, check=check)


# ---- the whitelist ---------------------------------------------------------------------------

# Copied from spec-v1.md, "Expressions", in its order.
SPEC_FUNCTIONS = [
    "sqrt", "exp", "log", "log1p", "expm1", "square", "abs", "softplus", "sigmoid", "tanh",
    "elu", "relu", "diag_embed", "diagonal", "tril", "triu", "transpose", "matmul", "eye_like",
    "sum", "mean", "clamp", "cat", "stack", "detach", "cholesky", "inverse", "solve", "logdet",
    "lgamma", "digamma", "atanh", "logsumexp", "randn_like",
]


def test_whitelist_is_the_spec_list() -> None:
    assert list(ex.FUNCTIONS) == SPEC_FUNCTIONS


@pytest.mark.parametrize("name", SPEC_FUNCTIONS)
def test_torch_binding_matches_signature(name: str) -> None:
    bound = inspect.signature(ex.torch_functions()[name]).parameters
    params = ex.FUNCTIONS[name].params
    assert list(bound) == [p.name for p in params], name
    for param in params:
        expected = inspect.Parameter.empty if param.required else param.default
        assert bound[param.name].default == expected, (name, param.name)


def test_limits_are_sane() -> None:
    assert 100 <= ex.MAX_LENGTH <= 10_000
    assert 8 <= ex.MAX_DEPTH <= 100  # far below the interpreter's recursion limit
    assert ex.MAX_NODES >= 100
    assert ex.MAX_EXPONENT >= 4


# ---- accepted expressions, checked against independent references --------------------------

def _ref(source: str, expected: Callable[[dict[str, Any]], Any]) -> Any:
    return pytest.param(source, expected, id=source)


ACCEPT = [
    # operators and literals
    _ref("v + w", lambda n: n["v"] + n["w"]),
    _ref("v - w", lambda n: n["v"] - n["w"]),
    _ref("v * w", lambda n: n["v"] * n["w"]),
    _ref("v / w", lambda n: n["v"] / n["w"]),
    _ref("v ** 2", lambda n: n["v"] * n["v"]),
    _ref("v ** -0.5", lambda n: 1 / np.sqrt(n["v"])),
    _ref("2 ** v", lambda n: np.power(2.0, n["v"])),
    _ref("-v", lambda n: -n["v"]),
    _ref("+w", lambda n: n["w"]),
    _ref("A @ v", lambda n: n["A"] @ n["v"]),
    _ref("A @ B", lambda n: n["A"] @ n["B"]),
    _ref("v[0]", lambda n: n["v"][0]),
    _ref("A[-1]", lambda n: n["A"][-1]),
    _ref("A[0][1]", lambda n: n["A"][0, 1]),
    _ref("(v + 1) * 2 / 4 - 0.25", lambda n: (n["v"] + 1) * 2 / 4 - 0.25),
    _ref("sqrt(2)", lambda n: math.sqrt(2)),
    _ref("-0.5 * ((w - v) / s) ** 2 - log(s) - 0.9189385332046727",
         lambda n: -0.5 * ((n["w"] - n["v"]) / n["s"]) ** 2 - math.log(0.7)
         - 0.5 * math.log(2 * math.pi)),
    # unary functions
    _ref("sqrt(v)", lambda n: np.sqrt(n["v"])),
    _ref("exp(w)", lambda n: np.exp(n["w"])),
    _ref("log(v)", lambda n: np.log(n["v"])),
    _ref("log1p(w)", lambda n: np.log1p(n["w"])),
    _ref("expm1(w)", lambda n: np.expm1(n["w"])),
    _ref("square(w)", lambda n: n["w"] * n["w"]),
    _ref("abs(w)", lambda n: np.abs(n["w"])),
    _ref("softplus(w)", lambda n: np.log1p(np.exp(n["w"]))),
    _ref("sigmoid(w)", lambda n: 1 / (1 + np.exp(-n["w"]))),
    _ref("tanh(w)", lambda n: np.tanh(n["w"])),
    _ref("relu(w)", lambda n: np.maximum(n["w"], 0.0)),
    _ref("lgamma(v)", lambda n: [math.lgamma(x) for x in n["v"]]),
    _ref("digamma(v)", lambda n: [float(mpmath.digamma(x)) for x in n["v"]]),
    _ref("atanh(w)", lambda n: np.arctanh(n["w"])),
    _ref("detach(v)", lambda n: n["v"]),
    # keyword signatures, positional and by keyword
    _ref("elu(w)", lambda n: np.where(n["w"] > 0, n["w"], np.expm1(n["w"]))),
    _ref("elu(w, alpha=0.5)", lambda n: np.where(n["w"] > 0, n["w"], 0.5 * np.expm1(n["w"]))),
    _ref("elu(w, -2)", lambda n: np.where(n["w"] > 0, n["w"], -2 * np.expm1(n["w"]))),
    _ref("clamp(w, min=0)", lambda n: np.maximum(n["w"], 0.0)),
    _ref("clamp(w, max=0.1)", lambda n: np.minimum(n["w"], 0.1)),
    _ref("clamp(w, -0.5, 0.5)", lambda n: np.clip(n["w"], -0.5, 0.5)),
    _ref("clamp(w, min=-s, max=None)", lambda n: np.maximum(n["w"], -0.7)),
    _ref("clamp(w, min=v - 1)", lambda n: np.maximum(n["w"], n["v"] - 1)),
    _ref("sum(A)", lambda n: n["A"].sum()),
    _ref("sum(A, dim=0)", lambda n: n["A"].sum(axis=0)),
    _ref("sum(A, -1)", lambda n: n["A"].sum(axis=-1)),
    _ref("sum(A, dim=None)", lambda n: n["A"].sum()),
    _ref("mean(v)", lambda n: n["v"].mean()),
    _ref("mean(A, dim=1)", lambda n: n["A"].mean(axis=1)),
    _ref("logsumexp(A, dim=-1)", lambda n: np.log(np.exp(n["A"]).sum(axis=-1))),
    _ref("logsumexp(v, 0)", lambda n: np.log(np.exp(n["v"]).sum())),
    _ref("tril(A)", lambda n: np.tril(n["A"])),
    _ref("tril(A, k=-1)", lambda n: np.tril(n["A"], -1)),
    _ref("triu(A)", lambda n: np.triu(n["A"])),
    _ref("triu(A, 1)", lambda n: np.triu(n["A"], 1)),
    _ref("cat([v, w])", lambda n: np.concatenate([n["v"], n["w"]])),
    _ref("cat([A, B], dim=1)", lambda n: np.concatenate([n["A"], n["B"]], axis=1)),
    _ref("cat([v])", lambda n: n["v"]),
    _ref("stack([v, w])", lambda n: np.stack([n["v"], n["w"]])),
    _ref("stack([v, w, v], dim=-1)", lambda n: np.stack([n["v"], n["w"], n["v"]], axis=-1)),
    # matrices
    _ref("diag_embed(v)", lambda n: np.diag(n["v"])),
    _ref("diagonal(A)", lambda n: np.diag(n["A"])),
    _ref("transpose(B)", lambda n: n["B"].T),
    _ref("matmul(A, B)", lambda n: n["A"] @ n["B"]),
    _ref("eye_like(A)", lambda n: np.eye(3)),
    _ref("eye_like(v)", lambda n: np.eye(3)),
    _ref("eye_like(stack([A, A]))", lambda n: np.broadcast_to(np.eye(3), (2, 3, 3))),
    _ref("cholesky(A)", lambda n: _L),
    _ref("inverse(A)", lambda n: np.linalg.inv(n["A"])),
    _ref("solve(A, B)", lambda n: np.linalg.solve(n["A"], n["B"])),
    _ref("logdet(A)", lambda n: 2 * np.log(np.diag(_L)).sum()),
    _ref("diag_embed(v ** 2) @ inverse(A)", lambda n: np.diag(n["v"] ** 2) @ np.linalg.inv(n["A"])),
]


@pytest.mark.parametrize(("source", "expected"), ACCEPT)
def test_accept(source: str, expected: Callable[[dict[str, Any]], Any]) -> None:
    actual = run(source)
    reference = torch.tensor(np.array(expected(NP), dtype=np.float64))
    torch.testing.assert_close(actual, reference, msg=lambda m: f"{source!r} at {NP}: {m}")


def test_accept_table_covers_every_function() -> None:
    called = set().union(*(ex.parse(p.values[0], names=NAMES).functions for p in ACCEPT))
    assert called == set(ex.FUNCTIONS) - {"randn_like"}  # randn_like: test_randn_like


def test_parse_reports_names_and_functions() -> None:
    parsed = ex.parse("  clamp(v, min=w) + sqrt(s)[0] - v  ", names=NAMES)
    assert parsed.source == "clamp(v, min=w) + sqrt(s)[0] - v"
    assert parsed.names == {"v", "w", "s"}
    assert parsed.functions == {"clamp", "sqrt"}


@pytest.mark.parametrize("source", ["x ** 64", "x ** -64", "2 ** 2 ** 6", "x ** (8 * 8)",
                                    "x ** y ** 2", "x ** 10 ** 1"])
def test_accept_exponents_within_limit(source: str) -> None:
    ex.parse(source, names={"x", "y"})


def test_randn_like() -> None:
    values = env()
    gen = torch.Generator().manual_seed(0)
    functions = ex.torch_functions(sample_shape=(2,), generator=gen)
    parsed = ex.parse("sqrt(s) * randn_like(v) + v", names=NAMES, allow_randn=True)
    actual = ex.evaluate(parsed, values, functions, literal=literal64)
    noise = torch.randn((2, 3), dtype=F64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(actual, math.sqrt(0.7) * noise + values["v"])


def test_literals_take_the_run_dtype() -> None:
    values = {k: t.to(torch.float32) for k, t in env().items()}
    seen: list[float] = []

    def literal32(value: float) -> torch.Tensor:
        seen.append(value)
        return torch.tensor(value, dtype=torch.float32)

    parsed = ex.parse("2 * sum(v, dim=0) + clamp(w, min=-1) + tril(A, k=-1)[0][0]", names=NAMES)
    out = ex.evaluate(parsed, values, ex.torch_functions(), literal=literal32)
    assert out.dtype == torch.float32
    assert seen == [2.0, 1.0]  # dim and k stay Python ints; -1 is unary minus on literal 1


def test_arguments_pass_through_as_written() -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    values = env()

    def record(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        return values["v"]

    functions = dict.fromkeys(ex.FUNCTIONS, record)
    parsed = ex.parse("sum(clamp(v, 0, max=None), dim=-1) + cat([v, w], 1)", names=NAMES)
    ex.evaluate(parsed, values, functions, literal=float)
    (clamp_args, clamp_kwargs), (sum_args, sum_kwargs), (cat_args, cat_kwargs) = calls
    assert clamp_args == (values["v"], 0.0) and clamp_kwargs == {"max": None}
    assert sum_kwargs == {"dim": -1} and type(sum_kwargs["dim"]) is int
    assert cat_args == ([values["v"], values["w"]], 1) and type(cat_args[1]) is int


# ---- check, runtime errors -----------------------------------------------------------------

def test_check_sees_every_operation_and_call() -> None:
    seen: list[torch.Tensor] = []
    out = run("sqrt(v) + 1 - v[0]", check=seen.append)
    # sqrt(v), v[0], then `+` and `-`; names and literals are not operations.
    assert len(seen) == 4 and seen[-1] is out


def test_check_can_abort_and_gets_the_piece() -> None:
    def bound(value: torch.Tensor) -> None:
        if value.numel() > 4:
            raise ExprError(f"{value.numel()} elements exceed the limit of 4")

    with pytest.raises(ExprError) as info:
        run("sum(v) + sum(cat([v, w]))", check=bound)
    assert info.value.message == "6 elements exceed the limit of 4"
    assert info.value.piece == "cat([v, w])"


def test_check_error_with_a_piece_is_kept() -> None:
    def refuse(value: torch.Tensor) -> None:
        raise ExprError("refused", "elsewhere")

    with pytest.raises(ExprError) as info:
        run("-v", check=refuse)
    assert info.value.piece == "elsewhere"


@pytest.mark.parametrize(("source", "message"), [
    ("eye_like(s)", "eye_like needs a vector or (a batch of) square matrices, got shape []"),
    ("eye_like(B)", "got shape [3, 2]"),
])
def test_binding_errors_get_the_piece(source: str, message: str) -> None:
    with pytest.raises(ExprError) as info:
        run(source)
    assert message in info.value.message
    assert info.value.piece == source


@pytest.mark.parametrize(("source", "error"), [
    pytest.param("cholesky(N)", torch.linalg.LinAlgError,  # type: ignore[attr-defined]
                 id="cholesky-not-pd"),
    pytest.param("A @ cat([v, v])", RuntimeError, id="matmul-shapes"),
    pytest.param("solve(A, v[0])", RuntimeError, id="solve-shapes"),
])
def test_torch_errors_propagate_unchanged(source: str, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        run(source)
    assert not isinstance(info.value, ExprError)


def test_missing_value_or_function_is_an_expr_error() -> None:
    parsed = ex.parse("sqrt(v) + w", names=NAMES)
    with pytest.raises(ExprError, match="no value for 'w'"):
        ex.evaluate(parsed, {"v": literal64(1.0)}, ex.torch_functions(), literal=literal64)
    with pytest.raises(ExprError, match="function 'sqrt' is not available"):
        ex.evaluate(parsed, env(), {}, literal=literal64)


def test_detach_stops_the_gradient() -> None:
    values = env()
    values["v"].requires_grad_(True)
    out = run("sum(v * detach(v))", values=values)
    out.backward()
    torch.testing.assert_close(values["v"].grad, values["v"].detach())


# ---- rejected expressions --------------------------------------------------------------------

def _bad(case_id: str, source: str, message: str, piece: str | None, *,
         names: frozenset[str] = frozenset({"x", "y", "std", "mean"})) -> Any:
    """`piece` None: the piece is checked to be a prefix of the source (long inputs)."""
    return pytest.param(source, names, message, piece, id=case_id)


_LONG_SUM = "x + " * 600 + "x"
REJECT = [
    # escapes and Python machinery
    _bad("dunder-import", "__import__('os')", "dunder names are not allowed",
         "__import__('os')"),
    _bad("dunder-name", "__x", "dunder names are not allowed", "__x", names=frozenset({"__x"})),
    _bad("class-of-tuple", "().__class__", "attribute access is not allowed", "().__class__"),
    _bad("attribute", "x.grad", "attribute access is not allowed", "x.grad"),
    _bad("mro", "x.__class__.__mro__", "attribute access is not allowed", "x.__class__.__mro__"),
    _bad("method-call", "x.sum()", "attribute access is not allowed", "x.sum"),
    _bad("lambda", "lambda: 1", "lambda is not allowed", "lambda: 1"),
    _bad("comprehension", "[i for i in x]", "comprehensions are not allowed", "[i for i in x]"),
    _bad("generator", "sum(i for i in x)", "comprehensions are not allowed",
         "(i for i in x)"),
    _bad("eval", "eval(x)", "unknown function 'eval'", "eval(x)"),
    _bad("open", "open('f')", "unknown function 'open'", "open('f')"),
    _bad("getattr", "getattr(x, 'y')", "unknown function 'getattr'", "getattr(x, 'y')"),
    _bad("call-a-name", "x(1)", "'x' is not a function", "x(1)"),
    _bad("call-an-expression", "(x + y)(1)", "only the whitelisted functions can be called",
         "(x + y)(1)"),
    _bad("await", "await x", "await is not allowed", "await x"),
    _bad("yield", "(yield x)", "yield is not allowed", "yield x"),
    # resource exhaustion
    _bad("power-tower", "10**10**10", "constant exponent 1e+10 is too large", "10**10**10"),
    _bad("big-exponent", "x**1000", "constant exponent 1000 is too large", "x**1000"),
    _bad("big-negative-exponent", "x ** -65", "constant exponent -65 is too large", "x ** -65"),
    _bad("folded-exponent", "x ** (8 * 9)", "constant exponent 72 is too large", "x ** (8 * 9)"),
    _bad("infinite-exponent", "x ** (1 / 0)", "constant exponent is not a finite number",
         "x ** (1 / 0)"),
    _bad("complex-exponent", "x ** ((-8) ** 0.5)", "constant exponent is not a finite number",
         "x ** ((-8) ** 0.5)"),
    _bad("overflowing-exponent", "2 ** 1e308 ** 2", "not a finite number", "2 ** 1e308 ** 2"),
    _bad("huge-int", "1" * 400, "number literal is too large", None),
    _bad("huge-float", "1e999", "number literal is too large", "1e999"),
    _bad("parens-10000", "(" * 10000 + "1" + ")" * 10000, "longer than 2000 characters", None),
    _bad("minus-100000", "-" * 100000 + "1", "longer than 2000 characters", None),
    _bad("long-source", _LONG_SUM, "longer than 2000 characters", None),
    _bad("deep-minus", "-" * 1000 + "x", "nests deeper than 32 levels", None),
    _bad("deep-sum", "+".join(["x"] * 40), "nests deeper than 32 levels", None),
    _bad("parens-300", "(" * 300 + "x" + ")" * 300, "too many nested parentheses", None),
    _bad("wide-cat", "cat([" + ", ".join(["x"] * 600) + "])", "more than 500 parts", None),
    # names and calls
    _bad("unknown-name", "stdd", "unknown name 'stdd' (did you mean 'std'?)", "stdd"),
    _bad("unknown-name-no-hint", "qqq", "unknown name 'qqq'", "qqq"),
    _bad("function-as-value", "sqrt + x", "'sqrt' is a function: call it", "sqrt"),
    _bad("unknown-function-hint", "sqr(x)", "unknown function 'sqr' (did you mean 'sqrt'?)",
         "sqr(x)"),
    _bad("keyword-typo", "clamp(x, mn=0)",
         "clamp() has no argument 'mn' (did you mean 'min'?)", "clamp(x, mn=0)"),
    _bad("too-many-args", "sqrt(x, y)", "sqrt() takes at most 1 positional argument",
         "sqrt(x, y)"),
    _bad("missing-arg", "sqrt()", "sqrt() is missing its argument 'x'", "sqrt()"),
    _bad("missing-dim", "logsumexp(x)", "logsumexp() is missing its argument 'dim'",
         "logsumexp(x)"),
    _bad("duplicate-arg", "clamp(x, 0, min=1)", "clamp() got more than one value for 'min'",
         "clamp(x, 0, min=1)"),
    _bad("clamp-no-bounds", "clamp(x)", "clamp() needs min= or max=", "clamp(x)"),
    _bad("clamp-none-bounds", "clamp(x, min=None, max=None)", "clamp() needs min= or max=",
         "clamp(x, min=None, max=None)"),
    _bad("dim-not-literal", "sum(x, dim=y)", "'dim' must be an integer literal", "y"),
    _bad("dim-float", "sum(x, dim=1.0)", "'dim' must be an integer literal", "1.0"),
    _bad("k-expression", "tril(x, k=1 + 1)", "'k' must be an integer literal", "1 + 1"),
    _bad("alpha-name", "elu(x, alpha=y)", "'alpha' must be a number literal", "y"),
    _bad("randn-outside-rsample", "randn_like(x)", "randn_like is only allowed in rsample mode",
         "randn_like(x)"),
    _bad("starred", "sum(*x)", "starred arguments are not allowed", "*x"),
    _bad("starred-in-list", "cat([x, *y])", "starred arguments are not allowed", "*y"),
    _bad("double-star", "sum(x, **y)", "** arguments are not allowed", "**y"),
    # literals and containers
    _bad("string", "'abc'", "string literals are not allowed", "'abc'"),
    _bad("bytes", "b'abc'", "string literals are not allowed", "b'abc'"),
    _bad("f-string", "f'{x}'", "f-strings are not allowed", "f'{x}'"),
    _bad("bool", "x * True", "True and False are not allowed", "True"),
    _bad("none", "x + None", "None is only allowed", "None"),
    _bad("complex", "x * 1j", "complex numbers are not allowed", "1j"),
    _bad("ellipsis", "...", "Ellipsis is not allowed", "..."),
    _bad("list-outside-cat", "[x, y]", "only allowed as the first argument of cat or stack",
         "[x, y]"),
    _bad("list-in-sum", "sum([x, y])", "only allowed as the first argument of cat or stack",
         "[x, y]"),
    _bad("cat-without-list", "cat(x)", "cat() takes a list literal as 'tensors'", "x"),
    _bad("cat-empty", "cat([])", "cat() needs at least one tensor", "[]"),
    _bad("tuple", "(x, y)", "tuple literals are not allowed", "(x, y)"),
    _bad("dict", "{x: y}", "dict literals are not allowed", "{x: y}"),
    _bad("set", "{x}", "set literals are not allowed", "{x}"),
    # subscripts
    _bad("slice", "x[1:2]", "only plain integer subscripts", "x[1:2]"),
    _bad("name-index", "x[y]", "only plain integer subscripts", "x[y]"),
    _bad("tuple-index", "x[0, 1]", "only plain integer subscripts", "x[0, 1]"),
    _bad("float-index", "x[0.0]", "only plain integer subscripts", "x[0.0]"),
    _bad("bool-index", "x[True]", "only plain integer subscripts", "x[True]"),
    # other operators
    _bad("conditional", "x if x else y", "conditional expressions", "x if x else y"),
    _bad("comparison", "x < y", "comparisons are not allowed", "x < y"),
    _bad("boolean", "x and y", "boolean operators", "x and y"),
    _bad("not", "not x", "operator not is not allowed", "not x"),
    _bad("invert", "~x", "operator ~ is not allowed", "~x"),
    _bad("floor-div", "x // y", "operator // is not allowed", "x // y"),
    _bad("modulo", "x % y", "operator % is not allowed", "x % y"),
    _bad("walrus", "(y := x)", "assignment expressions (:=) are not allowed", "y := x"),
    # syntax
    _bad("unclosed", "sqrt(x", "syntax error at column 5: '(' was never closed", "sqrt(x"),
    _bad("dangling-operator", "x +", "syntax error at column", "x +"),
    _bad("two-lines", "x\n+ y", "syntax error at line 2, column 1", "x\n+ y"),
    _bad("statement", "import os", "syntax error", "import os"),
    _bad("empty", "   ", "empty expression", "   "),
    _bad("null-byte", "x\x00", "syntax error", None),
    _bad("surrogate", "x + \ud800", "cannot parse the expression", None),
]


@pytest.mark.parametrize(("source", "names", "message", "piece"), REJECT)
def test_reject(source: str, names: frozenset[str], message: str, piece: str | None) -> None:
    with pytest.raises(ExprError) as info:
        ex.parse(source, names=names)
    err = info.value
    assert message in err.message, (source[:80], err.message)
    assert err.piece is not None
    if piece is None:
        assert err.piece.rstrip(".") in source, (source[:80], err.piece)
        assert len(err.piece) <= 63  # long pieces are cut
    else:
        assert err.piece == piece, (source[:80], err.piece)


@pytest.mark.parametrize(("source", "ok"), [
    pytest.param("x" + " " * (ex.MAX_LENGTH - 1), True, id="length-at-limit"),
    pytest.param("x" + " " * ex.MAX_LENGTH, False, id="length-over-limit"),
    pytest.param("-" * (ex.MAX_DEPTH - 1) + "x", True, id="depth-at-limit"),
    pytest.param("-" * ex.MAX_DEPTH + "x", False, id="depth-over-limit"),
    # cat, the list and the `cat` name itself are three of the parts.
    pytest.param("cat([" + ", ".join(["x"] * (ex.MAX_NODES - 3)) + "])", True,
                 id="nodes-at-limit"),
    pytest.param("cat([" + ", ".join(["x"] * (ex.MAX_NODES - 2)) + "])", False,
                 id="nodes-over-limit"),
    pytest.param(f"x ** {ex.MAX_EXPONENT}", True, id="exponent-at-limit"),
    pytest.param(f"x ** {ex.MAX_EXPONENT + 0.5}", False, id="exponent-over-limit"),
])
def test_limit_boundaries(source: str, ok: bool) -> None:
    if ok:
        ex.parse(source, names={"x"})
    else:
        with pytest.raises(ExprError):
            ex.parse(source, names={"x"})


def test_error_renders_message_and_piece() -> None:
    with pytest.raises(ExprError) as info:
        ex.parse("sqrt(x.grad)", names={"x"})
    assert str(info.value) == "attribute access is not allowed: `x.grad`"


# ---- substitute ------------------------------------------------------------------------------

SUBSTITUTE = [
    pytest.param("diag_embed(v)", "v", "{}**2", "diag_embed(v ** 2)", id="square-in-call"),
    pytest.param("-v", "v", "{}**2", "-v ** 2", id="under-unary-minus"),
    pytest.param("v ** 3", "v", "{}**2", "(v ** 2) ** 3", id="power-base"),
    pytest.param("s ** v", "v", "{} ** 2", "s ** v ** 2", id="power-exponent"),
    pytest.param("w + v * s", "v", "exp({})", "w + exp(v) * s", id="exp"),
    pytest.param("clamp(v, min=v - 1)", "v", "softplus({})",
                 "clamp(softplus(v), min=softplus(v) - 1)", id="keyword-argument"),
    pytest.param("A @ transpose(A)", "A", "cholesky({})",
                 "cholesky(A) @ transpose(cholesky(A))", id="matrix"),
    pytest.param("A @ v", "A", "{0} @ transpose({0})", "A @ transpose(A) @ v", id="gram"),
    pytest.param("v / w", "w", "1 / {}", "v / (1 / w)", id="reciprocal-denominator"),
    pytest.param("w + s", "v", "exp({})", "w + s", id="absent-name"),
]


@pytest.mark.parametrize(("source", "name", "template", "expected"), SUBSTITUTE)
def test_substitute(source: str, name: str, template: str, expected: str) -> None:
    parsed = ex.parse(source, names=NAMES)
    text = ex.substitute(parsed, name, template)
    assert text == expected
    # Round trip: the new text evaluates to the original with the name's value transformed.
    values = env()
    transform = ex.parse(template.format(name), names={name})
    changed = dict(values, **{name: ex.evaluate(transform, values, ex.torch_functions(),
                                                literal=literal64)})
    torch.testing.assert_close(run(text), run(source, values=changed),
                               msg=lambda m: f"{source!r} with {name} -> {template!r}: {m}")


def test_substitute_leaves_function_names_alone() -> None:
    parsed = ex.parse("exp(exp)", names={"exp"})
    assert ex.substitute(parsed, "exp", "sqrt({})") == "exp(sqrt(exp))"


def test_substitute_rejects_a_bad_template() -> None:
    with pytest.raises(ExprError, match="attribute access"):
        ex.substitute(ex.parse("v", names=NAMES), "v", "{}.grad")


# ---- properties ------------------------------------------------------------------------------

def _property_env() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {name: torch.randn(shape, dtype=F64, generator=gen)
            for name, shape in EXPR_SHAPES.items()}


@SETTINGS
@given(typed_expressions(allow_randn=True))
def test_generated_expressions_parse_and_evaluate(case: tuple[str, tuple[int, ...]]) -> None:
    source, shape = case
    parsed = ex.parse(source, names=EXPR_SHAPES.keys(), allow_randn=True)
    functions = ex.torch_functions(generator=torch.Generator().manual_seed(0))
    try:
        out = ex.evaluate(parsed, _property_env(), functions, literal=literal64)
    except ExprError:
        return
    assert tuple(out.shape) == shape, source
    assert out.dtype == F64, source


@SETTINGS
@given(typed_expressions(), st.sampled_from(["exp({})", "{} ** 2", "-{}", "softplus({})",
                                             "({} + 1) / 2"]))
def test_generated_substitution_round_trips(case: tuple[str, tuple[int, ...]],
                                            template: str) -> None:
    source, _ = case
    names = EXPR_SHAPES.keys()
    parsed = ex.parse(source, names=names)
    text = ex.substitute(parsed, "v", template)
    values, functions = _property_env(), ex.torch_functions()
    transform = ex.parse(template.format("v"), names={"v"})
    changed = dict(values, v=ex.evaluate(transform, values, functions, literal=literal64))
    torch.testing.assert_close(
        ex.evaluate(ex.parse(text, names=names), values, functions, literal=literal64),
        ex.evaluate(parsed, changed, functions, literal=literal64),
        equal_nan=True, msg=lambda m: f"{source!r} -> {text!r}: {m}")


@SETTINGS
@given(hostile_text())
def test_parse_raises_only_expr_error(source: str) -> None:
    try:
        parsed = ex.parse(source, names={"x", "s", "v", "m"})
    except ExprError as err:
        assert err.message
        return
    assert parsed.names <= {"x", "s", "v", "m"}


# ---- the parsing half needs no torch -----------------------------------------------------------

def test_parsing_does_not_import_torch() -> None:
    code = ("import sys, gaussdiag.expr as e; "
            "e.parse('sqrt(x) + cat([x, x])[0]', names={'x'}); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    # From the repository root, so the checkout is imported whether or not it is installed.
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                            capture_output=True, text=True, check=False,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr[-2000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")]
    assert "gaussdiag.expr" in imported
    torch_modules = [m for m in imported if m == "torch" or m.startswith("torch.")]
    assert not torch_modules, torch_modules
