"""Comments that match output: every machine-independent figure a config's description or the
README quotes is what the tool computes (closed forms and float64 quantities to their last
digits; float32 round-off only through inequalities with a margin, since another CPU's kernels
round differently).

Each row: the file, the text it quotes (whitespace-insensitive), and a check that computes the
figure independently or reads it from the tool and returns True when the quote holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from gaussdiag import tolerance as tl
from gaussdiag.numbers import number
from gaussdiag.precision.point import check_point, parse_point
from gaussdiag.vocab import DType, ScaleParam
from tests.conftest import config_report

ROOT = Path(__file__).parent.parent


report = config_report


def starting_kappa(name: str) -> float:
    """A config's kappa as its report gives it, without running the rest (a train config's
    training takes seconds; kappa is taken at the starting point)."""
    from gaussdiag.attribute import estimate_kappa
    from gaussdiag.frontends.yaml.bind import BoundSpec
    from gaussdiag.frontends.yaml.spec import load_spec

    return estimate_kappa(BoundSpec(load_spec(ROOT / "configs" / f"{name}.yaml")), [])


def order(x: float) -> str:
    """`x` as the quotes write a size: 1e8."""
    return f"1e{round(math.log10(abs(x)))}"


def note_size(name: str, quantity: str) -> str:
    """The size the compare report's large-value note gives `quantity`: 'about 1e8'."""
    note = next(n for n in report(name).notes if n.startswith(f"{quantity} is about "))
    return note.split()[3].rstrip(",")


def grads_at(loc: float, scale: float, x: float) -> tuple[float, float, float]:
    """Closed forms: log N(x; loc, scale), d/dloc, d/dscale."""
    z = (x - loc) / scale
    return (-0.5 * z * z - math.log(scale) - 0.5 * math.log(2 * math.pi),
            (x - loc) / scale ** 2, ((x - loc) ** 2 - scale ** 2) / scale ** 3)


def worst(name: str, dtype: DType) -> float:
    return max(q.diff[dtype] for q in report(name).quantities)


F32, F64 = DType.FLOAT32, DType.FLOAT64
P = np.array([[500000.5, 499999.5, 0.0, 0.0], [499999.5, 500000.5, 0.0, 0.0],
              [0.0, 0.0, 2.0, 0.5], [0.0, 0.0, 0.5, 1.0]])  # ill_conditioned_covariance's P
EPS_RATIO = float(np.finfo(np.float32).eps / np.finfo(np.float64).eps)  # 2 ** 29


def _point_grad_scale() -> tuple[float, float]:
    res = check_point(F32, ScaleParam.SCALE, parse_point("loc=0,scale=0.01,x=10",
                                                         ScaleParam.SCALE))
    q = next(q for q in res.quantities if q.name == "grad[scale]")
    return q.low, q.reference


