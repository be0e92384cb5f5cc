"""Each Python side runs in the run's dtype: torch's default dtype during the side, restored
after (in every thread), thread 001's literal code, and the note naming a side that still hands
a less precise tensor into the run."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.distributions import (
    Independent,
    LogNormal,
    LowRankMultivariateNormal,
    MultivariateNormal,
    Normal,
)

import gaussdiag
from gaussdiag.cli import main
from gaussdiag.frontends.python.run_dtype import default_dtype
from gaussdiag.testing import assert_equivalent
from gaussdiag.vocab import DType

# ---- thread 001 as posted ----------------------------------------------------------------------


def by_hand(x_mean: torch.Tensor, x_var: torch.Tensor) -> torch.Tensor:
    return x_var.sqrt() * torch.randn(x_mean.size()) + x_mean  # the thread's own line


def rsample(x_mean: torch.Tensor, x_var: torch.Tensor) -> Normal:
    return Normal(x_mean, x_var.sqrt())


def _thread_params() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {"x_mean": torch.randn(1, 16, 3, 3, generator=gen),
            "x_var": torch.rand(1, 16, 3, 3, generator=gen) * 3.9 + 0.1}


def test_the_premise_randn_of_a_size_in_float64_is_normals_noise() -> None:
    # hand-written float64 reference: with float64 as torch's default, the thread's line draws
    # exactly Normal.rsample's noise under one seed; with float32 as the default it does not
    params = {k: v.double() for k, v in _thread_params().items()}
    torch.manual_seed(0)
    want = Normal(params["x_mean"], params["x_var"].sqrt()).rsample()
    torch.manual_seed(0)
    fixed = params["x_var"].sqrt() * torch.randn(params["x_mean"].size()) + params["x_mean"]
    assert float((fixed - want).abs().max()) > 0.1  # float32 noise: another stream
    with default_dtype(torch.float64):
        torch.manual_seed(0)
        followed = by_hand(**params)
    assert followed.dtype == torch.float64
    assert torch.equal(followed, want)


def test_thread_001_literal_code_agrees_through_compare() -> None:
    report = gaussdiag.compare(by_hand, rsample, params=_thread_params(), mode="rsample")
    assert report.verdict == "agree", report
    draws = next(q for q in report.quantities if q.name == "draws")
    assert draws.diff[DType.FLOAT64] == 0.0 and draws.diff[DType.FLOAT32] == 0.0


def test_thread_001_literal_code_agrees_through_assert_equivalent() -> None:
    report = assert_equivalent(by_hand, rsample, params=_thread_params(), mode="rsample")
    assert report.verdict == "agree"


THREAD_001_PAIRS = """
import torch
from torch.distributions import Normal
import gaussdiag

def by_hand(x_mean, x_var):
    return x_var.sqrt() * torch.randn(x_mean.size()) + x_mean

def rsample(x_mean, x_var):
    return Normal(x_mean, x_var.sqrt())

gen = torch.Generator().manual_seed(0)
thread = gaussdiag.Pair(by_hand, rsample, mode="rsample",
                        params={"x_mean": torch.randn(1, 16, 3, 3, generator=gen),
                                "x_var": torch.rand(1, 16, 3, 3, generator=gen) + 0.1})
