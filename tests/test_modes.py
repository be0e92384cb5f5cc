"""rsample and train modes against hand-written torch: the same noise, the same draws, the
same optimizer steps."""

from __future__ import annotations

import re

import pytest
import torch
from torch.distributions import MultivariateNormal, Normal

import gaussdiag
from gaussdiag.attribute import normwise
from gaussdiag.engine.evaluate import run_side, train_side
from gaussdiag.frontends.yaml.bind import BoundSpec
from gaussdiag.vocab import DType, SideName, Verdict
from tests.conftest import loaded, run

RSAMPLE = """
seed: 3
mode: rsample
sample_shape: [5]
params:
  mean: {shape: [4], init: normal}
  var:  {shape: [4], init: {uniform: [0.5, 2.0]}}
a: {expr: "sqrt(var) * randn_like(mean) + mean"}
b: {dist: Normal, args: {loc: mean, scale: sqrt(var)}, method: %s}
"""


def test_manual_reparameterization_matches_hand_written_draws_and_grads() -> None:
    p = BoundSpec(loaded(RSAMPLE % "rsample"))
    ra = run_side(p, SideName.A, DType.FLOAT64)
    mean = p.base["mean"].clone().requires_grad_()
    var = p.base["var"].clone().requires_grad_()
    torch.manual_seed(3)
    z = var.sqrt() * torch.randn(5, 4, dtype=torch.float64) + mean
    g_mean, g_var = torch.autograd.grad(z.sum(), [mean, var])
    assert torch.equal(ra.value, z.detach())
    assert ra.grads["mean"] is not None and torch.allclose(ra.grads["mean"], g_mean)
    assert ra.grads["var"] is not None and torch.allclose(ra.grads["var"], g_var)
    # closed forms: d(sum z)/d mean = sample count; d/d var = sum(eps) / (2 sqrt(var))
    assert torch.allclose(g_mean, torch.full((4,), 5.0, dtype=torch.float64))


def test_manual_vs_rsample_agree_and_sample_has_no_gradient() -> None:
    assert run(RSAMPLE % "rsample").verdict is Verdict.AGREE
    report = run(RSAMPLE % "sample")
    assert report.verdict is Verdict.NO_GRADIENT
    assert "sample()" in report.explanation and "rsample" in report.fix


def test_detach_inside_expression_side_is_no_gradient() -> None:
    text = RSAMPLE.replace('"sqrt(var) * randn_like(mean) + mean"',
                           '"sqrt(detach(var)) * randn_like(mean) + mean"') % "rsample"
    report = run(text)
    assert report.verdict is Verdict.NO_GRADIENT
    assert "`var`" in report.explanation and "side a" in report.explanation


def test_std_vs_variance_in_rsample_mode_is_parameterization() -> None:
    text = RSAMPLE.replace("scale: sqrt(var)", "scale: var") % "rsample"
    report = run(text)
    assert report.verdict is Verdict.PARAMETERIZATION
    assert report.cause is not None and report.cause.param == "var"


def test_full_vs_low_rank_is_different_draws() -> None:
    report = run("""
        seed: 1
        mode: rsample
        sample_shape: [6]
        params:
          loc: {shape: [5], init: normal}
          W: {shape: [5, 2], init: normal}
          d: {shape: [5], init: {uniform: [0.5, 1.5]}}
        a:
          dist: MultivariateNormal
          args: {loc: loc, covariance_matrix: "W @ transpose(W) + diag_embed(d)"}
        b: {dist: LowRankMultivariateNormal, args: {loc: loc, cov_factor: W, cov_diag: d}}
    """)
    assert report.verdict is Verdict.DIFFERENT_DRAWS


TRAIN = """
seed: 0
mode: train
train: {steps: 5, optimizer: %s, lr: 0.1}
params:
  mean: {shape: [3], init: zeros}
  std: {shape: [3], init: {uniform: [0.5, 2.0]}}
inputs:
  x: {shape: [16, 3], init: normal}
a: {dist: MultivariateNormal, args: {loc: mean, covariance_matrix: "diag_embed(std**2)"}}
b: {dist: Normal, args: {loc: mean, scale: std}, event_dims: 1}
"""


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_train_gap_matches_a_hand_written_two_optimizer_loop(optimizer: str) -> None:
    p = BoundSpec(loaded(TRAIN % optimizer))
    ra = train_side(p, SideName.A, DType.FLOAT32)
    rb = train_side(p, SideName.B, DType.FLOAT32)
    x = p.base["x"].float()

    def loop(log_prob: object) -> list[torch.Tensor]:
        mean = p.base["mean"].float().clone().requires_grad_()
        std = p.base["std"].float().clone().requires_grad_()
        cls = torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam
        opt = cls([mean, std], lr=0.1)
        out = []
        for _ in range(5):
            loss = -log_prob(mean, std).mean()  # type: ignore[operator]
            opt.zero_grad()
            loss.backward()
            opt.step()
            out.append(torch.cat([mean.detach(), std.detach()]).double())
        return out

    pa = loop(lambda m, s: MultivariateNormal(m, torch.diag_embed(s**2)).log_prob(x))
    pb = loop(lambda m, s: Normal(m, s).log_prob(x).sum(-1))
    for step in range(5):
        assert torch.equal(ra.params[step], pa[step]), step
        assert torch.equal(rb.params[step], pb[step]), step
        assert normwise(ra.params[step], rb.params[step]) == normwise(pa[step], pb[step])


