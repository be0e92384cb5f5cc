"""Golden runs of the user threads' own lines: each `configs/thread_*.yaml` pastes a thread's
expressions as posted, and the run gives that thread's verdict. The quoted lines below are
copied from the threads; the test checks the configs still contain them verbatim, so the
configs cannot drift into a rewritten form that the grammar happens to accept."""

from __future__ import annotations

from pathlib import Path

import pytest

from gaussdiag.frontends.yaml.run import diagnose
from gaussdiag.frontends.yaml.spec import load_spec
from gaussdiag.pipeline import Options
from gaussdiag.vocab import Verdict

CONFIGS = Path(__file__).resolve().parents[4] / "configs"

THREADS = [
    pytest.param("thread_000_diag_embed_std.yaml", Verdict.PARAMETERIZATION,
                 ["torch.diag_embed(std)"], id="000-diag-embed-std"),
    pytest.param("thread_001_randn_size.yaml", Verdict.AGREE,
                 ["x_var.sqrt() * torch.randn(x_mean.size()) + x_mean"], id="001-randn-size"),
    pytest.param("thread_002_split_stack_view.yaml", Verdict.AGREE,
                 ["outputs.split(3, dim=-1)", "1 + nn.functional.elu(",
                  "torch.zeros(size=[loc.size(0)]", "diag[:, 0], z         , z,",
                  "tril[:, 0], diag[:, 1], z,", "tril[:, 1], tril[:, 2], diag[:, 2]",
                  "], dim=-1).view(-1, 3, 3)"], id="002-split-stack-view"),
    pytest.param("thread_003_log_prob_formula.yaml", Verdict.AGREE,
                 ["torch.log(", "math.sqrt(2 * math.pi)"], id="003-log-prob-formula"),
]


@pytest.mark.parametrize(("name", "verdict", "lines"), THREADS)
def test_thread_lines_run_as_posted(name: str, verdict: Verdict, lines: list[str]) -> None:
    path = CONFIGS / name
    text = path.read_text(encoding="utf-8")
    for line in lines:
        assert line in text, (name, line)
    loaded = load_spec(path)
    assert loaded.spec.expect is verdict
    report = diagnose(loaded, Options())
    assert report.error is None, report.error
    assert report.verdict is verdict, (name, report.explanation)


def test_thread_000_blames_std_and_squares_it() -> None:
    report = diagnose(load_spec(CONFIGS / "thread_000_diag_embed_std.yaml"), Options())
    assert report.cause is not None and report.cause.param == "std"
    assert "torch.diag_embed(std ** 2)" in report.fix


def test_thread_002_factor_is_the_hand_built_one() -> None:
    # The stacked-and-viewed factor against an independent numpy construction.
    import numpy as np
    import torch

    from gaussdiag.frontends.yaml import expr as ex

    outputs = torch.randn(5, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    # The config's derived params, inlined into one expression.
    source = ("torch.stack([(1 + F.elu(outputs.split(3, dim=-1)[2]))[:, 0], "
              "torch.zeros(size=[outputs.size(0)]), torch.zeros(size=[outputs.size(0)]), "
              "outputs.split(3, dim=-1)[1][:, 0], (1 + F.elu(outputs.split(3, dim=-1)[2]))[:, 1], "
              "torch.zeros(size=[outputs.size(0)]), outputs.split(3, dim=-1)[1][:, 1], "
              "outputs.split(3, dim=-1)[1][:, 2], (1 + F.elu(outputs.split(3, dim=-1)[2]))[:, 2]"
              "], dim=-1).view(-1, 3, 3)")
    parsed = ex.parse(source, names={"outputs"})
    got = ex.evaluate(parsed, {"outputs": outputs}, ex.torch_functions(),
                      literal=lambda v: torch.tensor(v, dtype=torch.float64))
    o = outputs.numpy()
    raw = o[:, 6:9]
    diag = 1 + np.where(raw > 0, raw, np.expm1(raw))
    want = np.zeros((5, 3, 3))
    want[:, [0, 1, 2], [0, 1, 2]] = diag
    want[:, 1, 0], want[:, 2, 0], want[:, 2, 1] = o[:, 3], o[:, 4], o[:, 5]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-15, atol=0)
