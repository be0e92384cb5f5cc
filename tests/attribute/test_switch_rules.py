"""SWITCH_RULES (gaussdiag/attribute/switch_rules.py) on real runs: compile backends that plant
a change of the math, a reordered sum or a cut graph; autocast on a network head and a planted
float16 overflow. Each verdict's numbers are checked against the same computation written
by hand. The precedence is checked on fabricated runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.distributions import Independent, Normal

import gaussdiag
import tests.engine.planted_backends as planted
from gaussdiag import tolerance as tl
from gaussdiag.api import Report
from gaussdiag.attribute.quantities import normwise
from gaussdiag.attribute.switch_rules import SWITCH_RULES, SwitchFacts, judge_switch
from gaussdiag.engine.evaluate import SideRun
from gaussdiag.engine.failures import ConstraintFailure
from gaussdiag.engine.switch import parse_switch
from gaussdiag.engine.switched import SwitchRuns
from gaussdiag.results import SwitchCheck
from gaussdiag.vocab import DType, SideName, Verdict

F32, F64 = DType.FLOAT32, DType.FLOAT64


def exp_side(mean: torch.Tensor, log_std: torch.Tensor) -> Independent:
    return Independent(Normal(mean, log_std.exp()), 1)


def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


MEAN = torch.zeros(5, dtype=torch.float64)
LOG_STD = torch.randn(5, dtype=torch.float64, generator=_gen()) * 0.3
X = torch.randn(16, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))


def only(report: Report) -> SwitchCheck:
    assert len(report.switches) == 1
    return report.switches[0]


def quantity(check: SwitchCheck, name: str) -> object:
    return next(q for q in check.quantities if q.name == name)


@pytest.fixture(scope="module")
def drift() -> Report:
    return gaussdiag.compare(exp_side, switch=f"compile:{planted.EXP_DRIFT}",
                             params={"mean": MEAN, "log_std": LOG_STD}, inputs={"x": X})


def test_a_backend_that_changes_the_math_is_a_mismatch(drift: Report) -> None:
    check = only(drift)
    assert check.verdict is Verdict.MISMATCH and not check.ok
    assert drift.verdict is Verdict.MISMATCH and not drift.ok and drift.single
    assert "compiled and eager differ in float64 too: a compiler problem" in check.explanation
    assert "torch.compiler.disable" in check.fix
    # the reference: the same log_prob in float64, its scale drifted by hand
    scale = LOG_STD.exp()
    eager = Normal(MEAN, scale).log_prob(X).sum(-1)
    drifted = Normal(MEAN, scale * (1 + planted.DRIFT)).log_prob(X).sum(-1)
    q = quantity(check, "log_prob")
    assert q.persists  # type: ignore[attr-defined]
    assert q.diff[F64] == pytest.approx(normwise(eager, drifted), rel=1e-9)  # type: ignore[attr-defined]


def test_the_reproducer_runs_alone_and_shows_the_gap(drift: Report, tmp_path: Path) -> None:
    path = only(drift).reproducer
    assert path is not None and path in only(drift).explanation
    text = Path(path).read_text(encoding="utf-8")
    assert "gaussdiag" not in re.sub(r'""".*?"""', "", text, flags=re.S).replace(
        "gaussdiag_planted", "")  # torch alone (and the module registering the backend)
    r = subprocess.run([sys.executable, path], capture_output=True, text=True, cwd=tmp_path,
                       timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "the gap reproduces" in r.stdout
    # the graph is the whole side, constructor and log_prob: its output is the log_prob
    # with the scale drifted, which the same computation written by hand gives
    scale = LOG_STD.double().exp()
    mean, x = MEAN.double(), X.double()
    eager = Normal(mean, scale).log_prob(x).sum(-1)
    drifted = Normal(mean, scale * (1 + planted.DRIFT)).log_prob(x).sum(-1)
    found = re.search(r"output 0: eager and compiled differ by ([0-9.e+-]+)", r.stdout)
    assert found is not None, r.stdout
    assert float(found.group(1)) == pytest.approx(normwise(eager, drifted), rel=1e-5)


def dot(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return (w * x).sum(-1)


def test_a_backend_that_only_reorders_a_sum_is_round_off() -> None:
    n = 256
    w = torch.ones(n, dtype=torch.float64)
    # terms of +-1e4 that cancel to a sum of about 16: any other order rounds visibly in
    # float32 (partial sums near 1e6 keep 1/8 of a unit), invisibly in float64
    x = (torch.randn(64, n, dtype=torch.float64, generator=_gen())
         + 1e4 * torch.tensor([1.0, -1.0], dtype=torch.float64).repeat(n // 2))
    check = only(gaussdiag.compare(dot, switch=f"compile:{planted.REORDERED_SUM}",
                                   params={"w": w}, inputs={"x": x}))
    assert check.verdict is Verdict.ROUND_OFF and check.ok, check.explanation
    q = quantity(check, "log_prob")
    for dt, tdt in ((F32, torch.float32), (F64, torch.float64)):
        terms = w.to(tdt) * x.to(tdt)
        by_hand = normwise(terms.sum(-1), planted.split_sum(terms, -1))
        assert q.diff[dt] == pytest.approx(by_hand, rel=1e-9, abs=1e-300)  # type: ignore[attr-defined]
    assert q.diff[F32] > tl.tol(F32)  # type: ignore[attr-defined]  # a visible float32 gap
    assert "changes only rounding" in check.explanation


def test_a_backend_that_cuts_the_graph_is_no_gradient() -> None:
    check = only(gaussdiag.compare(exp_side, switch=f"compile:{planted.DETACHED}",
                                   params={"mean": MEAN, "log_std": LOG_STD}, inputs={"x": X}))
    assert check.verdict is Verdict.NO_GRADIENT, check.explanation
    assert "`mean` gets no gradient" in check.explanation


class Head(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 4))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(h)
        return out


def head(net: Head, h: torch.Tensor, y: torch.Tensor) -> Independent:
    out = net(h)
    return Independent(Normal(out[..., :2], nn.functional.softplus(out[..., 2:]) + 0.1), 1)


def test_autocast_bfloat16_on_a_network_head_is_round_off_within_bfloat16s_eps() -> None:
    net = Head()
    h = torch.randn(64, 8, generator=_gen())
    y = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    check = only(gaussdiag.compare(head, switch="autocast:bfloat16", params={"net": net},
                                   inputs={"h": h, "y": y}, at="y"))
    assert check.verdict is Verdict.ROUND_OFF and check.ok, check.explanation
    # by hand: the head under autocast in float32, and in float64, at the same point
    with torch.no_grad():
        ref = head(net.double(), h.double(), y.double()).log_prob(y.double())
        net32 = net.float()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = head(net32, h, y).log_prob(y)
    q = quantity(check, "log_prob")
    assert q.error == pytest.approx(normwise(low, ref), rel=1e-6)  # type: ignore[attr-defined]
    eps = tl.EPS[DType.BFLOAT16]
    for q in check.quantities:  # bfloat16 rounding, seen: within 64 of its eps, above float32's
        assert q.error is not None and q.explained == pytest.approx(64 * eps)  # kappa 1
        assert q.error <= 64 * eps
    assert max(q.error or 0.0 for q in check.quantities) > tl.tol(F32)


def overflow(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    loc = x @ w  # 2.4e5 at the point: beyond float16's 65504
    return -0.5 * ((y - loc) ** 2).sum(-1)


def test_a_float16_overflow_under_autocast_is_non_finite_naming_the_quantity() -> None:
    check = only(gaussdiag.compare(overflow, switch="autocast:float16",
                                   params={"w": torch.ones(8, 2)},
                                   inputs={"x": torch.full((64, 8), 3e4), "y": torch.zeros(64, 2)},
                                   at="y"))
    assert check.verdict is Verdict.NON_FINITE, check.explanation
    assert "log_prob has 64 inf of 64 element(s) in float32 (finite without the switch)" in \
        check.explanation
    assert "torch.autocast(device_type, enabled=False)" in check.fix


# ---- the precedence, on fabricated runs --------------------------------------------------

def _run(dtype: DType, value: list[float], grad: list[float] | None) -> SideRun:
    grads = {"p": None if grad is None else torch.tensor(grad, dtype=torch.float64)}
    return SideRun(SideName.A, dtype, torch.tensor(value, dtype=torch.float64), grads, 0.0,
                   None, "")


def _facts(switched: dict[DType, SideRun | ConstraintFailure]) -> SwitchFacts:
    without = {dt: _run(dt, [1.0, 2.0], [1.0]) for dt in (F32, F64)}
    runs = SwitchRuns(parse_switch("compile"), SideName.A, without, switched, "cpu")  # type: ignore[arg-type]
    return SwitchFacts(runs, 1.0, ["p"])


@pytest.mark.parametrize(("switched", "verdict"), [
    ({F32: ConstraintFailure(SideName.A, "not positive definite"),
      F64: _run(F64, [float("nan"), 2.0], None)}, Verdict.INVALID_PARAMETERS),
    ({F32: _run(F32, [float("nan"), 2.0], None), F64: _run(F64, [1.0, 2.0], None)},
     Verdict.NON_FINITE),
    ({F32: _run(F32, [1.5, 2.0], None), F64: _run(F64, [1.5, 2.0], None)}, Verdict.NO_GRADIENT),
    ({F32: _run(F32, [1.5, 2.0], [1.0]), F64: _run(F64, [1.5, 2.0], [1.0])}, Verdict.MISMATCH),
    ({F32: _run(F32, [1.0 + 1e-4, 2.0], [1.0]), F64: _run(F64, [1.0, 2.0], [1.0])},
     Verdict.ROUND_OFF),
    ({F32: _run(F32, [1.0, 2.0], [1.0]), F64: _run(F64, [1.0, 2.0], [1.0])}, Verdict.AGREE),
], ids=["invalid-over-non-finite", "non-finite-over-no-gradient", "no-gradient-over-mismatch",
        "mismatch", "round-off", "agree"])
def test_the_first_rule_that_finds_something_decides(
        switched: dict[DType, SideRun | ConstraintFailure], verdict: Verdict) -> None:
    assert judge_switch(_facts(switched))[0] is verdict


def _facts_without(without: dict[DType, SideRun], switched: dict[DType, SideRun]
                   ) -> SwitchFacts:
    runs = SwitchRuns(parse_switch("compile"), SideName.A, without, switched, "cpu")  # type: ignore[arg-type]
    return SwitchFacts(runs, 1.0, ["p"])


NAN, INF = float("nan"), float("inf")


def test_elements_non_finite_alike_with_and_without_the_switch_are_the_side_s_own() -> None:
    """A NaN (or the same inf) at the same element with and without the switch is not the
    switch's doing: the rest is compared, and the explanation says what was left out."""
    without = {dt: _run(dt, [NAN, 2.0, INF], [1.0]) for dt in (F32, F64)}
    same = {dt: _run(dt, [NAN, 2.0, INF], [1.0]) for dt in (F32, F64)}
    verdict, found = judge_switch(_facts_without(without, same))
    assert verdict is Verdict.AGREE, found.explanation
    assert "non-finite alike with and without the switch, of log_prob (2 of 3 in float32)" \
        in found.explanation
    # the finite element still counts: 2.0 against 2.5 persists in float64
    moved = {dt: _run(dt, [NAN, 2.5, INF], [1.0]) for dt in (F32, F64)}
    facts = _facts_without(without, moved)
    verdict, _ = judge_switch(facts)
    assert verdict is Verdict.MISMATCH
    [q] = [q for q in facts.quantities if q.name == "log_prob"]
    assert q.diff[F64] == pytest.approx(0.5 / 2.5)  # max|2 - 2.5| / max(2, 2.5), the rest 0