def test_train_step_that_breaks_a_constraint_is_invalid_parameters_naming_the_step() -> None:
    text = (TRAIN % "sgd").replace("lr: 0.1", "lr: 5.0").replace(
        "x: {shape: [16, 3], init: normal}", "x: {shape: [16, 3], init: {full: 0.0}}")
    report = run(text)
    assert report.verdict is Verdict.INVALID_PARAMETERS, report.explanation
    assert "step" in report.explanation


@pytest.mark.parametrize(("dtype", "side", "step"), [
    (DType.FLOAT32, SideName.A, 3),   # nothing comparable yet: side b has not started
    (DType.FLOAT32, SideName.B, 3),   # float32 over the 2 steps b finished
    (DType.FLOAT64, SideName.A, 1),   # float32 whole, float64 side a had done nothing
    (DType.FLOAT64, SideName.B, 4),   # float32 whole, float64 over 3 steps
], ids=lambda v: getattr(v, "value", v))
def test_ctrl_c_during_training_keeps_finished_steps(
        monkeypatch: pytest.MonkeyPatch, dtype: DType, side: SideName, step: int) -> None:
    """Ctrl-C in the middle of a train run: every step both sides finished is kept, with the
    same gaps and losses as the uninterrupted run's first steps; no verdict is claimed, the
    report says where it stopped, and the CLI exits 130."""
    import gaussdiag.engine.evaluate as evaluate
    import gaussdiag.frontends.yaml.bind as ev  # the spec front end's BoundSpec
    from gaussdiag.cli import main

    text = (TRAIN % "adam").replace("steps: 5", "steps: 4")
    full = {t.dtype: t for t in run(text).trajectories}
    real_build, real_train = ev.BoundSpec.build, evaluate.train_side
    now: dict[str, object] = {}

    def train(problem: object, s: SideName, d: DType, **kw: object) -> object:
        now.update(side=s, dtype=d, n=0)
        return real_train(problem, s, d, **kw)  # type: ignore[arg-type]

    def build(self: BoundSpec, s: SideName, env: object, d: DType) -> object:
        if now.get("side") is side and now.get("dtype") is dtype:
            now["n"] = int(now["n"]) + 1  # type: ignore[call-overload]
            if now["n"] == step:
                raise KeyboardInterrupt
        return real_build(self, s, env, d)  # type: ignore[arg-type]

    monkeypatch.setattr(evaluate, "train_side", train)
    monkeypatch.setattr(ev.BoundSpec, "build", build)
    report = run(text)
    assert report.interrupted and report.verdict is None and not report.ok
    assert report.interrupted_at is not None
    assert (report.interrupted_at.dtype, report.interrupted_at.side) == (dtype, side)
    assert (report.interrupted_at.step, report.interrupted_at.steps) == (step, 4)
    # the text and the JSON give the same numbers: the step cut short, and the steps finished
    said = re.search(r"during step (\d+) of (\d+) \((\d+) finished\)", report.explanation)
    assert said is not None, report.explanation
    assert tuple(map(int, said.groups())) == (step, 4, step - 1)
    kept = {t.dtype: t for t in report.trajectories}
    order = [DType.FLOAT32, DType.FLOAT64]
    assert list(kept) == order[:order.index(dtype) + 1]
    for d, t in kept.items():
        stopped_here = d is dtype
        done_a = step - 1 if stopped_here and side is SideName.A else 4
        done_b = 0 if stopped_here and side is SideName.A else (
            step - 1 if stopped_here else 4)
        assert (len(t.loss_a), len(t.loss_b)) == (done_a, done_b)
        assert t.loss_a == full[d].loss_a[:done_a] and t.loss_b == full[d].loss_b[:done_b]
        assert t.gaps == full[d].gaps[:min(done_a, done_b)]
    js = gaussdiag.Report.of(report).to_dict()
    assert js["interrupted_at"] == {"dtype": dtype.value, "side": side.value, "step": step,
                                    "done": step - 1, "steps": 4}
    assert (js["interrupted_at"]["step"], js["interrupted_at"]["done"]) == (
        int(said.group(1)), int(said.group(3)))
    shown = str(gaussdiag.Report.of(report))
    assert "steps done a, b" in shown and f"{done_a}, {done_b}" in shown
    now.clear()
    import pathlib
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        spec = pathlib.Path(tmp) / "t.yaml"
        spec.write_text(text)
        now.clear()
        assert main(["compare", str(spec)]) == 130


def test_draws_without_the_sample_shape_are_a_located_error_on_that_side() -> None:
    """Noise drawn by hand with the params' shape, against rsample(sample_shape): the shapes
    differ, which is no verdict: the side missing the sample shape is named, with the fix."""
    from gaussdiag.errors import GaussdiagError

    mean, var = torch.randn(3), torch.rand(3) + 0.5
    with pytest.raises(GaussdiagError) as err:
        gaussdiag.compare(lambda mean, var: var.sqrt() * torch.randn(mean.size()) + mean,
                          lambda mean, var: Normal(mean, var.sqrt()),
                          params={"mean": mean, "var": var}, mode="rsample",
                          sample_shape=(4,))
    text = str(err.value)
    assert "side a: its draws have shape [3], side b's [4, 3]" in text
    assert "without the sample shape [4]" in text and "torch.randn((*sample_shape" in text
    # the same sides with the sample shape drawn agree (one draw each, same seed)
    report = gaussdiag.compare(
        lambda mean, var: var.sqrt() * torch.randn(4, *mean.shape) + mean,
        lambda mean, var: Normal(mean, var.sqrt()),
        params={"mean": mean, "var": var}, mode="rsample", sample_shape=(4,))
    assert report.verdict in (Verdict.AGREE, Verdict.ROUND_OFF)
