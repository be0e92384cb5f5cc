"""Tests for expr.bind: every whitelisted function bound to torch, checked against
independent references (numpy, mpmath, closed forms)."""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from typing import Any

import mpmath
import numpy as np
import pytest
import torch

from gaussdiag.errors import ExprError
from gaussdiag.frontends.yaml import expr as ex
from tests.frontends.yaml.expr.common import (
    F64,
    L_FACTOR,
    NAMES,
    NP,
    SPEC_FUNCTIONS,
    env,
    literal64,
    run,
)


@pytest.mark.parametrize("name", [*SPEC_FUNCTIONS, "size"])
def test_torch_binding_matches_signature(name: str) -> None:
    signature = ex.FUNCTIONS.get(name) or ex.METHOD_ONLY[name]
    bound = dict(inspect.signature(ex.torch_functions()[name]).parameters)
    # A function that creates a tensor also takes `like=` (the run's dtype and device).
    assert (bound.pop("like", None) is not None) == signature.factory, name
    params = signature.params
    assert list(bound) == [p.name for p in params], name
    for param in params:
        expected = inspect.Parameter.empty if param.required else param.default
        assert bound[param.name].default == expected, (name, param.name)


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
    _ref("cholesky(A)", lambda n: L_FACTOR),
    _ref("inverse(A)", lambda n: np.linalg.inv(n["A"])),
    _ref("solve(A, B)", lambda n: np.linalg.solve(n["A"], n["B"])),
    _ref("logdet(A)", lambda n: 2 * np.log(np.diag(L_FACTOR)).sum()),
    _ref("diag_embed(v ** 2) @ inverse(A)", lambda n: np.diag(n["v"] ** 2) @ np.linalg.inv(n["A"])),
    # torch's spellings: methods, attributes, namespaces, constants
    _ref("v.sqrt()", lambda n: np.sqrt(n["v"])),
    _ref("w.exp().log1p()", lambda n: np.log1p(np.exp(n["w"]))),
    _ref("A.sum(-1)", lambda n: n["A"].sum(axis=-1)),
    _ref("A.sum(dim=0, keepdim=True)", lambda n: n["A"].sum(axis=0, keepdims=True)),
    _ref("A.mean(keepdim=True)", lambda n: n["A"].mean(keepdims=True)),
    _ref("logsumexp(A, -1, True)", lambda n: np.log(np.exp(n["A"]).sum(axis=-1, keepdims=True))),
    _ref("B.T", lambda n: n["B"].T),
    _ref("B.mT", lambda n: n["B"].T),
    _ref("B.transpose(0, 1)", lambda n: n["B"].T),
    _ref("torch.transpose(B, -1, -2)", lambda n: n["B"].T),
    _ref("B.shape[0] * v", lambda n: 3 * n["v"]),
    _ref("B.size(1) + s", lambda n: 2 + n["s"]),
    _ref("(2).sqrt()", lambda n: math.sqrt(2)),  # a literal is a 0-d tensor
    _ref("torch.sqrt(v)", lambda n: np.sqrt(n["v"])),
    _ref("torch.linalg.cholesky(A)", lambda n: L_FACTOR),
    _ref("torch.linalg.inv(A)", lambda n: np.linalg.inv(n["A"])),
    _ref("torch.linalg.solve(A, B)", lambda n: np.linalg.solve(n["A"], n["B"])),
    _ref("F.softplus(w)", lambda n: np.log1p(np.exp(n["w"]))),
    _ref("1 + nn.functional.elu(w)", lambda n: 1 + np.where(n["w"] > 0, n["w"], np.expm1(n["w"]))),
    _ref("torch.nn.functional.relu(w)", lambda n: np.maximum(n["w"], 0.0)),
    _ref("math.pi * v", lambda n: math.pi * n["v"]),
    _ref("-math.log(math.sqrt(2 * math.pi))", lambda n: -0.5 * math.log(2 * math.pi)),
    _ref("torch.pi + math.e + math.tau", lambda n: math.pi + math.e + 2 * math.pi),
    _ref("v ** math.log(4)", lambda n: n["v"] ** math.log(4)),
    # subscripts
    _ref("A[..., 0:2]", lambda n: n["A"][..., 0:2]),
    _ref("A[:, 0]", lambda n: n["A"][:, 0]),
    _ref("A[1:, ::2]", lambda n: n["A"][1:, ::2]),
    _ref("v[None]", lambda n: n["v"][None]),
    _ref("v[:, None] * w[None, :]", lambda n: np.outer(n["v"], n["w"])),
    _ref("A[-1, -2:]", lambda n: n["A"][-1, -2:]),
    # shapes
    _ref("A.view(-1)", lambda n: n["A"].reshape(-1)),
    _ref("A.reshape(1, 9)", lambda n: n["A"].reshape(1, 9)),
    _ref("reshape(A, [9, 1])", lambda n: n["A"].reshape(9, 1)),
    _ref("torch.reshape(A, (-1,))", lambda n: n["A"].reshape(-1)),
    _ref("A.view(A.shape)", lambda n: n["A"]),
    _ref("stack([v, w, v], dim=-1).view(-1, 3, 3)",
         lambda n: np.stack([n["v"], n["w"], n["v"]], axis=-1).reshape(1, 3, 3)),
    _ref("v.view(v.size(0), 1)", lambda n: n["v"].reshape(3, 1)),
    _ref("v.unsqueeze(0)", lambda n: n["v"][None]),
    _ref("v.unsqueeze(-1).squeeze()", lambda n: n["v"]),
    _ref("squeeze(v[None], 0)", lambda n: n["v"]),
    _ref("A.flatten()", lambda n: n["A"].reshape(-1)),
    _ref("flatten(A[None], 1)", lambda n: n["A"].reshape(1, 9)),
    _ref("B.split(1, dim=-1)[1]", lambda n: n["B"][:, 1:2]),
    _ref("split(v, [1, 2])[1]", lambda n: n["v"][1:]),
    _ref("A.chunk(3, dim=0)[2]", lambda n: n["A"][2:3]),
    _ref("zeros(2, 3)", lambda n: np.zeros((2, 3))),
    _ref("torch.zeros(size=[v.size(0)])", lambda n: np.zeros(3)),
    _ref("torch.ones(B.shape)", lambda n: np.ones((3, 2))),
    _ref("ones([2])", lambda n: np.ones(2)),
    _ref("zeros_like(B) + ones_like(v)[0]", lambda n: np.ones((3, 2))),
    _ref("torch.full_like(v, math.pi)", lambda n: np.full(3, math.pi)),
    _ref("full_like(v, -2)", lambda n: np.full(3, -2.0)),
    # elementwise and selection
    _ref("torch.where(w > 0, w, -w)", lambda n: np.abs(n["w"])),
    _ref("where(w <= 0.1, v, w)", lambda n: np.where(n["w"] <= 0.1, n["v"], n["w"])),
    _ref("where(w, v, s)", lambda n: np.where(n["w"] != 0, n["v"], n["s"])),
    _ref("torch.maximum(v, w * 3)", lambda n: np.maximum(n["v"], 3 * n["w"])),
    _ref("w.minimum(v)", lambda n: np.minimum(n["w"], n["v"])),
    _ref("v.pow(3)", lambda n: n["v"] ** 3),
    _ref("torch.pow(v, w)", lambda n: n["v"] ** n["w"]),
    _ref("torch.diag(v)", lambda n: np.diag(n["v"])),
    _ref("A.diag()", lambda n: np.diag(n["A"])),
    _ref("w.softmax(-1)", lambda n: np.exp(n["w"]) / np.exp(n["w"]).sum()),
    _ref("F.log_softmax(A, dim=0)", lambda n: n["A"] - np.log(np.exp(n["A"]).sum(axis=0))),
    _ref("logit(sigmoid(w))", lambda n: n["w"]),
    _ref("logit(v / 4, eps=0.2)", lambda n: np.log(np.clip(n["v"] / 4, 0.2, 0.8)
                                                   / (1 - np.clip(n["v"] / 4, 0.2, 0.8)))),
    _ref("w.erf()", lambda n: [math.erf(x) for x in n["w"]]),
    _ref("torch.erfc(w)", lambda n: [math.erfc(x) for x in n["w"]]),
    _ref("w.clamp_min(0.1)", lambda n: np.maximum(n["w"], 0.1)),
    _ref("torch.sign(w)", lambda n: np.sign(n["w"])),
]


