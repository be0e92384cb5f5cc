"""Tests for expr.walk: evaluation (literals, argument passing, the check hook,
missing values) and substitution, on fixed and generated expressions."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from gaussdiag.errors import ExprError
from gaussdiag.frontends.yaml import expr as ex
from tests.frontends.yaml.expr.common import F64, NAMES, env, literal64, run
from tests.strategies import EXPR_SHAPES, SETTINGS, typed_expressions


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


def test_missing_value_or_function_is_an_expr_error() -> None:
    parsed = ex.parse("sqrt(v) + w", names=NAMES)
    with pytest.raises(ExprError, match="no value for 'w'"):
        ex.evaluate(parsed, {"v": literal64(1.0)}, ex.torch_functions(), literal=literal64)
    with pytest.raises(ExprError, match="function 'sqrt' is not available"):
        ex.evaluate(parsed, env(), {}, literal=literal64)


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
    # the scale candidate's factor cancels against the user's own (2 * h / 2 reads h)
    pytest.param("exp(v / 2)", "v", "2 * {}", "exp(v)", id="cancel-c-times-x-over-c"),
    pytest.param("exp(2 * v)", "v", "{} / 2", "exp(v)", id="cancel-c-times-x-then-over-c"),
    pytest.param("v * 3", "v", "{} / 3", "v", id="cancel-x-over-c-times-c"),
    pytest.param("v / 3", "v", "2 * {}", "2 * v / 3", id="other-factors-stay"),
    pytest.param("exp(v / 2) * 2", "v", "{} / 2", "exp(v / 2 / 2) * 2", id="not-the-same-term"),
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
    with pytest.raises(ExprError, match="attribute 'grad' is not allowed"):
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
