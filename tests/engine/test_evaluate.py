"""Evaluating one side: log_prob and its gradients, rsample draws and theirs, and training
steps, each against hand-written torch (closed-form densities and gradients, in float64)."""

from __future__ import annotations

import math

import torch

from gaussdiag.engine.evaluate import run_side, train_side
from gaussdiag.frontends.yaml.bind import BoundSpec
from gaussdiag.vocab import DType, SideName
from tests.conftest import loaded

LOG_PROB = """
seed: 3
params:
  mu:  {shape: [5], init: normal}
  raw: {shape: [5], init: {uniform: [-1.0, 1.0]}}
  s:   {expr: "softplus(raw) + 0.2"}
inputs:
  x: {shape: [7, 5], init: normal}
a: {dist: Normal, args: {loc: mu, scale: s}, event_dims: 1}
b: {dist: Normal, args: {loc: mu, scale: s}, event_dims: 1}
"""


def _normal_log_prob(x: torch.Tensor, mu: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """The Gaussian log-density written out, summed over the last dim."""
    z = (x - mu) / s
    return (-0.5 * z**2 - torch.log(s) - 0.5 * math.log(2 * math.pi)).sum(-1)


def test_log_prob_value_and_gradients_match_the_closed_form() -> None:
    p = BoundSpec(loaded(LOG_PROB))
    r = run_side(p, SideName.A, DType.FLOAT64)
    x, mu, raw = p.base["x"], p.base["mu"], p.base["raw"]
    s = torch.log1p(torch.exp(raw)) + 0.2
    assert torch.allclose(r.value, _normal_log_prob(x, mu, s), rtol=1e-12, atol=0.0)
    # d/dmu sum log p = sum_i (x_i - mu) / s^2; d/ds = sum_i (z_i^2 - 1) / s; ds/draw = sigmoid
    z = (x - mu) / s
    g_mu = ((x - mu) / s**2).sum(0)
    g_raw = ((z**2 - 1) / s).sum(0) * torch.sigmoid(raw)
    assert r.grads["mu"] is not None and torch.allclose(r.grads["mu"], g_mu, rtol=1e-10)
    assert r.grads["raw"] is not None and torch.allclose(r.grads["raw"], g_raw, rtol=1e-10)
    assert set(r.grads) == {"mu", "raw"}  # a derived param gets no gradient of its own


def test_float32_value_is_within_round_off_of_float64() -> None:
    p = BoundSpec(loaded(LOG_PROB))
    r32 = run_side(p, SideName.A, DType.FLOAT32)
    r64 = run_side(p, SideName.A, DType.FLOAT64)
    assert r32.value.dtype == torch.float32
    # 5 terms of size O(1..10) each: float32 sums stay well within 1e-4 relative
    assert torch.allclose(r32.value.double(), r64.value, rtol=1e-4, atol=1e-4)


def test_without_grads_only_the_value_is_computed() -> None:
    p = BoundSpec(loaded(LOG_PROB))
    r = run_side(p, SideName.B, DType.FLOAT64, grads=False)
    assert r.grads == {}
    s = torch.log1p(torch.exp(p.base["raw"])) + 0.2
    assert torch.allclose(r.value, _normal_log_prob(p.base["x"], p.base["mu"], s), rtol=1e-12)


def test_rsample_draw_gradients_follow_the_reparameterization() -> None:
    p = BoundSpec(loaded("""
        seed: 1
        mode: rsample
        sample_shape: [6]
        params:
          mu: {shape: [4], init: normal}
          s:  {shape: [4], init: {uniform: [0.5, 2.0]}}
        a: {dist: Normal, args: {loc: mu, scale: s}}
        b: {expr: s * randn_like(mu) + mu}
    """))
    r = run_side(p, SideName.A, DType.FLOAT64)
    mu, s = p.base["mu"], p.base["s"]
    assert r.value.shape == (6, 4)
    eps = (r.value - mu) / s  # the noise behind each draw
    # draws = mu + s * eps: d sum / d mu = number of draws, d sum / d s = sum of the noise
    six = torch.full((4,), 6.0, dtype=torch.float64)
    assert r.grads["mu"] is not None and torch.allclose(r.grads["mu"], six)
    assert r.grads["s"] is not None and torch.allclose(r.grads["s"], eps.sum(0), rtol=1e-10)
    again = run_side(p, SideName.A, DType.FLOAT64)
    assert torch.equal(again.value, r.value)  # reseeded before each side


def test_sgd_steps_match_a_hand_written_loop() -> None:
    steps, lr = 5, 0.1
    p = BoundSpec(loaded(f"""
        seed: 2
        mode: train
        train: {{steps: {steps}, optimizer: sgd, lr: {lr}}}
        params:
          mu:    {{shape: [3], init: zeros}}
          log_s: {{shape: [3], init: {{uniform: [-0.5, 0.5]}}}}
        inputs:
          x: {{shape: [8, 3], init: {{normal: {{mean: 1.0, std: 0.5}}}}}}
        a: {{dist: Normal, args: {{loc: mu, scale: exp(log_s)}}, event_dims: 1}}
        b: {{dist: Normal, args: {{loc: mu, scale: exp(log_s)}}, event_dims: 1}}
    """))
    run = train_side(p, SideName.A, DType.FLOAT64)
    x = p.base["x"]
    mu, log_s = p.base["mu"].clone(), p.base["log_s"].clone()
    n = x.shape[0]
    losses, params = [], []
    for _ in range(steps):
        s = torch.exp(log_s)
        z = (x - mu) / s
        losses.append(float(-_normal_log_prob(x, mu, s).mean()))
        # gradients of the mean negative log-density, by hand
        g_mu = -((x - mu) / s**2).sum(0) / n
        g_log_s = (1 - z**2).sum(0) / n
        mu, log_s = mu - lr * g_mu, log_s - lr * g_log_s
        params.append(torch.cat([mu, log_s]))
    assert len(run.losses) == len(run.params) == steps
    for got, want in zip(run.losses, losses, strict=True):
        assert math.isclose(got, want, rel_tol=1e-12)
    for got_p, want_p in zip(run.params, params, strict=True):
        assert torch.allclose(got_p, want_p, rtol=1e-12, atol=1e-14)
    assert run.losses[-1] < run.losses[0]  # the loop descends
