"""Every distribution a spec may name builds from natural arguments (plain numbers where torch
takes numbers), runs in both dtypes and gets a verdict; torch's bugs on the way are worked
around, checked against closed forms; torch's warnings become report notes."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from rich.console import Console

from gaussdiag.engine.evaluate import run_side
from gaussdiag.frontends.yaml.bind import BoundSpec
from gaussdiag.frontends.yaml.spec.names import DISTRIBUTIONS
from gaussdiag.report import render_markdown, render_spec, to_json
from gaussdiag.results import RunReport, SpecReport
from gaussdiag.vocab import DType, SideName, Verdict
from tests.conftest import loaded, run


@dataclass(frozen=True)
class Case:
    """One distribution with natural arguments: params (YAML flow values), the args of its
    `dist:` (expressions, or plain numbers), and the point (`at` input) or rsample mode."""

    dist: str
    params: dict[str, str]
    args: dict[str, str | int | float]
    at: str | None = None  # None: rsample mode, 4 draws

    def spec(self) -> str:
        params = "\n".join(f"  {k}: {v}" for k, v in self.params.items())
        args = ", ".join(f"{k}: {v}" for k, v in self.args.items())
        side = f"{{dist: {self.dist}, args: {{{args}}}}}"
        head = f"version: 1\nname: {self.dist}\nseed: 3\n"
        if self.at is None:
            head += "mode: rsample\nsample_shape: [4]\n"
        text = f"{head}params:\n{params}\n"
        if self.at is not None:
            text += f"inputs:\n  x: {self.at}\n"
        return text + f"a: {side}\nb: {side}\n"


V = "{values: %s}"
POS3 = V % "[0.5, 1.0, 2.0]"
SPD3 = V % "[[2.0, 0.3, 0.1], [0.3, 1.5, 0.2], [0.1, 0.2, 1.0]]"

CASES: tuple[Case, ...] = (
    Case("Normal", {"loc": "{shape: [3], init: normal}", "s": POS3},
         {"loc": "loc", "scale": "s"}, V % "[0.1, -0.4, 1.2]"),
    Case("MultivariateNormal", {"loc": "{shape: [3], init: normal}", "cov": SPD3},
         {"loc": "loc", "covariance_matrix": "cov"}, V % "[[0.1, -0.4, 1.2], [0.0, 0.3, 0.2]]"),
    Case("LowRankMultivariateNormal",
         {"loc": "{shape: [3], init: normal}", "w": V % "[[0.5], [-0.2], [0.3]]", "d": POS3},
         {"loc": "loc", "cov_factor": "w", "cov_diag": "d"}, V % "[0.1, -0.4, 1.2]"),
    Case("LogNormal", {"m": V % "[0.0, 0.5, -0.5]", "s": POS3},
         {"loc": "m", "scale": "s"}, V % "[0.5, 1.5, 3.0]"),
    Case("StudentT", {"loc": "{shape: [3], init: normal}", "s": POS3},
         {"df": 4, "loc": "loc", "scale": "s"}, V % "[0.1, -0.4, 1.2]"),
    Case("Cauchy", {"loc": "{shape: [3], init: normal}", "s": POS3},
         {"loc": "loc", "scale": "s"}, V % "[0.1, -0.4, 1.2]"),
    Case("Laplace", {"loc": "{shape: [3], init: normal}", "s": POS3},
         {"loc": "loc", "scale": "s"}, V % "[0.1, -0.4, 1.2]"),
    Case("HalfNormal", {"s": POS3}, {"scale": "s"}, V % "[0.5, 1.5, 3.0]"),
    Case("HalfCauchy", {"s": POS3}, {"scale": "s"}, V % "[0.5, 1.5, 3.0]"),
    Case("Gumbel", {"loc": "{shape: [3], init: normal}", "s": POS3},
         {"loc": "loc", "scale": "s"}, V % "[0.1, -0.4, 1.2]"),
    Case("Exponential", {"r": POS3}, {"rate": "r"}, V % "[0.5, 1.5, 3.0]"),
    Case("Gamma", {"k": V % "[1.5, 2.0, 3.0]", "r": POS3},
         {"concentration": "k", "rate": "r"}, V % "[0.5, 1.5, 3.0]"),
    Case("Chi2", {"k": V % "[1.5, 2.0, 3.0]"}, {"df": "k"}, V % "[0.5, 1.5, 3.0]"),
    Case("InverseGamma", {"k": V % "[1.5, 2.0, 3.0]", "r": POS3},
         {"concentration": "k", "rate": "r"}, V % "[0.5, 1.5, 3.0]"),
    Case("Beta", {"a1": V % "[1.5, 2.0, 3.0]", "a0": POS3},
         {"concentration1": "a1", "concentration0": "a0"}, V % "[0.2, 0.5, 0.7]"),
    Case("Dirichlet", {"k": V % "[1.5, 2.0, 3.0]"}, {"concentration": "k"},
         V % "[0.2, 0.3, 0.5]"),
    Case("Uniform", {"lo": V % "[0.0, -1.0, 0.5]"},
         {"low": "lo", "high": "lo + 2"}, V % "[0.5, 0.0, 2.0]"),
    Case("Weibull", {"s": POS3, "k": V % "[1.5, 2.0, 3.0]"},
         {"scale": "s", "concentration": "k"}, V % "[0.5, 1.5, 3.0]"),
    Case("Pareto", {"s": POS3, "a": V % "[1.5, 2.0, 3.0]"},
         {"scale": "s", "alpha": "a"}, V % "[0.6, 1.5, 3.0]"),
    Case("Kumaraswamy", {"a1": V % "[1.5, 2.0, 3.0]", "a0": POS3},
         {"concentration1": "a1", "concentration0": "a0"}, V % "[0.2, 0.5, 0.7]"),
    Case("FisherSnedecor", {"d1": V % "[3.0, 5.0, 8.0]", "d2": V % "[4.0, 6.0, 9.0]"},
         {"df1": "d1", "df2": "d2"}, V % "[0.5, 1.5, 3.0]"),
    Case("VonMises", {"loc": V % "[0.0, 1.0, -2.0]", "k": POS3},
         {"loc": "loc", "concentration": "k"}, V % "[0.5, -1.5, 3.0]"),
    Case("GeneralizedPareto", {"loc": V % "[0.0, 1.0, -1.0]", "s": POS3,
                               "c": V % "[0.2, 0.5, -0.1]"},
         {"loc": "loc", "scale": "s", "concentration": "c"}, V % "[0.5, 1.5, 0.0]"),
    Case("LogisticNormal", {"loc": V % "[0.0, 0.5]", "s": V % "[1.0, 2.0]"},
         {"loc": "loc", "scale": "s"}, V % "[0.2, 0.3, 0.5]"),
    Case("ContinuousBernoulli", {"p": V % "[0.2, 0.35, 0.8]"}, {"probs": "p"},
         V % "[0.1, 0.5, 0.9]"),
    Case("Wishart", {"cov": SPD3}, {"df": 5, "covariance_matrix": "cov"}),
    Case("LKJCholesky", {"k": V % "1.5"}, {"dim": 3, "concentration": "k"},
         "{sample: a, sample_shape: [2]}"),
    Case("Bernoulli", {"p": V % "[0.2, 0.5, 0.8]"}, {"probs": "p"}, V % "[0.0, 1.0, 1.0]"),
    Case("Binomial", {"p": V % "[0.2, 0.5, 0.8]"}, {"total_count": 5, "probs": "p"},
         V % "[0.0, 2.0, 5.0]"),
    Case("Categorical", {"p": V % "[0.2, 0.3, 0.5]"}, {"probs": "p"}, V % "[0.0, 2.0, 1.0]"),
    Case("Geometric", {"p": V % "[0.2, 0.5, 0.8]"}, {"probs": "p"}, V % "[0.0, 2.0, 5.0]"),
    Case("NegativeBinomial", {"p": V % "[0.2, 0.5, 0.8]"}, {"total_count": 3, "probs": "p"},
         V % "[0.0, 2.0, 5.0]"),
    Case("Poisson", {"r": POS3}, {"rate": "r"}, V % "[0.0, 2.0, 5.0]"),
    Case("Multinomial", {"p": V % "[0.2, 0.3, 0.5]"}, {"total_count": 5, "probs": "p"},
         V % "[[1.0, 2.0, 2.0], [0.0, 0.0, 5.0]]"),
    Case("OneHotCategorical", {"p": V % "[0.2, 0.3, 0.5]"}, {"probs": "p"},
         V % "[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]"),
)


def test_every_distribution_name_has_a_case() -> None:
    assert sorted(c.dist for c in CASES) == sorted(DISTRIBUTIONS)


@pytest.mark.parametrize("case", CASES, ids=[c.dist for c in CASES])
def test_distribution_written_twice_agrees_in_both_dtypes(case: Case) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may escape as a stray warning
        report = run(case.spec())
    assert report.error is None, f"{case.dist}: {report.error}\n{case.spec()}"
    assert report.verdict is Verdict.AGREE, (case.dist, report.explanation)
    assert set(report.dtypes) >= {DType.FLOAT32, DType.FLOAT64}
    assert report.quantities and all(
        set(q.diff) >= {DType.FLOAT32, DType.FLOAT64} for q in report.quantities), case.dist


def _value(case: Case, dtype: DType) -> torch.Tensor:
    """Side a's compared value (log_prob at x, or the draws) in `dtype`, in float64."""
    return run_side(BoundSpec(loaded(case.spec())), SideName.A, dtype).value.double()