def test_a_non_finite_element_new_under_the_switch_is_non_finite() -> None:
    """Beside the side's own NaN, an inf where the side is finite without the switch."""
    without = {dt: _run(dt, [NAN, 2.0], [1.0]) for dt in (F32, F64)}
    switched = {F32: _run(F32, [NAN, INF], [1.0]), F64: _run(F64, [NAN, 2.0], [1.0])}
    verdict, found = judge_switch(_facts_without(without, switched))
    assert verdict is Verdict.NON_FINITE
    assert "log_prob has 1 inf of 2 element(s) in float32 (finite there without the switch)" \
        in found.explanation, found.explanation


def test_the_table_is_ordered_as_the_pair_verdicts_precedence() -> None:
    order = list(Verdict)
    found = [v for v, _ in SWITCH_RULES]
    assert found == sorted(found, key=order.index) and found[-1] is Verdict.AGREE


def test_autocast_breaking_an_ill_conditioned_kernel_matrix_is_invalid_parameters() -> None:
    """bfloat16 distances perturb the kernel by about 1e-2 an entry, far beyond its smallest
    eigenvalue (the noise, 2.5e-3): no longer positive definite under the switch only."""
    from tests.engine.test_switched import gp

    g = torch.Generator().manual_seed(0)
    t = torch.rand(256, 3, generator=g)
    y = torch.sin(6 * t[:, 0]) + 0.05 * torch.randn(256, generator=g)
    check = only(gaussdiag.compare(
        gp, switch="autocast:bfloat16",
        params={"log_lengthscale": torch.tensor(-0.5), "log_noise": torch.tensor(-6.0)},
        inputs={"t": t, "y": y}, at="y"))
    assert check.verdict is Verdict.INVALID_PARAMETERS, check.explanation
    assert "breaks a constraint in float32, and it does not without the switch" in \
        check.explanation
    assert "covariance_matrix" in check.explanation