"""


def test_thread_001_literal_code_agrees_through_the_cli(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    pairs = tmp_path / "pairs.py"
    pairs.write_text(THREAD_001_PAIRS)
    out = tmp_path / "report.json"
    assert main(["compare", str(pairs), "--json", str(out)]) == 0, capsys.readouterr()
    (spec,) = json.loads(out.read_text())["specs"]
    assert spec["verdict"] == "agree"


# ---- the default during a side, and after ------------------------------------------------------


@pytest.mark.parametrize("low", ["float32", "float16", "bfloat16"])
def test_factories_inside_a_side_follow_each_run(low: str) -> None:
    seen: list[tuple[torch.dtype, ...]] = []

    def side(m: torch.Tensor, s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        made = (torch.get_default_dtype(), torch.tensor([0.5]).dtype, torch.zeros(2).dtype,
                torch.randn(2).dtype)
        seen.append(made)
        return Normal(m, s).log_prob(x) + torch.tensor(0.5) - torch.zeros(3)

    def plain(m: torch.Tensor, s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return Normal(m, s).log_prob(x) + 0.5

    before = torch.get_default_dtype()
    report = gaussdiag.compare(side, plain, params={"m": torch.zeros(3), "s": torch.ones(3)},
                               inputs={"x": torch.tensor([0.25, -1.0, 2.0])}, dtypes=[low])
    assert torch.get_default_dtype() == before
    assert report.verdict in ("agree", "round-off"), report
    runs = {getattr(torch, low), torch.float64}
    assert {made[0] for made in seen} == runs
    assert all(len(set(made)) == 1 for made in seen), seen  # each factory made the run's dtype


def test_the_default_is_restored_when_a_side_raises() -> None:
    def broken(m: torch.Tensor, s: torch.Tensor) -> Normal:
        assert torch.get_default_dtype() in (torch.float32, torch.float64)
        raise RuntimeError("boom")

    torch.set_default_dtype(torch.float32)
    with pytest.raises(gaussdiag.GaussdiagError, match="boom"):
        gaussdiag.compare(broken, rsample_like, params={"m": torch.zeros(2), "s": torch.ones(2)},
                          inputs={"x": torch.zeros(2)})
    assert torch.get_default_dtype() == torch.float32


def rsample_like(m: torch.Tensor, s: torch.Tensor) -> Normal:
    return Normal(m, s)


def test_blocks_of_another_dtype_wait_for_each_other_across_threads() -> None:
    inside64, release64, entered32 = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, torch.dtype] = {}

    def wide() -> None:
        with default_dtype(torch.float64):
            inside64.set()
            release64.wait(10)
            seen["wide, while the other waits"] = torch.get_default_dtype()

    def narrow() -> None:
        inside64.wait(10)
        with default_dtype(torch.float32):
            entered32.set()
            seen["narrow"] = torch.get_default_dtype()

    first, second = threading.Thread(target=wide), threading.Thread(target=narrow)
    first.start()
    second.start()
    assert inside64.wait(10)
    assert not entered32.wait(0.3)  # float32 must wait while a float64 block is open
    release64.set()
    first.join(10)
    second.join(10)
    assert seen == {"wide, while the other waits": torch.float64, "narrow": torch.float32}
    assert torch.get_default_dtype() == torch.float32


def test_blocks_of_one_dtype_share_it_and_nesting_restores_the_outer() -> None:
    with default_dtype(torch.float64):
        other: list[torch.dtype] = []
        t = threading.Thread(target=lambda: _enter(torch.float64, other))
        t.start()
        t.join(10)  # the same dtype does not wait
        assert other == [torch.float64]
        with default_dtype(torch.float16):  # a side that itself runs a comparison
            assert torch.get_default_dtype() == torch.float16
        assert torch.get_default_dtype() == torch.float64
    assert torch.get_default_dtype() == torch.float32


def _enter(dtype: torch.dtype, out: list[torch.dtype]) -> None:
    with default_dtype(dtype):
        out.append(torch.get_default_dtype())


# ---- what still arrives in float32 is named ----------------------------------------------------

FIXED = torch.tensor(0.1, dtype=torch.float32)


def scaled_fixed(m: torch.Tensor, s: torch.Tensor) -> Normal:
    return Normal(m, s * FIXED)  # a float32 constant: promoted, with float32's rounding


def scaled(m: torch.Tensor, s: torch.Tensor) -> Normal:
    return Normal(m, s * 0.1)


class Buffered(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("c", torch.tensor(0.1))  # float32, not copied per dtype

    def forward(self, m: torch.Tensor, s: torch.Tensor) -> Normal:
        return Normal(m, s * self.c)


PARAMS = {"m": torch.zeros(3), "s": torch.tensor([0.5, 1.0, 2.0])}


def _leak_notes(report: gaussdiag.Report) -> list[str]:
    return [n for n in report.notes if "hands" in n]


@pytest.mark.parametrize("side", [scaled_fixed, Buffered()], ids=["constant", "buffer"])
def test_a_float32_tensor_in_the_float64_run_is_named(side: object) -> None:
    report = gaussdiag.compare(side, scaled, params=PARAMS, inputs={"x": torch.ones(4, 3)})
    (note,) = _leak_notes(report)
    assert note.startswith("side a hands float32 into the float64 run: `mul`"), note
    code = getattr(side, "forward", side).__code__
    assert f"test_run_dtype.py:{code.co_firstlineno + 1}" in note, note  # the `return` line
    # the float64 difference is float32's rounding of 0.1, computed by hand
    x, m, s = torch.ones(4, 3, dtype=torch.float64), PARAMS["m"].double(), PARAMS["s"].double()
    a = Normal(m, s * float(FIXED)).log_prob(x)
    b = Normal(m, s * 0.1).log_prob(x)
    want = float((a - b).abs().max() / torch.maximum(a.abs().max(), b.abs().max()))
    got = next(q for q in report.quantities if q.name == "log_prob").diff[DType.FLOAT64]
    assert got == pytest.approx(want, rel=1e-6)


def test_the_same_side_on_both_sides_is_named_once_per_side() -> None:
    report = gaussdiag.compare(scaled_fixed, scaled_fixed, params=PARAMS,
                               inputs={"x": torch.ones(4, 3)})
    assert report.verdict == "agree"
    assert [n[:7] for n in _leak_notes(report)] == ["side a ", "side b "]


def _lowrank(m: torch.Tensor, L: torch.Tensor) -> LowRankMultivariateNormal:
    return LowRankMultivariateNormal(m, L[:, :2], torch.ones(3))


@pytest.mark.parametrize("side", [
    lambda m, L: MultivariateNormal(m, scale_tril=L),
    lambda m, L: MultivariateNormal(m, covariance_matrix=L @ L.T),
    _lowrank,
    lambda m, L: Independent(LogNormal(m, L.diagonal()), 1),
], ids=["scale_tril", "covariance", "lowrank", "lognormal"])
@pytest.mark.parametrize("mode", ["log_prob", "rsample"])
def test_no_note_when_nothing_arrives_in_float32(side: object, mode: str) -> None:
    params = {"m": torch.zeros(3), "L": torch.eye(3) + 0.1 * torch.ones(3, 3).tril(-1)}
    extra: dict[str, object] = ({"inputs": {"x": gaussdiag.sample("a", (5,))}}
                                if mode == "log_prob" else {"sample_shape": (5,)})
    report = gaussdiag.compare(side, side, params=params, mode=mode, **extra)
    assert report.verdict == "agree"
    assert _leak_notes(report) == []