def _case(dist: str) -> Case:
    return next(c for c in CASES if c.dist == dist)


@pytest.mark.parametrize("dtype", [DType.FLOAT32, DType.FLOAT64])
def test_generalized_pareto_log_prob_matches_its_closed_form(dtype: DType) -> None:
    # log p(x) = -log s - (1 + 1/c) log1p(c z), z = (x - loc) / s: torch's float32 constant
    # used to make float64 scoring fail
    loc = torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64)
    s = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    c = torch.tensor([0.2, 0.5, -0.1], dtype=torch.float64)
    z = (torch.tensor([0.5, 1.5, 0.0], dtype=torch.float64) - loc) / s
    expected = -s.log() - (1 + 1 / c) * torch.log1p(c * z)
    got = _value(_case("GeneralizedPareto"), dtype)
    tol = 1e-12 if dtype is DType.FLOAT64 else 1e-5  # a few float32 eps on O(1) values
    assert torch.allclose(got, expected, rtol=tol, atol=tol), (got, expected)
    assert torch.get_default_dtype() == torch.float32  # the workaround restores it


def test_multinomial_takes_a_plain_total_count_and_matches_its_closed_form() -> None:
    p = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    x = torch.tensor([[1.0, 2.0, 2.0], [0.0, 0.0, 5.0]], dtype=torch.float64)
    expected = (math.lgamma(6) - torch.lgamma(x + 1).sum(-1) + (x * p.log()).sum(-1))
    got = _value(_case("Multinomial"), DType.FLOAT64)
    assert torch.allclose(got, expected, rtol=1e-12), (got, expected)


