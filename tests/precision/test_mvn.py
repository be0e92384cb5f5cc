"""`sweep_mvn` against `cholesky_ex` and float64 autograd of the closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from gaussdiag.precision import (
    CellClass,
    MvnParam,
    MvnSweep,
    mvn_matrices,
)

from .refs import (
    COND,
)


def test_mvn_matrices_are_what_they_claim() -> None:
    case = mvn_matrices(4, COND.values())
    for k, cond in enumerate(COND.values()[:9]):      # float64 eigvalsh is reliable here
        ev = torch.linalg.eigvalsh(case.cov[k])
        assert float(ev[-1] / ev[0]) == pytest.approx(cond, rel=1e-6)
        assert torch.allclose(case.tril[k] @ case.tril[k].T, case.cov[k], rtol=0, atol=1e-14)
        assert torch.allclose(case.cov[k] @ case.prec[k], torch.eye(4, dtype=torch.float64),
                              atol=1e-8 * cond)
    assert torch.equal(case.tril, torch.tril(case.tril))


@pytest.mark.parametrize("param", list(MvnParam), ids=lambda p: p.value)
def test_mvn_failures_match_cholesky_ex(mvn32: MvnSweep, param: MvnParam) -> None:
    """Where the sweep says factorization-failed is exactly where float32 cholesky_ex of the
    same float32 matrix reports an error (torch factorizes a precision matrix flipped)."""
    case = mvn_matrices(4, COND.values())
    line = next(ln for ln in mvn32.lines if ln.param is param)
    failed = [c is CellClass.FACTORIZATION_FAILED for c in line.classes]
    if param is MvnParam.SCALE_TRIL:
        assert not any(failed)
        return
    m = case.cov if param is MvnParam.COVARIANCE_MATRIX else case.prec.flip(-2, -1)
    info = torch.linalg.cholesky_ex(m.to(torch.float32)).info
    want = [bool(v) for v in info.ne(0).tolist()]
    assert failed == want, f"{param.value}: conditions {COND.values()}"
    assert any(want), "the sweep should reach a failing condition number"
    first = COND.values()[want.index(True)]
    (f,) = [f for f in mvn32.findings
            if f.cell_class is CellClass.FACTORIZATION_FAILED and f.quantity == param.value]
    assert f"first at cond = {first:.0e}".replace("e+", "e").replace("e0", "e") in f.text


@pytest.mark.parametrize("param", list(MvnParam), ids=lambda p: p.value)
def test_mvn_closed_form_matches_float64_autograd(param: MvnParam) -> None:
    """The closed-form reference agrees with torch's own float64 autograd at cond 1e3."""
    from gaussdiag.precision.mvn import _mvn_reference

    case = mvn_matrices(3, [1e3])
    r = (case.u * case.eigs.sqrt()) @ case.q.T
    ref = _mvn_reference(case, r)
    mat = {MvnParam.COVARIANCE_MATRIX: case.cov, MvnParam.SCALE_TRIL: case.tril,
           MvnParam.PRECISION_MATRIX: case.prec}[param][0].clone().requires_grad_(True)
    loc = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    lp = torch.distributions.MultivariateNormal(loc, validate_args=False,
                                                **{param.value: mat}).log_prob(r[0])
    g_loc, g_m = torch.autograd.grad(lp, [loc, mat])
    assert float(lp.detach()) == pytest.approx(float(ref["log_prob"][0]), rel=1e-12)
    assert torch.allclose(g_loc, ref["grad[loc]"][0], rtol=1e-10)
    assert torch.allclose(g_m, ref[f"grad[{param.value}]"][0], rtol=1e-9, atol=1e-9)


def test_scale_tril_is_the_robust_choice(mvn32: MvnSweep) -> None:
    last = mvn32.findings[-1]
    assert "most robust" in last.text and "scale_tril" in last.text
    tril_lp = next(ln for ln in mvn32.lines
                   if ln.param is MvnParam.SCALE_TRIL and ln.name == "log_prob")
    assert all(not math.isnan(d) for d in tril_lp.digits)


@pytest.mark.parametrize("args", [["--cond-hi", "1e308"], ["--dtype", "float16"]],
                         ids=["cond-1e308", "float16"])
def test_degenerate_sweeps_degrade_instead_of_crashing(
        capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    # LAPACK's eigh fails to converge on matrices with entries near the float maximum; the
    # indefiniteness test must read that as unknown, never as an internal error (exit 3)
    from .refs import run_cli

    code, out, err = run_cli(capsys, "--dist", "mvn", "--quick", *args)
    assert code == 0, err
    assert "scale_tril" in out and "internal error" not in err