Check = Callable[[], bool]
ROWS: list[tuple[str, str, str, Check]] = [
    # closed forms at thread 003's point: grad[loc] = x / scale^2, grad[scale] ~ x^2 / scale^3
    ("tiny_sigma_loc", "configs/tiny_sigma_handwritten.yaml", "about 1e5 for loc",
     lambda: order(grads_at(0, 0.01, 10)[1]) == "1e5"
     and note_size("tiny_sigma_handwritten", "grad[loc]") == "1e5"),
    ("tiny_sigma_scale", "configs/tiny_sigma_handwritten.yaml", "1e8 for scale",
     lambda: order(grads_at(0, 0.01, 10)[2]) == "1e8"
     and note_size("tiny_sigma_handwritten", "grad[scale]") == "1e8"),
    ("thread_003_mean", "configs/thread_003_log_prob_formula.yaml", "about 1e5 for mean",
     lambda: note_size("thread_003_log_prob_formula", "grad[mean]") == "1e5"),
    ("thread_003_std", "configs/thread_003_log_prob_formula.yaml", "1e8 for std",
     lambda: note_size("thread_003_log_prob_formula", "grad[std]") == "1e8"),
    # the eigenvalues of P: 1e6 and 1 from the first block, (3 +- sqrt 2) / 2 from the second
    ("ill_cond_config", "configs/ill_conditioned_covariance.yaml", "condition number 1e6",
     lambda: order(float(np.linalg.cond(P))) == "1e6"
     and order(report("ill_conditioned_covariance").kappa ** 2) == "1e6"),
    ("ill_cond_readme", "README.md", "precision with condition number 1e6",
     lambda: order(float(np.linalg.cond(P))) == "1e6"),
    ("ill_cond_float32", "configs/ill_conditioned_covariance.yaml", "differences of 1e-3 and more",
     lambda: worst("ill_conditioned_covariance", F32) > 1e-3),  # measured 0.4: margin 400x
    # kappa is computed in float64 from the covariance: the same on every machine
    ("scale_tril_kappa", "configs/scale_tril_vs_covariance.yaml", "cond(L) ~ 570",
     lambda: abs(report("scale_tril_vs_covariance").kappa - 570) < 5),
    ("scale_tril_kappa_readme", "README.md", "cond(L) ≈ 570",
     lambda: abs(report("scale_tril_vs_covariance").kappa - 570) < 5),
    ("scale_tril_eigen_ratio", "configs/scale_tril_vs_covariance.yaml",
     "eigenvalue ratio (3e-6)",
     lambda: f"{report('scale_tril_vs_covariance').kappa ** -2:.0e}" == "3e-06"),
    # the singular threshold n x eps(float32) for 3x3 matrices
    ("scale_tril_working_precision", "configs/scale_tril_vs_covariance.yaml",
     "working precision (3.6e-7)", lambda: f"{3 * np.finfo(np.float32).eps:.1e}" == "3.6e-07"),
    # float32 round-off at cond 570 (measured 1.1e-4 at the worst): inequalities, 3x margins
    ("scale_tril_float32", "configs/scale_tril_vs_covariance.yaml",
     "up to about 1e-4 here, several times tol(float32)",
     lambda: 3 * tl.tol(F32) < worst("scale_tril_vs_covariance", F32) < 1e-3),
    ("scale_tril_float64", "configs/scale_tril_vs_covariance.yaml", "to 1e-13 in float64",
     lambda: worst("scale_tril_vs_covariance", F64) < 1e-12),
    # the demo (thread 000) and the train example's kappa as the README shows them
    ("readme_demo_kappa", "README.md", "mode log_prob · kappa 1.6",
     lambda: number(report("thread_000_diag_embed_std").kappa, 2) == "1.6"),
    ("readme_train_kappa", "README.md", "mode train · kappa 2.55",
     lambda: number(starting_kappa("train_mvn_fixed_vs_normal")) == "2.55"),
    ("readme_demo_tol", "README.md", "0.154 0.154 1x 7.63e-06 parameterization",
     lambda: number(tl.tol(F32)) == "7.63e-06"
     and number(report("mvn_diag_vs_normal").quantities[0].diff[F64]) == "0.154"),
    ("readme_tol", "README.md", "tol = 7.6e-6", lambda: f"{tl.tol(F32):.1e}" == "7.6e-06"),
    ("readme_billion", "README.md", "Round-off shrinks by about a billion",
     lambda: order(EPS_RATIO) == "1e9"),
    ("readme_float32_digits", "README.md", "float32 holds 7.2",
     lambda: f"{24 * math.log10(2):.1f}" == "7.2"
     and f"{tl.precision_digits(F32):.1f}" == "7.2"),
    # precision-check --point: float64 at the float32-rounded scale to its printed digits; the
    # float32 value within a few ulps (8 at 1e8) of the README's
    ("readme_point_reference", "README.md", "| grad[scale] | 99999904 | 99999906.7 |",
     lambda: f"{_point_grad_scale()[1]:.1f}" == "99999906.7"
     and f"{grads_at(0, float(np.float32(0.01)), 10)[2]:.1f}" == "99999906.7"),
    ("readme_point_float32", "README.md", "| grad[scale] | 99999904 |",
     lambda: abs(_point_grad_scale()[0] - 99999904) <= 4 * 8),
    ("readme_point_sizes", "README.md", "log_prob = -5e5, grad[loc] = 1e5, grad[scale] = 1e8",
     lambda: [f"{v:.0e}".replace("e+0", "e") for v in grads_at(0, 0.01, 10)]
     == ["-5e5", "1e5", "1e8"]),
    # the relations the mismatch configs and the README's example quote (closed forms)
    ("half_cauchy_log_2", "configs/half_cauchy_vs_cauchy.yaml",
     "the values differ by log 2 at every point",
     lambda: _closed_form("half_cauchy_vs_cauchy") == ("offset", "log 2")
     and math.log(2) == pytest.approx(report("half_cauchy_vs_cauchy").structure.value,
                                      rel=1e-12)),  # type: ignore[union-attr]
    ("vae_factor", "configs/vae_mean_over_pixels.yaml", "side b's times 1/784",
     lambda: _closed_form("vae_mean_over_pixels") == ("factor", "1/784")),
    ("lognormal_term", "configs/lognormal_without_jacobian.yaml", "matches log x",
     lambda: _closed_form("lognormal_without_jacobian") == ("point-term", "log x")),
    ("readme_vae_factor", "README.md", "relation: factor 0.001276 = 1/784",
     lambda: number(1 / 784, 4) == "0.001276"
     and _closed_form("vae_mean_over_pixels") == ("factor", "1/784")),
    ("readme_half_cauchy", "README.md", "offset 0.6931 = log 2",
     lambda: number(math.log(2), 4) == "0.6931"
     and _closed_form("half_cauchy_vs_cauchy") == ("offset", "log 2")),
    ("mvn_diag_factor_2", "configs/mvn_diag_vs_normal.yaml",
     "differ by a factor of exactly 2 (the derivative of std ** 2)",
     lambda: _factor_at_ones() == 2.0),
]


def _closed_form(name: str) -> tuple[str, str | None] | None:
    """A mismatch config's relation: its kind and closed form."""
    s = report(name).structure
    return None if s is None else (s.kind.value, s.closed_form)


def _factor_at_ones() -> float:
    """grad[std] of Normal(0, std**2 as variance) over that of variance std, at std = 1."""
    import torch

    x = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    ratios = []
    for square in (False, True):
        std = torch.ones(3, dtype=torch.float64, requires_grad=True)
        var = std ** 2 if square else std
        torch.distributions.Normal(0.0, var.sqrt()).log_prob(x).sum().backward()
        assert std.grad is not None
        ratios.append(std.grad)
    return float((ratios[1] / ratios[0]).mean())


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(("file", "quote", "check"), [r[1:] for r in ROWS],
                         ids=[r[0] for r in ROWS])
def test_quoted_figure_is_what_the_tool_computes(file: str, quote: str, check: Check) -> None:
    text = _flat((ROOT / file).read_text(encoding="utf-8"))
    assert _flat(quote) in text, f"{file} no longer quotes {quote!r}: update this table"
    assert check(), f"{file}: {quote!r} does not match the tool"