def test_lkj_cholesky_takes_a_plain_dim_and_matches_torch_built_by_hand() -> None:
    case = _case("LKJCholesky")
    problem = BoundSpec(loaded(case.spec()))
    x = problem.sample_input("x")
    assert x.shape == (2, 3, 3)
    expected = torch.distributions.LKJCholesky(3, torch.tensor(1.5, dtype=torch.float64)
                                               ).log_prob(x)
    got = run_side(problem, SideName.A, DType.FLOAT64).value
    assert torch.allclose(got, expected, rtol=1e-12), (got, expected)


@pytest.mark.parametrize(("dist", "key", "value", "found"), [
    ("LKJCholesky", "dim", "'n'", "the expression 'n'"),
    ("LKJCholesky", "dim", "2.5", "2.5"),
    ("LKJCholesky", "dim", "1", "1"),
    ("Multinomial", "total_count", "-3", "-3"),
], ids=["dim-expression", "dim-fraction", "dim-below-2", "total-count-negative"])
def test_plain_number_arguments_refuse_anything_else_located(dist: str, key: str, value: str,
                                                             found: str) -> None:
    case = _case(dist)
    text = case.spec().replace(f"{key}: {case.args[key]}", f"{key}: {value}")
    text = text.replace("params:\n", "params:\n  n: {values: 3.0}\n")
    report = run(text)
    assert report.verdict is None and report.error is not None
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("a:"))
    col = next(t for t in text.splitlines() if t.startswith("a:")).index(f"{key}:") + 1
    assert report.error.startswith(f"test.yaml:{line}:{col}: a.args.{key}: "), report.error
    assert f"plain whole number >= {2 if key == 'dim' else 0}" in report.error
    assert f"found {found}" in report.error and "\n" not in report.error


