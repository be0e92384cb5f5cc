"""Sides of params alone (a KL term, a log-prior, a regularizer, a whole loss): log_prob mode
with no point. The sides' values and gradients are compared as they are, in both front
ends, and the reparameterization search runs as usual. References: the closed-form KL of two
Normals and the Gaussian log-density, in float64."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch.distributions import Normal, kl_divergence

import gaussdiag
from gaussdiag.cli import main
from gaussdiag.errors import SpecError
from gaussdiag.testing import assert_equivalent, assert_verdict
from gaussdiag.vocab import DType
from tests.conftest import loaded, run

STANDARD = (0.0, 1.0)  # the prior N(0, 1)


def closed_form_kl(mu: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, std²) || N(0, 1)) = log(1/std) + (std² + mu²)/2 - 1/2, summed."""
    return (-std.log() + 0.5 * (std**2 + mu**2) - 0.5).sum()


def kl_term(mu: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return kl_divergence(Normal(mu, std), Normal(*STANDARD)).sum()


def _point() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    return {"mu": torch.randn(6, generator=gen), "std": torch.rand(6, generator=gen) + 0.5}


def _value_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / torch.maximum(a.abs().max(), b.abs().max()))


def test_the_reference_closed_form_is_torchs_kl() -> None:
    p = {k: v.double() for k, v in _point().items()}
    assert float(kl_term(**p)) == pytest.approx(float(closed_form_kl(**p)), rel=1e-14)


# ---- Python sides --------------------------------------------------------------------------


def test_a_kl_term_against_its_closed_form_agrees() -> None:
    report = assert_equivalent(kl_term, closed_form_kl, params=_point())
    assert {q.name for q in report.quantities} == {"log_prob", "grad[mu]", "grad[std]"}
    assert all(q.diff[DType.FLOAT64] <= 64 * torch.finfo(torch.float64).eps
               for q in report.quantities), report


def log_prior(w: torch.Tensor) -> torch.Tensor:
    return Normal(0.0, 1.0).log_prob(w).sum()


def log_prior_by_hand(w: torch.Tensor) -> torch.Tensor:
    return -0.5 * (w**2).sum() - 0.5 * w.numel() * math.log(2 * math.pi)


def test_a_log_prior_against_the_gaussian_density_agrees() -> None:
    w = torch.linspace(-2, 2, 9)
    report = gaussdiag.compare(log_prior, log_prior_by_hand, params={"w": w})
    assert report.verdict in ("agree", "round-off"), report