@pytest.mark.parametrize(("source", "expected"), ACCEPT)
def test_accept(source: str, expected: Callable[[dict[str, Any]], Any]) -> None:
    actual = run(source)
    reference = torch.tensor(np.array(expected(NP), dtype=np.float64))
    torch.testing.assert_close(actual, reference, msg=lambda m: f"{source!r} at {NP}: {m}")


def test_accept_table_covers_every_function() -> None:
    called = set().union(*(ex.parse(p.values[0], names=NAMES).functions for p in ACCEPT))
    # randn_like and randn: test_randn_like, test_randn_of_a_shape_draws_like_randn_like
    assert called == (set(ex.FUNCTIONS) | set(ex.METHOD_ONLY)) - {"randn_like", "randn"}


def test_randn_like() -> None:
    values = env()
    gen = torch.Generator().manual_seed(0)
    functions = ex.torch_functions(sample_shape=(2,), generator=gen)
    parsed = ex.parse("sqrt(s) * randn_like(v) + v", names=NAMES, allow_randn=True)
    actual = ex.evaluate(parsed, values, functions, literal=literal64)
    noise = torch.randn((2, 3), dtype=F64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(actual, math.sqrt(0.7) * noise + values["v"])


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


def test_detach_stops_the_gradient() -> None:
    values = env()
    values["v"].requires_grad_(True)
    out = run("sum(v * detach(v))", values=values)
    out.backward()
    torch.testing.assert_close(values["v"].grad, values["v"].detach())


@pytest.mark.parametrize("source", ["randn(v.shape)", "torch.randn(v.size())",
                                    "torch.randn(3)", "torch.randn(size=[v.size(0)])"])
def test_randn_of_a_shape_draws_like_randn_like(source: str) -> None:
    values = env()

    def draw(text: str) -> torch.Tensor:
        functions = ex.torch_functions(sample_shape=(2,),
                                       generator=torch.Generator().manual_seed(0))
        parsed = ex.parse(text, names=NAMES, allow_randn=True)
        out: torch.Tensor = ex.evaluate(parsed, values, functions, literal=literal64)
        return out

    torch.testing.assert_close(draw(source), draw("randn_like(v)"), rtol=0, atol=0)


@pytest.mark.parametrize("source", [
    "zeros(100000, 100000)", "torch.ones(size=[65536, 65536])", "v.view(-1, 100000, 100000)",
    "A.reshape(2147483647, 2147483647, -1)", "torch.randn(65536, 65536)",
])
def test_shapes_over_the_limit_are_refused_before_allocation(source: str) -> None:
    functions = ex.torch_functions(max_elements=1000)
    parsed = ex.parse(source, names=NAMES, allow_randn=True)
    with pytest.raises(ExprError, match="over the limit of 1,000") as info:
        ex.evaluate(parsed, env(), functions, literal=literal64)
    assert info.value.piece == source


def test_shape_within_the_limit_is_built() -> None:
    functions = ex.torch_functions(max_elements=6)
    parsed = ex.parse("zeros(2, 3)", names=NAMES)
    assert ex.evaluate(parsed, env(), functions, literal=literal64).shape == (2, 3)


@pytest.mark.parametrize(("source", "message"), [
    ("v.view(-1, -1)", "at most one -1"),
    ("diag(stack([A, A]))", "diag needs a vector or a matrix, got shape [2, 3, 3]"),
])
def test_shape_errors_are_expr_errors(source: str, message: str) -> None:
    with pytest.raises(ExprError, match=re.escape(message)):
        run(source)


def test_split_index_out_of_range_is_an_index_error() -> None:
    # The build stage turns this into a located spec error ("failed to evaluate").
    with pytest.raises(IndexError):
        run("v.split(1)[3]")
