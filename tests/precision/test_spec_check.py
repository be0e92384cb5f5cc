"""`check_spec`: each side of a spec in float32 against its own float64."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from gaussdiag.precision import (
    TIE_DIGITS,
    Better,
    CellClass,
    SpecPrecision,
)
from gaussdiag.vocab import SideName

from .refs import (
    ILL,
    ROOT,
    spec_check,
)


def _digits_by_hand(low: torch.Tensor, ref: torch.Tensor) -> float:
    """-log10(max|low - ref| / max(max|low|, max|ref|)), capped at float32's 7.22 digits."""
    lo, rf = low.detach().double(), ref.detach().double()
    rel = float((lo - rf).abs().max()) / max(float(lo.abs().max()), float(rf.abs().max()))
    cap = -math.log10(2.0**-24)
    return cap if rel == 0 else min(cap, max(0.0, -math.log10(rel)))


def _ill_conditioned_by_hand() -> dict[str, dict[str, float]]:
    """The config's two log_probs written out in torch, float32 against float64: P and the
    input y (seed 4: y is the generator's first draw, N(0, 0.5^2) of shape 64 x 4)."""
    P64 = torch.tensor([[500000.5, 499999.5, 0.0, 0.0], [499999.5, 500000.5, 0.0, 0.0],
                        [0.0, 0.0, 2.0, 0.5], [0.0, 0.0, 0.5, 1.0]], dtype=torch.float64)
    y64 = torch.randn(64, 4, dtype=torch.float64,
                      generator=torch.Generator().manual_seed(4)) * 0.5
    out: dict[str, dict[str, float]] = {}
    for side in ("a", "b"):
        runs = {}
        for dt in (torch.float32, torch.float64):
            P = P64.to(dt).requires_grad_(True)
            loc = torch.zeros(4, dtype=dt, requires_grad=True)
            if side == "a":
                mvn = torch.distributions.MultivariateNormal(
                    loc, covariance_matrix=torch.linalg.inv(P))
            else:
                mvn = torch.distributions.MultivariateNormal(loc, precision_matrix=P)
            lp = mvn.log_prob(y64.to(dt))
            g_loc, g_p = torch.autograd.grad(lp.sum(), [loc, P])
            runs[dt] = {"log_prob": lp, "grad[loc]": g_loc, "grad[P]": g_p}
        out[side] = {name: _digits_by_hand(runs[torch.float32][name], runs[torch.float64][name])
                     for name in runs[torch.float32]}
    return out


# Bounds for the ill-conditioned config, from first-order error analysis rather than from one
# machine's digits (float32 results of a cond-1e6 problem differ between CPUs and BLAS paths):
# an explicit float32 inverse of P has relative error of order cond(P) x eps = 1e6 x 6e-8 = 0.06
# along P's small eigenvector, so side a keeps at most ~2 digits of log_prob and grad[loc]; we
# allow 3.5, still 2 digits under the 5.7 that counts as accurate. Side b never forms the inverse
# for log_prob (r^T P r from the Cholesky of P, whose backward error is dim x eps), so it keeps
# well over 4.5 (7.2 is float32's most), again 1 digit clear of a.
A_AT_MOST = 3.5
B_AT_LEAST = 4.5


