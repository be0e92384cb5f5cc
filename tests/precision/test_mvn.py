"""`sweep_mvn` against `cholesky_ex` and float64 autograd of the closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from gaussdiag.precision import (
    CellClass,
    Finding,
    MvnLine,
    MvnParam,
    MvnSweep,
    ScaleParam,
    accurate_digits,
    check_point,
    make_axis,
    mvn_matrices,
    parse_point,
    sweep_mvn,
    sweep_normal,
)
from gaussdiag.precision.mvn import mvn_findings
from gaussdiag.vocab import DType

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


# ---- one threshold, and summaries that agree with their rows ----------------------------------


@pytest.mark.parametrize("dtype", [DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16],
                         ids=lambda d: d.value)
@pytest.mark.parametrize("dim", [1, 4, 64])
def test_one_accuracy_threshold_in_every_map(dtype: DType, dim: int) -> None:
    """The MVN sweep, at any dim, calls the same digits accurate as the Normal map and a
    point: tolerance.accurate_digits. Each MVN cell's class follows that threshold (cells
    within 0.01 digits of it are left out: the class compares errors, the digits round)."""
    axis = make_axis("cond", 1.0, 1e8, 5)
    mvn = sweep_mvn(dtype, dim, axis)
    normal = sweep_normal(dtype, ScaleParam.SCALE, make_axis("sigma", 1e-2, 1e2, 2),
                          make_axis("z", 1e-1, 1e1, 2, zero=True))
    point = check_point(dtype, ScaleParam.SCALE, parse_point("scale=1,x=1", ScaleParam.SCALE))
    want = accurate_digits(dtype)
    assert mvn.accurate_digits == normal.accurate_digits == point.accurate_digits == want
    for ln in mvn.lines:
        for d, c in zip(ln.digits, ln.classes, strict=True):
            if math.isnan(d) or abs(d - want) < 0.01:
                continue
            assert c.is_correct == (d > want), (ln.param.value, ln.name, d, c, want)


def _line_counts(lines: list[MvnLine]) -> list[set[CellClass]]:
    """The classes of each condition number over the given quantities."""
    return [set(cs) for cs in zip(*(ln.classes for ln in lines), strict=True)]


def _check_findings_against_lines(sweep_lines: tuple[MvnLine, ...],
                                  findings: tuple[Finding, ...]) -> None:
    """Every row's class and count is what the lines show: a quantity row counts that
    quantity's cells of its class; a parameterization row counts the condition numbers where
    some quantity has its class (accurate: every quantity is correct at all of them)."""
    for f in findings:
        param, _, name = f.quantity.partition(": ")
        mine = [ln for ln in sweep_lines if ln.param.value == param]
        assert mine, f.quantity
        if name:
            (ln,) = [ln for ln in mine if ln.name == name]
            assert f.cells == sum(c is f.cell_class for c in ln.classes), f
        elif f.cell_class is CellClass.ACCURATE:
            assert f.cells == f.total and all(c.is_correct for ln in mine for c in ln.classes), f
        else:
            assert f.cells == sum(f.cell_class in cs for cs in _line_counts(mine)), f


@pytest.mark.parametrize("dim", [2, 4, 16])
def test_mvn_rows_never_contradict_each_other(dim: int) -> None:
    sweep = sweep_mvn(DType.FLOAT32, dim, COND)
    _check_findings_against_lines(sweep.lines, sweep.findings)


def test_most_robust_row_names_its_own_losses() -> None:
    """A made-up sweep where the best parameterization is still inaccurate at 2 of 3 condition
    numbers: its summary row says inaccurate at 2/3, not accurate at 3/3."""
    C = CellClass
    cond = (1.0, 1e4, 1e8)
    rows = {
        MvnParam.COVARIANCE_MATRIX: ((7.0, 2.0, math.nan), (C.ACCURATE, C.INACCURATE,
                                                             C.FACTORIZATION_FAILED)),
        MvnParam.SCALE_TRIL: ((7.0, 3.0, 1.0), (C.ACCURATE, C.INACCURATE, C.INACCURATE)),
        MvnParam.PRECISION_MATRIX: ((7.0, math.nan, math.nan),
                                    (C.ACCURATE, C.FACTORIZATION_FAILED,
                                     C.FACTORIZATION_FAILED)),
    }
    lines = tuple(MvnLine(p, "log_prob", d, cls, (1.0,) * 3) for p, (d, cls) in rows.items())
    indefinite = tuple((p, (False,) * 3) for p in MvnParam)
    findings = mvn_findings(DType.FLOAT32, cond, lines, indefinite)
    last = findings[-1]
    assert "most robust" in last.text and last.quantity == "scale_tril"
    assert (last.cell_class, last.cells, last.total) == (C.INACCURATE, 2, 3)
    assert "inaccurate at 2 of 3" in last.text
    _check_findings_against_lines(lines, findings)
