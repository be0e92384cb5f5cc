"""`MultivariateNormal` over the covariance condition number, for the `covariance_matrix`,
`scale_tril` and `precision_matrix` parameterizations, in a low dtype against float64.

The vectors (loc, x) are rounded to the low dtype as in the Normal map, but the matrix is not:
each parameterization rounds a *different* matrix, and what that rounding does is exactly what
the comparison is for. The reference is the closed form computed from the eigen decomposition
the matrices were built from, so it needs no float64 factorization either.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gaussdiag.numbers import sentence as fmt
from gaussdiag.precision.cells import (
    CELL_CLASSES,
    Axis,
    CellClass,
    InputError,
    ProgressCallback,
    check_low_dtype,
    classify,
)
from gaussdiag.precision.findings import CLASS_PHRASES, Finding
from gaussdiag.tolerance import LARGE_MAGNITUDE, accurate_digits, cell_tol, precision_digits
from gaussdiag.vocab import DType, Vocab

if TYPE_CHECKING:
    import torch

MAX_DIM = 64
"""Largest MVN dimension swept: the sweep is about conditioning, and a 64 x 64 batch of 17
condition numbers already takes a noticeable moment in float64."""


class MvnParam(Vocab):
    """The `MultivariateNormal` constructor argument that carries the matrix."""

    COVARIANCE_MATRIX = "covariance_matrix"
    SCALE_TRIL = "scale_tril"
    PRECISION_MATRIX = "precision_matrix"


@dataclass(frozen=True)
class MvnLine:
    """One quantity of one parameterization over the condition-number axis."""

    param: MvnParam
    name: str
    digits: tuple[float, ...]
    classes: tuple[CellClass, ...]
    reference_norm: tuple[float, ...]


@dataclass(frozen=True)
class MvnSweep:
    """Digits of MultivariateNormal quantities per parameterization and condition number."""

    dtype: DType
    dim: int
    condition: tuple[float, ...]
    lines: tuple[MvnLine, ...]
    # Per parameterization: whether the low-dtype matrix that torch factorizes is itself
    # indefinite once rounded (float64 eigenvalues), at each condition number.
    rounded_indefinite: tuple[tuple[MvnParam, tuple[bool, ...]], ...]
    findings: tuple[Finding, ...]
    precision_digits: float
    accurate_digits: float
    large: float


MVN_SEED = 20240607
"""Seed of the orthogonal basis and the standard-normal draw: the matrices are the same on
every run and every machine (the generator is torch's CPU Philox-free Mersenne Twister)."""


@dataclass(frozen=True)
class _MvnCase:
    q: torch.Tensor      # (N, N) orthogonal basis
    eigs: torch.Tensor   # (C, N) eigenvalues, from 1 down to 1/cond
    u: torch.Tensor      # (N,) standard-normal draw: x - loc = Q sqrt(eigs) u
    cov: torch.Tensor    # (C, N, N)
    prec: torch.Tensor
    tril: torch.Tensor
    tril_q: torch.Tensor  # (C, N, N) with tril^-1 = tril_q^T diag(eigs^-1/2) Q^T


def mvn_matrices(dim: int, condition: Sequence[float]) -> _MvnCase:
    """SPD matrices Q diag(eigs) Q^T in float64 with the given condition numbers, their
    inverses and Cholesky factors, all from the same eigen decomposition."""
    import torch

    g = torch.Generator().manual_seed(MVN_SEED)
    q, _ = torch.linalg.qr(torch.randn(dim, dim, dtype=torch.float64, generator=g))
    u = torch.randn(dim, dtype=torch.float64, generator=g)
    frac = torch.linspace(0.0, 1.0, dim, dtype=torch.float64) if dim > 1 else torch.zeros(1,
                                                                        dtype=torch.float64)
    logc = torch.log10(torch.tensor(condition, dtype=torch.float64))
    eigs = 10.0 ** (-logc.unsqueeze(-1) * frac)
    cov = q @ torch.diag_embed(eigs) @ q.T
    prec = q @ torch.diag_embed(1 / eigs) @ q.T
    # Cholesky factor without a factorization that could fail: QR of diag(sqrt eigs) Q^T.
    qq, r = torch.linalg.qr(torch.diag_embed(eigs.sqrt()) @ q.T)
    sign = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
    tril = (r * sign.unsqueeze(-1)).mT
    tril_q = qq * sign.unsqueeze(-2)
    return _MvnCase(q, eigs, u, cov, prec, tril, tril_q)


def _mvn_reference(case: _MvnCase, r: torch.Tensor) -> dict[str, torch.Tensor]:
    """Closed forms in float64 from the eigen decomposition, at residual r = x - loc."""
    import torch

    q, eigs = case.q, case.eigs
    y = r @ q                                   # (C, N): Q^T r
    maha = (y**2 / eigs).sum(-1)
    n = eigs.shape[-1]
    lp = -0.5 * maha - 0.5 * torch.log(eigs).sum(-1) - 0.5 * n * math.log(2 * math.pi)
    w = (y / eigs) @ q.T                        # Sigma^-1 r
    v = ((y / eigs.sqrt()).unsqueeze(-2) @ case.tril_q).squeeze(-2)  # tril^-1 r
    ww = w.unsqueeze(-1) * w.unsqueeze(-2)
    diag_l = torch.diagonal(case.tril, dim1=-2, dim2=-1)
    return {
        "log_prob": lp,
        "grad[loc]": w,
        "grad[covariance_matrix]": 0.5 * (ww - case.prec),
        "grad[precision_matrix]": 0.5 * (case.cov - r.unsqueeze(-1) * r.unsqueeze(-2)),
        "grad[scale_tril]": torch.tril(w.unsqueeze(-1) * v.unsqueeze(-2))
        - torch.diag_embed(1 / diag_l),
    }


def _factorized(param: MvnParam, m: torch.Tensor) -> torch.Tensor:
    """The matrix torch factorizes for this parameterization (None for scale_tril)."""
    # MultivariateNormal factorizes covariance_matrix directly and precision_matrix flipped
    # (torch.distributions.multivariate_normal._precision_to_scale_tril).
    return m.flip(-2, -1) if param is MvnParam.PRECISION_MATRIX else m


def sweep_mvn(dtype: DType, dim: int, condition: Axis, *,
              progress: ProgressCallback | None = None) -> MvnSweep:
    """Digits of log_prob, grad[loc] and grad[matrix] for each parameterization over the
    condition number; factorization failures detected with `cholesky_ex` first, then the
    rest of the batch evaluated by `MultivariateNormal` itself."""
    import numpy as np
    import torch

    from gaussdiag.engine.device import torch_dtype

    check_low_dtype(dtype)
    if not 1 <= dim <= MAX_DIM:
        raise InputError(f"{{0}} must be between 1 and {MAX_DIM}; found {dim}", "dim")
    conds = condition.values()
    case = mvn_matrices(dim, conds)
    tdt = torch_dtype(dtype)
    n_c = len(conds)
    r64 = (case.u * case.eigs.sqrt()) @ case.q.T            # (C, N): Q sqrt(eigs) u
    loc_low = torch.zeros(n_c, dim, dtype=tdt)
    x_low = r64.to(tdt)
    ref = _mvn_reference(case, x_low.to(torch.float64))     # reference at the rounded x
    tol = cell_tol(dtype)
    mats = {MvnParam.COVARIANCE_MATRIX: case.cov, MvnParam.SCALE_TRIL: case.tril,
            MvnParam.PRECISION_MATRIX: case.prec}
    lines: list[MvnLine] = []
    indefinite: list[tuple[MvnParam, tuple[bool, ...]]] = []
    for k, param in enumerate(MvnParam):
        m_low = mats[param].to(tdt)
        if param is MvnParam.SCALE_TRIL:
            failed = torch.diagonal(m_low, dim1=-2, dim2=-1).le(0).any(-1)
            indef = failed.clone()
        else:
            fact = _factorized(param, m_low)
            failed = torch.linalg.cholesky_ex(fact.float()).info.ne(0) if tdt in (
                torch.float16, torch.bfloat16) else torch.linalg.cholesky_ex(fact).info.ne(0)
            # eigenvalues that never raise: an unknown (nan) row reads as not indefinite, and
            # LAPACK's failure to converge on entries near the float maximum is no crash
            from gaussdiag.engine.conditioning import eigenvalues  # imports torch: only here

            eigs = eigenvalues(fact)
            indef = (eigs[..., 0].le(0) if eigs is not None
                     else torch.zeros(fact.shape[:-2], dtype=torch.bool))
        eye = torch.eye(dim, dtype=tdt).expand_as(m_low)
        safe = torch.where(failed.view(-1, 1, 1), eye, m_low)
        leaf = safe.clone().requires_grad_(True)
        loc = loc_low.clone().requires_grad_(True)
        kwargs = {param.value: _upcast_half(leaf)}
        dist = torch.distributions.MultivariateNormal(_upcast_half(loc), validate_args=False,
                                                      **kwargs)
        lp = dist.log_prob(_upcast_half(x_low))  # type: ignore[no-untyped-call]
        g_loc, g_m = torch.autograd.grad(lp.sum(), [loc, leaf])
        lows = {"log_prob": lp.detach(), "grad[loc]": g_loc,
                f"grad[{param.value}]": g_m}
        failed_np = failed.numpy()
        for name, low in lows.items():
            rf = ref[name]
            lo64 = low.to(torch.float64)
            if rf.dim() == 1:
                err, size = (lo64 - rf).abs(), rf.abs()
                finite = torch.isfinite(lo64)
            else:
                dims = tuple(range(1, rf.dim()))
                finite = torch.isfinite(lo64).flatten(1).all(-1)
                err = torch.linalg.vector_norm(lo64 - rf, dim=dims)
                size = torch.linalg.vector_norm(rf, dim=dims)
            c = classify(err.numpy(), size.numpy(), size.numpy(), finite.numpy(),
                         np.zeros(n_c, dtype=bool), failed_np, dtype, tol)
            lines.append(MvnLine(
                param=param, name=name,
                digits=tuple(float(v) for v in c.digits.tolist()),
                classes=tuple(CELL_CLASSES[i] for i in c.codes.tolist()),
                reference_norm=tuple(float(v) for v in size.tolist()),
            ))
        indefinite.append((param, tuple(bool(v) for v in indef.tolist())))
        if progress is not None:
            progress(k + 1, len(MvnParam))
    result_lines = tuple(lines)
    return MvnSweep(
        dtype=dtype, dim=dim, condition=conds, lines=result_lines,
        rounded_indefinite=tuple(indefinite),
        findings=mvn_findings(dtype, conds, result_lines, tuple(indefinite)),
        precision_digits=precision_digits(dtype),
        accurate_digits=accurate_digits(dtype), large=LARGE_MAGNITUDE,
    )


def _digits_per_decade(condition: Sequence[float], digits: Sequence[float],
                       cap: float) -> float | None:
    """Least-squares slope of digits lost against log10(condition), using only cells that
    are neither capped nor floored (those carry no slope); None with fewer than 3."""
    pts = [(math.log10(c), v) for c, v in zip(condition, digits, strict=True)
           if not math.isnan(v) and 0.3 < v < cap - 0.3]
    if len(pts) < 3:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return None
    return -sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx


def _upcast_half(t: torch.Tensor) -> torch.Tensor:
    """CPU has no half-precision Cholesky or triangular solve: torch users on CPU must store
    half matrices and compute in float32, so that is what is measured (the input rounding
    is the half-precision part)."""
    import torch

    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def mvn_findings(dtype: DType, condition: Sequence[float], lines: Sequence[MvnLine],
                 indefinite: Sequence[tuple[MvnParam, tuple[bool, ...]]]
                 ) -> tuple[Finding, ...]:
    """Per parameterization: where the factorization fails, where each quantity loses digits,
    and which parameterization holds up best."""
    d = dtype.value
    n = len(condition)
    out: list[Finding] = []
    indef = dict(indefinite)
    score: dict[MvnParam, float] = {}
    for param in MvnParam:
        mine = [ln for ln in lines if ln.param is param]
        failed = [i for i, c in enumerate(mine[0].classes) if c is CellClass.FACTORIZATION_FAILED]
        if failed:
            rounded = sum(indef[param][i] for i in failed)
            matrix = ("covariance_matrix" if param is MvnParam.COVARIANCE_MATRIX
                      else "precision_matrix (torch factorizes it flipped)")
            why = (f"; at {rounded} of them the {d}-rounded matrix is itself indefinite, at "
                   f"{len(failed) - rounded} it is positive definite and the {d} Cholesky's "
                   "own round-off breaks it") if 0 < rounded < len(failed) else (
                f"; the {d}-rounded matrix is itself indefinite there" if rounded else
                f"; the {d}-rounded matrix is still positive definite: the {d} Cholesky's "
                "own round-off breaks it")
            out.append(Finding(
                f"{param.value}", CellClass.FACTORIZATION_FAILED, len(failed), n,
                f"{d} Cholesky of {matrix} fails at {len(failed)} of {n} condition numbers, "
                f"first at cond = {fmt(condition[failed[0]])}" + why,
            ))
        bad_total = len(failed)
        for ln in mine:
            for cls in (CellClass.OVERFLOW, CellClass.INACCURATE):
                idx = [i for i, c in enumerate(ln.classes) if c is cls]
                if not idx:
                    continue
                bad_total += len(idx)
                out.append(Finding(
                    f"{param.value}: {ln.name}", cls, len(idx), n,
                    f"{param.value}: {d} {ln.name} {CLASS_PHRASES[cls]} at {len(idx)} of {n} "
                    f"condition numbers, first at cond = {fmt(condition[idx[0]])}"
                    + (f" (worst {min(ln.digits[i] for i in idx):.1f} digits)"
                       if cls is CellClass.INACCURATE else ""),
                ))
        flat = [0.0 if math.isnan(v) else v for ln in mine for v in ln.digits]
        score[param] = sum(flat) / len(flat)
        slope = _digits_per_decade(condition, mine[0].digits, precision_digits(dtype))
        if slope is not None:
            lost = sum(c is CellClass.INACCURATE for c in mine[0].classes)
            out.append(Finding(
                f"{param.value}: log_prob",
                CellClass.INACCURATE if lost else CellClass.ACCURATE,
                lost if lost else sum(c is CellClass.ACCURATE for c in mine[0].classes), n,
                f"{param.value}: {d} log_prob loses about {slope:.2f} digits per decade of "
                "condition number where it evaluates",
            ))
        if bad_total == 0:
            worst = min(v for ln in mine for v in ln.digits)
            out.append(Finding(
                f"{param.value}", CellClass.ACCURATE, n, n,
                f"{param.value}: every quantity evaluates and is accurate at every condition "
                f"number up to {fmt(condition[-1])} (worst {worst:.1f} digits)",
            ))
    best = max(MvnParam, key=lambda p: score[p])
    fails = {p: any(c is CellClass.FACTORIZATION_FAILED for ln in lines if ln.param is p
                    for c in ln.classes) for p in MvnParam}
    text = (f"most robust in {d}: {best.value} (mean {score[best]:.1f} digits over all "
            "quantities and condition numbers, counting a failed factorization as 0)")
    if best is MvnParam.SCALE_TRIL and not fails[best]:
        text += (": it is never factorized in the low dtype, so no round-off can make a "
                 "Cholesky fail, and its condition number is the square root of the "
                 "covariance's, so rounding it perturbs the distribution less")
    summary, cells = _worst_class([ln for ln in lines if ln.param is best])
    if summary is not CellClass.ACCURATE:
        text += (f"; even so it {CLASS_PHRASES[summary]} at {cells} of {n} "
                 "condition numbers")
    out.append(Finding(best.value, summary, cells, n, text))
    return tuple(out)


def _worst_class(lines: Sequence[MvnLine]) -> tuple[CellClass, int]:
    """The first class in precedence order that some quantity of `lines` has, and at how many
    condition numbers some quantity has it: the summary row of a parameterization claims no
    more than its own rows show."""
    per_cond = [min(CELL_CLASSES.index(c) for c in cs)
                for cs in zip(*(ln.classes for ln in lines), strict=True)]
    code = min(per_cond)
    return CELL_CLASSES[code], per_cond.count(code)