def variance_as_std(mu: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return kl_divergence(Normal(mu, v), Normal(*STANDARD)).sum()  # v is a variance


def kl_of_variance(mu: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return (0.5 * (v + mu**2 - 1 - v.log())).sum()


def test_a_variance_passed_as_a_std_in_a_kl_term_is_found() -> None:
    p = {"mu": _point()["mu"], "v": _point()["std"]}
    report = assert_verdict(variance_as_std, kl_of_variance, "parameterization", params=p)
    assert report.cause is not None and report.cause.param == "v"
    assert (report.cause.side.value, report.cause.transform) in (("a", "sqrt"), ("b", "square"))
    # the float64 difference, by hand from the closed forms
    d = {k: t.double() for k, t in p.items()}
    want = _value_diff(closed_form_kl(d["mu"], d["v"]), kl_of_variance(**d))
    got = next(q for q in report.quantities if q.name == "log_prob").diff[DType.FLOAT64]
    assert got == pytest.approx(want, rel=1e-9)


def std_formula_on_log_variance(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return kl_divergence(Normal(mu, logvar.exp()), Normal(*STANDARD)).sum()  # exp(h): a std?


def vae_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum()  # h is log σ²


def test_a_log_variance_head_read_with_the_std_formula_is_a_parameterization() -> None:
    """The scale candidate finds it: side a wants logvar / 2 (a log-std where a
    log-variance is given)."""
    p = {"mu": _point()["mu"], "logvar": torch.linspace(-1.5, 1.0, 6)}
    d = {k: t.double() for k, t in p.items()}
    # the premise, by hand: side a at logvar / 2 is side b
    assert torch.allclose(std_formula_on_log_variance(d["mu"], d["logvar"] / 2), vae_kl(**d),
                          rtol=1e-14, atol=0)
    report = gaussdiag.compare(std_formula_on_log_variance, vae_kl, params=p)
    assert report.verdict == "parameterization", report
    assert report.cause is not None and report.cause.param == "logvar"
    assert (report.cause.side.value, report.cause.transform, report.cause.factor) == (
        "a", "scale", 0.5)
    assert "logvar / 2" in report.fix


def test_a_params_only_pair_is_judged_on_values_and_gradients() -> None:
    # the log-variance pair: the values and both gradients persist in float64
    p = {"mu": _point()["mu"], "logvar": torch.linspace(-1.5, 1.0, 6)}
    report = gaussdiag.compare(std_formula_on_log_variance, vae_kl, params=p)
    assert report.verdict == "parameterization"
    d = {k: t.double() for k, t in p.items()}
    want = _value_diff(std_formula_on_log_variance(**d), vae_kl(**d))
    got = next(q for q in report.quantities if q.name == "log_prob").diff[DType.FLOAT64]
    assert got == pytest.approx(want, rel=1e-9)


def test_a_distribution_side_still_needs_a_point() -> None:
    with pytest.raises(gaussdiag.GaussdiagError, match="side a: no input to evaluate log_prob "
                       "at: pass inputs="):
        gaussdiag.compare(lambda mu, std: Normal(mu, std), kl_term, params=_point())


def test_train_mode_still_needs_a_point() -> None:
    with pytest.raises(gaussdiag.GaussdiagError, match="train mode maximizes the mean "
                       "log_prob at an input"):
        gaussdiag.compare(kl_term, closed_form_kl, params=_point(), mode="train")


PAIRS = """
import torch
from torch.distributions import Normal, kl_divergence
import gaussdiag

def kl_term(mu, std):
    return kl_divergence(Normal(mu, std), Normal(0.0, 1.0)).sum()

def closed_form(mu, std):
    return (-std.log() + 0.5 * (std**2 + mu**2) - 0.5).sum()

def variance_as_std(mu, std):
    return kl_divergence(Normal(mu, std), Normal(0.0, 1.0)).sum()

def kl_of_variance(mu, std):
    return (0.5 * (std + mu**2 - 1 - std.log())).sum()

params = {"mu": torch.tensor([0.3, -1.2, 0.5]), "std": torch.tensor([0.7, 1.3, 2.0])}
kl = gaussdiag.Pair(kl_term, closed_form, params=params)
bug = gaussdiag.Pair(variance_as_std, kl_of_variance, params=params, expect="parameterization")
"""


def test_the_cli_runs_params_only_pairs(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    pairs = tmp_path / "pairs.py"
    pairs.write_text(PAIRS)
    out = tmp_path / "report.json"
    assert main(["compare", str(pairs), "--json", str(out)]) == 0, capsys.readouterr()
    specs = json.loads(out.read_text())["specs"]
    kl, bug = specs
    assert kl["verdict"] in ("agree", "round-off")
    assert bug["verdict"] == "parameterization" and bug["cause"]["param"] == "std"


# ---- YAML: a hand-written `log_prob:` side that names no input -------------------------------

CONFIG = (Path(__file__).parents[1] / "configs" / "kl_variance_as_std.yaml").read_text()
SIDE_B = '  log_prob: "sum(0.5 * (v**2 + mu**2 - 1) - log(v))"'


def _spec(source_b: str, extra: str = "") -> str:
    """The shipped config with side b's expression replaced (and `extra` keys added)."""
    assert SIDE_B in CONFIG
    text = CONFIG.replace(SIDE_B, f'  log_prob: "{source_b}"').replace(
        "expect: parameterization\n", "")
    return text + extra


def test_a_yaml_kl_term_with_no_input_agrees_with_its_rewriting() -> None:
    report = run(_spec("sum(0.5 * (exp(log(v)) - log(v) + mu * mu - 1))"))
    assert report.verdict in ("agree", "round-off"), report.explanation


def test_a_yaml_kl_term_reading_a_variance_as_a_std_is_found() -> None:
    report = run(CONFIG)
    assert report.verdict == "parameterization", report.explanation
    assert report.cause is not None and report.cause.param == "v"
    assert (report.cause.side.value, report.cause.transform) in (("a", "square"), ("b", "sqrt"))
    # by hand at the spec's point: the seeded generator's draws, in declaration order
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(5, dtype=torch.float64, generator=gen)
    v = torch.rand(5, dtype=torch.float64, generator=gen) * 1.5 + 0.5
    a = (0.5 * (v + mu**2 - 1 - v.log())).sum()
    b = (0.5 * (v**2 + mu**2 - 1) - v.log()).sum()
    want = float((a - b).abs() / torch.maximum(a.abs(), b.abs()))
    got = next(q for q in report.quantities if q.name == "log_prob").diff[DType.FLOAT64]
    assert got == pytest.approx(want, rel=1e-9)


def test_a_yaml_side_naming_an_input_still_needs_at() -> None:
    inputs = "inputs:\n  x: {values: [0.0]}\n  y: {values: [1.0]}\n"
    with pytest.raises(SpecError, match="several inputs"):
        loaded(_spec("sum(x + y + v)", inputs))
    loaded(_spec("sum(v)", inputs))  # naming none: no point needed


def test_a_yaml_dist_side_still_needs_an_input() -> None:
    text = _spec("sum(v)").replace(
        '  log_prob: "sum(0.5 * (v + mu**2 - 1 - log(v)))"',
        "  dist: Normal\n  args: {loc: mu, scale: v}")
    with pytest.raises(SpecError, match="a: no input to evaluate log_prob at"):
        loaded(text)