def test_ill_conditioned_precision_side_keeps_more_float32_digits(
        ill32: SpecPrecision) -> None:
    """covariance_matrix=inverse(P) against precision_matrix=P at cond(P) = 1e6: the explicit
    inverse loses digits that the precision side keeps. The same bounds hold for the tool and
    for a hand-written float32-vs-float64 torch computation of the same two log_probs, and the
    two agree on which side is better in every quantity."""
    ref = _ill_conditioned_by_hand()
    got = {s.side.value: {q.name: q.digits for q in s.quantities} for s in ill32.sides}
    assert set(got["a"]) == set(ref["a"]) == {"log_prob", "grad[loc]", "grad[P]"}
    for digits in (got, ref):
        for name in ("log_prob", "grad[loc]"):
            assert digits["a"][name] <= A_AT_MOST < B_AT_LEAST <= digits["b"][name], (
                name, got, ref)
        # grad[P] needs P^-1 on both sides (b's is 0.5 (P^-1 - r r^T)); a's also carries the
        # backward of the explicit inverse, one more factor of cond: b keeps no fewer digits.
        assert digits["b"]["grad[P]"] >= digits["a"]["grad[P]"] - TIE_DIGITS, (got, ref)
    assert dict(ill32.better)["log_prob"] is Better.B
    assert dict(ill32.better)["grad[loc]"] is Better.B
    assert dict(ill32.better)["grad[P]"] in (Better.B, Better.TIE)
    assert ill32.recommendation.side is SideName.B
    a = ill32.side(SideName.A)
    assert all(q.cell_class is CellClass.INACCURATE for q in a.quantities)


def test_scale_tril_keeps_at_least_as_many_digits(tril32: SpecPrecision) -> None:
    a, b = tril32.sides
    assert "scale_tril" in a.label and "covariance_matrix" in b.label
    for (name, better), qa, qb in zip(tril32.better, a.quantities, b.quantities, strict=True):
        assert better in (Better.A, Better.TIE), (name, qa.digits, qb.digits)
        assert qa.digits >= qb.digits - TIE_DIGITS, (name, qa.digits, qb.digits)


def test_swapping_sides_swaps_the_answer(ill32: SpecPrecision, tmp_path: Path) -> None:
    text = ILL.read_text()
    swapped = tmp_path / "swapped.yaml"
    swapped.write_text(text.replace("\na:\n", "\nX:\n").replace("\nb:\n", "\na:\n")
                       .replace("\nX:\n", "\nb:\n"))
    r = spec_check(swapped)
    flip = {Better.A: Better.B, Better.B: Better.A, Better.TIE: Better.TIE,
            Better.NEITHER: Better.NEITHER}
    assert r.better == tuple((n, flip[v]) for n, v in ill32.better)
    for mine, theirs in zip(r.sides, reversed(ill32.sides), strict=True):
        assert [q.digits for q in mine.quantities] == [q.digits for q in theirs.quantities]


def test_rsample_draws_share_their_noise_across_dtypes() -> None:
    """Each dtype draws its own random stream; the check rounds the float64 noise instead, so
    a side's float32 draws keep float32's digits (unrelated noise would keep none)."""
    r = spec_check(ROOT / "configs" / "reparam_manual_vs_rsample.yaml")
    for side in r.sides:
        draws = side.quantities[0]
        assert draws.name == "draws"
        assert draws.digits > 6.0 and draws.cell_class is CellClass.ACCURATE, side


def test_broken_constraint_is_undefined_and_named() -> None:
    r = spec_check(ROOT / "configs" / "covariance_not_pd.yaml")
    a = r.side(SideName.A)
    assert a.failed_in == "float64" and a.cost is None
    assert "PositiveDefinite" in (a.failure or "") and a.fix
    assert {q.cell_class for q in a.quantities} == {CellClass.UNDEFINED}
    assert all(v is Better.B for _, v in r.better)
    assert r.recommendation.side is SideName.B
    assert "a breaks a constraint in float64" in r.recommendation.text


def test_costs_are_warm_medians_on_the_threads_reported(tril32: SpecPrecision) -> None:
    """Each side's cost is a median of warm calls (`gaussdiag.engine.cost`), on the thread count
    the result and its JSON give."""
    from gaussdiag.report.precision_json import spec_json

    assert tril32.threads >= 1
    for s in tril32.sides:
        assert s.cost is not None and s.cost.repeats >= 1, s
    js = spec_json(tril32)
    assert js["threads"] == tril32.threads
    assert all(js["sides"][k]["cost"]["repeats"] >= 1 for k in ("a", "b"))
