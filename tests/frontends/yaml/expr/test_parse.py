"""Tests for expr.parse: what is accepted, what is rejected with which message and
piece, the limits at their boundaries, hostile text, and that parsing never imports torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given

from gaussdiag.errors import ExprError
from gaussdiag.frontends.yaml import expr as ex
from tests.frontends.yaml.expr.common import F64, NAMES, literal64
from tests.strategies import (
    EXPR_SHAPES,
    HOSTILE_TORCH,
    SETTINGS,
    hostile_text,
    hostile_torch_expressions,
)


def test_parse_reports_names_and_functions() -> None:
    parsed = ex.parse("  clamp(v, min=w) + sqrt(s)[0] - v  ", names=NAMES)
    assert parsed.source == "clamp(v, min=w) + sqrt(s)[0] - v"
    assert parsed.names == {"v", "w", "s"}
    assert parsed.functions == {"clamp", "sqrt"}


@pytest.mark.parametrize("source", ["x ** 64", "x ** -64", "2 ** 2 ** 6", "x ** (8 * 8)",
                                    "x ** y ** 2", "x ** 10 ** 1"])
def test_accept_exponents_within_limit(source: str) -> None:
    ex.parse(source, names={"x", "y"})


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
    _bad("class-of-tuple", "().__class__", "dunder and private attributes", "().__class__"),
    _bad("attribute", "x.grad", "attribute 'grad' is not allowed; tensors allow the attributes "
         "T, mT, shape and the methods", "x.grad"),
    _bad("mro", "x.__class__.__mro__", "dunder and private", "x.__class__.__mro__"),
    _bad("private-method", "x._base()", "dunder and private attributes", "x._base"),
    _bad("unknown-method", "x.numpy()", "tensor method 'numpy' is not allowed", "x.numpy"),
    _bad("method-typo", "x.sqr()", "(did you mean 'sqrt'?)", "x.sqr"),
    _bad("method-uncalled", "x.sqrt", "'sqrt' is a method: call it", "x.sqrt"),
    _bad("method-on-int", "x.size(0).sqrt()", "method 'sqrt' needs a tensor, but `x.size(0)` "
         "is an integer", "x.size(0).sqrt()"),
    _bad("method-on-shape", "x.shape.numel()", "needs a tensor, but `x.shape` is a shape",
         "x.shape.numel()"),
    _bad("attribute-of-shape", "x.shape.T", "needs a tensor, but `x.shape` is a shape",
         "x.shape.T"),
    _bad("shape-as-value", "x.shape + 1", "a shape cannot be used as a value", "x.shape"),
    _bad("size-as-result", "x.size()", "a shape cannot be used as a value", "x.size()"),
    _bad("split-unindexed", "x.split(1)", "give a tuple of tensors: index it", "x.split(1)"),
    _bad("size-not-a-function", "size(x)", "'size' is a method", "size(x)"),
    # modules
    _bad("other-module", "os.system(1)", "unknown name 'os': the only modules are torch.",
         "os.system"),
    _bad("module-alone", "torch", "'torch' is a module", "torch"),
    _bad("unsupported-torch", "torch.cos(x)", "'torch.cos' is not supported (did you mean",
         "torch.cos(x)"),
    _bad("wrong-namespace", "F.sqrt(x)", "'F.sqrt' is not supported (did you mean "
         "'torch.sqrt'?)", "F.sqrt(x)"),
    _bad("softplus-namespace", "torch.softplus(x)", "(did you mean "
         "'torch.nn.functional.softplus'?)", "torch.softplus(x)"),
    _bad("distributions", "torch.distributions.Normal(x, y)",
         "'torch.distributions' is not a namespace", "torch.distributions.Normal(x, y)"),
    _bad("dunder-module", "torch.__builtins__", "dunder and private", "torch.__builtins__"),
    _bad("math-of-tensor", "math.log(x)", "math.log takes one number", "math.log(x)"),
    _bad("math-undefined", "math.log(-1)", "not a finite number", "math.log(-1)"),
    _bad("math-inf", "math.inf", "'math.inf' is not a supported constant", "math.inf"),
    _bad("math-unknown", "math.cos(1)", "'math.cos' is not supported", "math.cos(1)"),
    _bad("torch-function-uncalled", "torch.sqrt + x", "'torch.sqrt' is a function",
         "torch.sqrt"),
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
    _bad("declared-before-function", "sigma", "unknown name 'sigma' (did you mean 'sig'?)",
         "sigma", names=frozenset({"sig", "x"})),
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
    _bad("bool", "x * True", "True and False are only allowed for keepdim", "True"),
    _bad("keepdim-int", "sum(x, 0, keepdim=1)", "'keepdim' must be True or False", "1"),
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
    _bad("name-index", "x[y]", "subscripts take integer literals, slices", "y"),
    _bad("float-index", "x[0.0]", "subscripts take integer literals, slices", "0.0"),
    _bad("bool-index", "x[True]", "subscripts take integer literals, slices", "True"),
    _bad("huge-index", "x[2 ** 40]", "subscripts take integer literals", "2 ** 40"),
    _bad("huge-literal-index", "x[99999999999]", "index 99999999999 is too large",
         "99999999999"),
    _bad("huge-slice", "x[0:10 ** 30]", "slice bounds must be integer literals", "0:10 ** 30"),
    _bad("huge-literal-slice", "x[:99999999999999999999]", "slice bounds must be", None),
    _bad("ellipsis-slice", "x[...:3]", "slice bounds must be integer literals", "...:3"),
    _bad("negative-step", "x[::-1]", "a slice step must be positive", "::-1"),
    _bad("two-ellipses", "x[..., ...]", "at most one ...", "x[..., ...]"),
    _bad("many-entries", "x[" + ", ".join(["0"] * 9) + "]", "at most 8 entries", None),
    _bad("shape-index-slice", "x.shape[0:1]", "a shape takes a plain integer subscript",
         "x.shape[0:1]"),
    _bad("split-index-name", "x.split(1)[y]", "a tuple of tensors takes a plain integer",
         "x.split(1)[y]"),
    # sizes and shapes
    _bad("split-zero", "x.split(0)", "split() sizes must be positive", "0"),
    _bad("split-negative", "split(x, -2)", "split() sizes must be positive", "-2"),
    _bad("split-zero-section", "x.split([2, 0])", "split() sizes must be positive", "0"),
    _bad("split-empty", "x.split([])", "split() needs at least one size", "[]"),
    _bad("chunk-zero", "x.chunk(0)", "'chunks' must be a positive integer literal", "0"),
    _bad("view-expression", "x.view(10 ** 9)", "a size must be an integer literal", "10 ** 9"),
    _bad("view-negative", "x.view(-2, 3)", "a size must be -1 or between 0", "-2"),
    _bad("view-huge", "x.view(99999999999)", "a size must be -1 or between 0", "99999999999"),
    _bad("view-tensor", "x.view(x)", "a size must be an integer literal, x.size(i)", "x"),
    _bad("zeros-name", "zeros(x)", "a size must be an integer literal", "x"),
    _bad("transpose-one-dim", "x.transpose(0)", "takes both dim0 and dim1, or neither",
         "x.transpose(0)"),
    _bad("pow-tower", "x.pow(10 ** 10)", "constant exponent 1e+10 is too large",
         "x.pow(10 ** 10)"),
    _bad("where-chain", "where(0 < x < 1, x, y)", "one comparison", "0 < x < 1"),
    _bad("randn-outside-rsample-torch", "torch.randn(x.shape)", "randn is only allowed in "
         "rsample mode", "torch.randn(x.shape)"),
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
        ex.parse("sqrt(x[y])", names={"x", "y"})
    assert str(info.value) == ("subscripts take integer literals, slices such as 0:3, None "
                               "and ...: `y`")


@SETTINGS
@given(hostile_text())
def test_parse_raises_only_expr_error(source: str) -> None:
    try:
        parsed = ex.parse(source, names={"x", "s", "v", "m"})
    except ExprError as err:
        assert err.message
        return
    assert parsed.names <= {"x", "s", "v", "m"}


def _assert_rejected(source: str) -> None:
    """Rejected by parse, or (absurd shapes) by the element limit before allocation."""
    names = {"x", "s", "v", "m"}
    with pytest.raises(ExprError) as info:
        parsed = ex.parse(source, names=names)
        values = {n: torch.ones(EXPR_SHAPES.get(n, (3,)), dtype=F64) for n in names}
        ex.evaluate(parsed, values, ex.torch_functions(max_elements=10_000), literal=literal64)
    assert info.value.message and info.value.piece, source


@pytest.mark.parametrize("template", HOSTILE_TORCH)
def test_every_hostile_template_is_rejected_on_a_plain_name(template: str) -> None:
    _assert_rejected(template.replace("{}", "v"))


@SETTINGS
@given(hostile_torch_expressions())
def test_hostile_torch_spellings_are_rejected(source: str) -> None:
    _assert_rejected(source)


# ---- the parsing half needs no torch -----------------------------------------------------------

def test_parsing_does_not_import_torch() -> None:
    code = ("import sys, gaussdiag.frontends.yaml.expr as e; "
            "e.parse('sqrt(x) + cat([x, x])[0]', names={'x'}); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    # From the repository root, so the checkout is imported whether or not it is installed.
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                            capture_output=True, text=True, check=False,
                            cwd=Path(__file__).resolve().parents[4])
    assert result.returncode == 0, result.stderr[-2000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")]
    assert "gaussdiag.frontends.yaml.expr" in imported
    torch_modules = [m for m in imported if m == "torch" or m.startswith("torch.")]
    assert not torch_modules, torch_modules
