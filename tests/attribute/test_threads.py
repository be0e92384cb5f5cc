"""Golden answers, one per seed thread: the thread's own question answered in the result's
words (explanation, fix, notes, problems, evidence), with numbers checked by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from gaussdiag.frontends.yaml.run import diagnose_file
from gaussdiag.pipeline import Options
from gaussdiag.results import SpecReport
from gaussdiag.vocab import Verdict
from tests.conftest import run

CONFIGS = Path(__file__).parent.parent.parent / "configs"


def words(report: SpecReport) -> str:
    return "\n".join([report.explanation, report.fix, *report.notes,
                      *(p.message for p in report.problems)])


def test_thread_000_std_as_covariance_is_a_factor_2_in_the_exponent() -> None:
    report = diagnose_file(str(CONFIGS / "thread_000_diag_embed_std.yaml"), Options())
    assert report.verdict is Verdict.PARAMETERIZATION
    assert "covariance_matrix=torch.diag_embed(std ** 2)" in report.fix
    # side a's variance is std, side b's std ** 2: the variance evidence shows it entry-wise
    var = next(e for e in report.evidence if e.label == "variance")
    for a, b in zip(var.a, var.b, strict=True):
        assert b == pytest.approx(a ** 2, rel=1e-12)
    assert "the gradient reaches mean and std on both sides" in words(report)


def test_thread_000_at_std_one_shows_the_jittered_point_in_the_evidence() -> None:
    text = (CONFIGS / "thread_000_diag_embed_std.yaml").read_text().replace(
        "init: {uniform: [0.5, 2.0]}", "init: ones")
    report = run(text)
    assert report.verdict is Verdict.PARAMETERIZATION
    assert any("only by coincidence" in n for n in report.notes), report.notes
    by = {e.label: e for e in report.evidence}
    from gaussdiag import tolerance as tl
    from gaussdiag.vocab import DType

    # std == std ** 2 at ones: the two sides differ there only by float64 round-off
    assert by["log_prob at the spec's point"].diff <= tl.tol(DType.FLOAT64)
    assert by["log_prob at a jittered point"].diff > 1e-3


def test_thread_001_the_gradient_reaches_x_mean_and_x_var() -> None:
    report = diagnose_file(str(CONFIGS / "thread_001_randn_size.yaml"), Options())
    assert report.verdict is Verdict.AGREE
    assert ("the gradient reaches x_mean and x_var on both sides (reparameterized draws)"
            in report.notes), report.notes


def test_thread_001_negative_variances_mention_side_a_nan_draws() -> None:
    text = (CONFIGS / "thread_001_randn_size.yaml").read_text().replace(
        "init: {uniform: [0.1, 4.0]}", "init: normal")  # the thread's own torch.randn(...)
    report = run(text)
    assert report.verdict is Verdict.INVALID_PARAMETERS
    others = [p for p in report.problems if p.verdict is Verdict.NON_FINITE]
    assert others and "side a" in others[0].message and "draws has" in others[0].message


def test_thread_002_batched_covariance_names_index_eigenvalue_and_scale_tril() -> None:
    text = """
    version: 1
    params:
      loc: {shape: [2, 3], init: zeros}
      cov: {values: [[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
                     [[1.0, 0.9, 0.0], [0.9, 1.0, 0.9], [0.0, 0.9, 1.0]]]}
    inputs: {y: {values: [[0.5, -0.2, 1.0], [0.0, 0.3, -0.4]]}}
    a: {dist: MultivariateNormal, args: {loc: loc, covariance_matrix: cov}}
    b: {dist: Normal, args: {loc: loc, scale: "sqrt(diagonal(cov))"},
        event_dims: 1}
    at: y
    """
    report = run(text)
    assert report.verdict is Verdict.INVALID_PARAMETERS
    # eigenvalues of the second matrix: 1 and 1 +- 0.9 sqrt(2); the smallest is -0.2728
    smallest = 1 - 0.9 * math.sqrt(2)
    assert f"smallest eigenvalue {smallest:.4g}" in report.explanation
    assert "[1]" in report.explanation and "index" in report.explanation
    assert "scale_tril" in report.fix


def test_thread_003_grad_std_is_large_but_correct() -> None:
    report = diagnose_file(str(CONFIGS / "thread_003_log_prob_formula.yaml"), Options())
    assert report.verdict is Verdict.AGREE
    # d/dsigma log N(x; 0, sigma) = -1/sigma + x^2/sigma^3 at sigma 0.01, x 10
    grad = -1 / 0.01 + 10.0 ** 2 / 0.01 ** 3
    size = f"1e{round(math.log10(grad))}"
    assert size == "1e8"
    note = next(n for n in report.notes if n.startswith("grad[std]"))
    assert f"about {size}, large but correct" in note
    assert "float32 keeps 7.2 of 7.2 digits" in note
