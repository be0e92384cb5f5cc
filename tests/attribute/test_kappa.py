"""estimate_kappa against closed forms, and its degraded answer on matrices without
eigenvalues (inf or 1e308 entries): kappa unknown, said in a note, never a crash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gaussdiag.attribute.kappa import estimate_kappa
from gaussdiag.frontends.yaml.bind import BoundSpec
from gaussdiag.vocab import Verdict
from tests.conftest import loaded, run

ROOT = Path(__file__).parent.parent.parent

MVN = """
version: 1
seed: 0
params:
  loc: {{shape: [2], init: zeros}}
  L: {{values: {tril}}}
inputs:
  x: {{sample: b, sample_shape: [4]}}
a: {{dist: MultivariateNormal, args: {{loc: loc, scale_tril: L}}}}
b: {{dist: MultivariateNormal, args: {{loc: loc, covariance_matrix: "{cov}"}}}}
"""


def test_diagonal_scale_tril_gives_the_ratio_of_its_diagonal() -> None:
    # cond(L) = sqrt(cond(L L^T)) = 2 / 0.5 for a diagonal L
    problem = BoundSpec(loaded(MVN.format(tril="[[2.0, 0.0], [0.0, 0.5]]",
                                        cov="L @ transpose(L)")))
    notes: list[str] = []
    assert estimate_kappa(problem, notes) == pytest.approx(4.0, rel=1e-12)
    assert notes == []


def test_no_matrix_argument_gives_1() -> None:
    spec = """
    version: 1
    params: {s: {values: [1.0e-6, 1.0e6]}}
    inputs: {x: {sample: b, sample_shape: [2]}}
    a: {dist: Normal, args: {loc: 0.0, scale: s}}
    b: {dist: Normal, args: {loc: 0.0, scale: s}}
    """
    assert estimate_kappa(BoundSpec(loaded(spec))) == 1.0


# A 1e308 scale_tril builds (its constraint holds) but L L^T overflows: kappa unknown, said.
# An inf covariance breaks PositiveDefinite, so that side is not built and needs no note.
@pytest.mark.parametrize(("tril", "cov", "noted"), [
    ("[[1.0e308, 0.0], [1.0, 1.0e308]]", "L @ transpose(L)", True),
    ("[[1.0, 0.0], [0.5, 1.0]]", "L @ transpose(L) * 1.0e308 * 10.0", False),
], ids=["scale_tril-1e308", "covariance-inf"])
def test_matrix_without_eigenvalues_degrades_to_kappa_unknown(tril: str, cov: str,
                                                              noted: bool) -> None:
    report = run(MVN.format(tril=tril, cov=cov))
    assert report.error is None, report.error
    assert report.verdict in (Verdict.INVALID_PARAMETERS, Verdict.NON_FINITE), report
    assert report.kappa == 1.0
    assert any(n.startswith("kappa unknown") for n in report.notes) is noted, report.notes


def test_cli_on_a_1e308_scale_tril_exits_1_not_3(tmp_path: Path) -> None:
    spec = tmp_path / "huge.yaml"
    spec.write_text(MVN.format(tril="[[1.0e308, 0.0], [1.0, 1.0e308]]", cov="L @ transpose(L)"))
    r = subprocess.run([sys.executable, "-m", "gaussdiag", "compare", str(spec), "--no-timings"],
                       capture_output=True, text=True, cwd=ROOT,
                       env={"NO_COLOR": "1", "COLUMNS": "100", "OMP_NUM_THREADS": "1",
                            "PATH": "/usr/bin:/bin"})
    assert r.returncode == 1, r.stderr
    assert "kappa unknown" in r.stdout and "Traceback" not in r.stderr