def test_rank_zero_low_rank_factor_is_a_located_spec_error() -> None:
    text = _case("LowRankMultivariateNormal").spec().replace(
        "w: {values: [[0.5], [-0.2], [0.3]]}", "w: {shape: [3, 0], init: zeros}")
    report = run(text)
    assert report.error is not None and "a.args.cov_factor: " in report.error, report.error
    assert "at least one column" in report.error and "[3, 0]" in report.error


def test_wishart_draws_are_positive_definite_with_finite_gradients_and_no_warning() -> None:
    problem = BoundSpec(loaded(_case("Wishart").spec()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runs = [run_side(problem, SideName.A, dt) for dt in (DType.FLOAT32, DType.FLOAT64)]
    for r in runs:
        assert r.value.shape == (4, 3, 3)
        assert bool((torch.linalg.eigvalsh(r.value.double()) > 0).all())
        assert all(g is not None and bool(torch.isfinite(g).all()) for g in r.grads.values())
        assert r.grads  # the covariance is a leaf: the draws carry its gradient
    assert problem.warnings.notes == ()


def _warning_report(monkeypatch: pytest.MonkeyPatch) -> SpecReport:
    """A spec whose side b's log_prob warns (a torch method patched to warn, as torch does)."""
    original = torch.distributions.Laplace.log_prob

    def warns(self: torch.distributions.Laplace, value: torch.Tensor) -> torch.Tensor:
        warnings.warn("scale is tiny", UserWarning, stacklevel=2)
        return original(self, value)

    monkeypatch.setattr(torch.distributions.Laplace, "log_prob", warns)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return run(_case("Laplace").spec())


def test_a_torch_warning_becomes_one_note_naming_side_and_dtypes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    report = _warning_report(monkeypatch)
    expected = "side a (float32, float64): torch warned (UserWarning): scale is tiny"
    assert expected in report.notes
    assert "side b (float32, float64): torch warned (UserWarning): scale is tiny" in report.notes
    assert len([n for n in report.notes if "scale is tiny" in n]) == 2  # deduplicated
    run_report = RunReport(specs=(report,))
    assert expected in to_json(run_report)["specs"][0]["notes"]
    assert expected in render_markdown(run_report)
    console = Console(width=200, no_color=True, record=True)
    console.print(render_spec(report))
    assert expected in console.export_text()


def test_cli_prints_no_stray_warning_lines(tmp_path: Path) -> None:
    path = tmp_path / "wishart.yaml"
    path.write_text(_case("Wishart").spec() + "expect: agree\n")
    r = subprocess.run([sys.executable, "-W", "default", "-m", "gaussdiag", "compare",
                        str(path)], capture_output=True, text=True, timeout=300,
                       cwd=Path(__file__).parent.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Warning" not in r.stderr and "Singular" not in r.stdout + r.stderr, r.stderr


def test_a_singular_wishart_draw_is_reported_as_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    # draws with a zeroed last row and column are singular; torch's own check cannot report
    # them (it is inverted), the replacement class's check does
    from gaussdiag.frontends.yaml.bind.dist_args import torch_class

    cls = torch_class("Wishart")
    bartlett = cls._bartlett_sampling

    def rank_deficient(self: torch.distributions.Wishart, shape: torch.Size) -> torch.Tensor:
        draw = bartlett(self, shape)
        keep = torch.tensor([1.0, 1.0, 0.0], dtype=draw.dtype)
        return draw * (keep[:, None] * keep)  # symmetric, rank 2

    monkeypatch.setattr(cls, "_bartlett_sampling", rank_deficient)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = run(_case("Wishart").spec())
    assert report.error is None, report.error
    assert ("side a (float32, float64): torch warned (UserWarning): 4 of 4 Wishart draws are "
            "singular (not positive definite); their log_prob is -inf") in report.notes
