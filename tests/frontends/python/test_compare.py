"""gaussdiag.compare on Python sides: the same engine and verdicts as a YAML spec, checked
against the YAML diagnosis of the same pair and hand-computed float64 references."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn
from torch.distributions import (
    Independent,
    LowRankMultivariateNormal,
    MultivariateNormal,
    Normal,
)

import gaussdiag
from gaussdiag.report import to_json
from gaussdiag.results import RunReport
from tests.conftest import run


def mvn(mean: torch.Tensor, std: torch.Tensor) -> MultivariateNormal:
    return MultivariateNormal(mean, torch.diag_embed(std))


def normal(mean: torch.Tensor, std: torch.Tensor) -> Independent:
    return Independent(Normal(mean, std), 1)


def _std() -> torch.Tensor:
    # exactly the YAML demo's point: uniform [0.5, 2.0] from the seed's generator
    return torch.rand(10, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 1.5 \
        + 0.5


YAML = """
version: 1
seed: 0
params:
  mean: {shape: [10], init: zeros}
  std:  {shape: [10], init: {uniform: [0.5, 2.0]}}
inputs:
  x: {sample: b, sample_shape: [64]}
a: {dist: MultivariateNormal, args: {loc: mean, covariance_matrix: diag_embed(std)}}
b: {dist: Normal, args: {loc: mean, scale: std}, event_dims: 1}
at: x
"""


def test_same_diagnosis_as_the_yaml_spec() -> None:
    py = gaussdiag.compare(mvn, normal, params={"mean": torch.zeros(10), "std": _std()},
                           inputs={"x": gaussdiag.sample("b", (64,))})
    spec = run(YAML)
    assert py.verdict == "parameterization" and py.cause is not None
    assert (py.cause.side.value, py.cause.param, py.cause.transform) == ("a", "std", "square")
    skip = {"file", "name", "fix", "explanation", "costs", "seconds"}
    mine = {k: v for k, v in py.to_dict().items() if k not in skip}
    theirs = {k: v for k, v in gaussdiag.Report.of(spec).to_dict().items() if k not in skip}
    for entry in (mine, theirs):  # the other side's fix is in each front end's words
        entry["also"] = [{k: v for k, v in a.items() if k != "fix"} for a in entry["also"]]
    assert mine == theirs
    # the same sentence, each in its front end's words for the point
    assert py.explanation == spec.explanation.replace("the spec's point", "the given point")
    assert py.fix.startswith("on side a, pass std**2 where std is used")
    assert "scale_tril= instead of covariance_matrix=" in py.fix


def test_grad_diff_matches_a_hand_computed_reference() -> None:
    std = _std()
    report = gaussdiag.compare(mvn, normal, params={"mean": torch.zeros(10), "std": std},
                               inputs={"x": gaussdiag.sample("b", (64,))})
    torch.manual_seed(0)  # the draw under the seed, from side b in float64
    x = Normal(torch.zeros(10, dtype=torch.float64), std).sample((64,))
    # closed forms: d/ds of sum log N(x; 0, s) with s a variance (a) and a std (b)
    ga = (0.5 * x**2 / std**2 - 0.5 / std).sum(0)
    gb = (x**2 / std**3 - 1 / std).sum(0)
    ref = float((ga - gb).abs().max() / max(ga.abs().max(), gb.abs().max()))
    got = next(q for q in report.quantities if q.name == "grad[std]")
    assert math.isclose(got.diff[gaussdiag.vocab.DType.FLOAT64], ref, rel_tol=1e-9)


def test_report_prints_the_table_and_one_json_entry() -> None:
    report = gaussdiag.compare(mvn, normal, params={"mean": torch.zeros(10), "std": _std()},
                               inputs={"x": gaussdiag.sample("b", (64,))})
    text = str(report)
    assert "verdict: parameterization" in text and "grad[std]" in text and "fix: " in text
    entry = to_json(RunReport((report,)))["specs"][0]
    assert report.to_dict() == entry
    text = report.to_json()  # the same entry as JSON text
    assert isinstance(text, str) and json.loads(text) == entry
    with pytest.warns(DeprecationWarning, match=r"to_dict\(\)"):  # the old dict reads
        assert text["verdict"] == "parameterization"


def test_user_tensors_and_modules_are_never_changed() -> None:
    torch.manual_seed(1)
    net = nn.Linear(3, 2)
    std = (torch.rand(2) + 0.5).requires_grad_(True)
    before = [t.detach().clone() for t in (std, *net.parameters())]

    def a(net: nn.Module, std: torch.Tensor, x: torch.Tensor) -> Independent:
        return Independent(Normal(net(x), std), 1)

    report = gaussdiag.compare(a, a, params={"net": net, "std": std},
                               inputs={"x": torch.randn(5, 3), "y": torch.randn(5, 2)},
                               at="y")
    assert report.verdict == "agree"
    assert {q.name for q in report.quantities} >= {"grad[net.weight]", "grad[net.bias]"}
    for t, old in zip((std, *net.parameters()), before, strict=True):
        assert t.dtype == torch.float32 and t.grad is None and torch.equal(t.detach(), old)


def test_rsample_mode_different_draws_and_no_gradient() -> None:
    g = torch.Generator().manual_seed(0)
    loc, w = torch.randn(6, generator=g), torch.randn(6, 2, generator=g)
    d = torch.rand(6, generator=g) + 0.5

    def full(loc: torch.Tensor, w: torch.Tensor, d: torch.Tensor) -> MultivariateNormal:
        return MultivariateNormal(loc, covariance_matrix=w @ w.mT + torch.diag_embed(d))

    def low(loc: torch.Tensor, w: torch.Tensor, d: torch.Tensor) -> LowRankMultivariateNormal:
        return LowRankMultivariateNormal(loc, w, d)

    params = {"loc": loc, "w": w, "d": d}
    assert gaussdiag.compare(full, low, params=params, mode="rsample",
                             sample_shape=(8,)).verdict == "different-draws"
    report = gaussdiag.compare(lambda loc, d: Normal(loc, d).sample((8,)),
                               lambda loc, d: Normal(loc, d).rsample((8,)),
                               params={"loc": loc, "d": d}, mode="rsample")
    assert report.verdict == "no-gradient"


def test_train_mode() -> None:
    report = gaussdiag.compare(mvn, normal, params={"mean": torch.zeros(4), "std": _std()[:4]},
                               inputs={"x": gaussdiag.sample("b", (32,))}, mode="train",
                               train={"steps": 5, "optimizer": "sgd", "lr": 0.01})
    assert report.verdict == "parameterization" and len(report.trajectories) == 2


# ---- errors ----------------------------------------------------------------------------------


def _error(a: object, b: object = normal, **keywords: object) -> str:
    keywords.setdefault("params", {"mean": torch.zeros(3), "std": torch.ones(3) * 2})
    keywords.setdefault("inputs", {"x": torch.zeros(4, 3)})
    with pytest.raises(gaussdiag.GaussdiagError) as info:
        gaussdiag.compare(a, b, **keywords)  # type: ignore[arg-type]
    # no frame from gaussdiag's internals below the public call
    frames = []
    tb = info.value.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    assert not any("gaussdiag/frontends/yaml" in f or "gaussdiag/attribute" in f for f in frames)
    return str(info.value)


W32 = torch.ones(3)


def test_errors_name_the_side_and_the_cause() -> None:
    def raises(mean: torch.Tensor) -> None:
        raise ZeroDivisionError("boom")

    msg = _error(raises)
    assert msg.startswith("side a:") and "ZeroDivisionError: boom" in msg

    msg = _error(lambda mean, std: Independent(Normal(mean, W32), 1))
    assert "float32 in the float64 run" in msg and "`W32`" in msg
    layer = nn.Linear(3, 3)
    msg = _error(lambda mean, std: Independent(Normal(layer(mean), std), 1))
    assert "`layer`, a module" in msg and "params={'layer': layer}" in msg
    assert "returned int" in _error(lambda mean: 3)
    msg = _error(normal, lambda mean, std: Normal(mean, std))
    assert "side b" in msg and "Independent(dist, 1)" in msg
    msg = _error(lambda mean, stdd: Normal(mean, stdd))
    assert "`stdd`" in msg and "did you mean 'std'?" in msg
    assert "CUDA is not available" in _error(mvn, device="cuda:7") or torch.cuda.is_available()
    assert "did you mean 'log_prob'?" in _error(mvn, mode="log_porb")


@pytest.mark.parametrize(("inputs", "expected"), [
    ({}, "no input to evaluate log_prob at: pass inputs={'x': ...} (a side that returns a "
         "tensor, such as a KL term, needs no input in log_prob mode)"),
    ({"x": torch.zeros(4, 3), "y": torch.ones(4, 3)},
     "2 inputs (`x`, `y`) and no at= to say which one log_prob is evaluated at: pass at='x' "
     "or at='y'"),
], ids=["none", "two"])
def test_no_at_says_how_many_inputs_and_names_them(inputs: dict[str, torch.Tensor],
                                                   expected: str) -> None:
    assert _error(mvn, inputs=inputs) == f"side a: {expected}"
