"""The dry-run meter (`bind.budget`): counts checked against hand-counted sequences, the
hostile shapes of the fuzz refused before any allocation (with the stage named), and peak
memory staying flat in a child process while they are refused."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch.distributions import MultivariateNormal, Normal

from gaussdiag.frontends.yaml.bind.budget import (
    DEFAULT_MAX_WORK,
    BudgetExceeded,
    Limits,
    Meter,
    Usage,
    check_repeats,
    dry_run,
)
from gaussdiag.limits import DEFAULT_MAX_ELEMENTS

ROOT = Path(__file__).parents[4]
META = "meta"


def _elementwise(device: str) -> None:
    x = torch.empty(1000, device=device)
    y = x * 2
    z = y + 1
    del y
    w = z.expand(5, 1000)  # a view: no storage
    del w


def test_counts_match_a_hand_count() -> None:
    usage = dry_run(lambda: _elementwise(META))
    # empty, mul, add: three tensors of 1000, all alive together before `del y`
    assert usage == Usage(largest=1000, peak_live=3000, created=3000, work=3000 + 5000)


def test_a_freed_tensor_leaves_the_live_count() -> None:
    def churn() -> None:
        for _ in range(50):
            t = torch.empty(DEFAULT_MAX_ELEMENTS, device=META)
            del t

    usage = dry_run(churn)
    assert usage.peak_live == DEFAULT_MAX_ELEMENTS
    assert usage.created == 50 * DEFAULT_MAX_ELEMENTS


def test_matmul_costs_m_n_k() -> None:
    m, k, n = 30, 70, 110
    usage = dry_run(lambda: torch.empty(m, k, device=META) @ torch.empty(k, n, device=META))
    assert usage.work == m * k + k * n + m * n * k


@pytest.mark.parametrize("device", ["cpu", META])
def test_meta_counts_the_same_as_a_real_run(device: str) -> None:
    def side() -> None:
        loc = torch.zeros(40, 1, device=device, requires_grad=True)
        scale = torch.ones(1, 30, device=device, requires_grad=True)
        d = Normal(loc, scale, validate_args=False)
        d.log_prob(d.rsample((3,)).detach()).sum().backward()

    reference = dry_run(lambda: _elementwise("cpu"))
    assert dry_run(lambda: _elementwise(device)) == reference
    # the backward pass runs under the meter as well, on either device
    assert dry_run(side).created > 3 * 40 * 30 * 2


def test_validation_needs_real_values() -> None:
    # why the dry run builds distributions with validate_args=False
    with pytest.raises(RuntimeError, match="meta"):
        Normal(torch.zeros(3, device=META), torch.ones(3, device=META), validate_args=True)


# ---- the hostile cases of the fuzz ----------------------------------------------------------


def _broadcast() -> None:
    n = 2**15  # [n, 1] against [1, n]: 2**30 elements once broadcast
    loc = torch.zeros(n, 1, device=META, requires_grad=True)
    scale = torch.ones(1, n, device=META, requires_grad=True)
    Normal(loc, scale, validate_args=False).log_prob(torch.zeros(n, 1, device=META)).sum()


def _alias_fan_out() -> None:
    params = [torch.empty(8192, 8192, device=META, requires_grad=True) for _ in range(10)]
    del params


def _many_at_the_limit() -> None:
    tensors = [torch.empty(DEFAULT_MAX_ELEMENTS, device=META) for _ in range(200)]
    del tensors


def _huge_draws() -> None:
    d = Normal(torch.zeros(1000, device=META), torch.ones(1000, device=META),
               validate_args=False)
    d.rsample((10**6,))


def _repeated_products() -> None:
    m = torch.empty(4096, 4096, device=META, requires_grad=True)
    torch.sum(torch.stack([torch.sum(m @ m) for _ in range(90)])).backward()


HOSTILE: list[tuple[str, Callable[[], None], str]] = [
    ("broadcast", _broadcast, "shape [32768, 32768]"),
    ("alias_fan_out", _alias_fan_out, "alive at once"),
    ("many_at_the_limit", _many_at_the_limit, "alive at once"),
    ("huge_draws", _huge_draws, "shape [1000000, 1000]"),
    ("repeated_products", _repeated_products, "multiply-adds"),
]


@pytest.mark.parametrize(("fn", "reason"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_case_is_refused_with_its_key(fn: Callable[[], None], reason: str) -> None:
    with pytest.raises(BudgetExceeded) as info, Meter() as meter, meter.stage("b.log_prob"):
        fn()
    assert info.value.label == "b.log_prob"
    assert str(info.value).startswith("b.log_prob: ") and reason in str(info.value)


def test_one_product_per_pass_is_charged_per_pass() -> None:
    # `sum(stack([sum(M @ M)] * 90))` computes M @ M once: one pass fits, forward and backward
    # (three n^3 products), and the passes a run makes are checked against the same budget
    n = 4096

    def literal() -> None:
        m = torch.empty(n, n, device=META, requires_grad=True)
        torch.sum(torch.stack([torch.sum(m @ m)] * 90)).backward()

    usage = dry_run(literal)
    assert 3 * n**3 <= usage.work < 4 * n**3
    check_repeats(usage, 2)  # two dtypes
    with pytest.raises(BudgetExceeded, match="passes"):
        check_repeats(usage, 2 * 101, label="train.steps")


def test_a_4096_covariance_fits_the_defaults() -> None:
    # the size limits.py makes room for: log_prob of 64 draws and its gradients
    n = 4096

    def side() -> None:
        f = torch.empty(n, n, device=META, requires_grad=True)
        mu = torch.empty(n, device=META, requires_grad=True)
        cov = f @ f.mT + torch.eye(n, device=META)
        d = MultivariateNormal(mu, covariance_matrix=cov, validate_args=False)
        d.log_prob(torch.empty(64, n, device=META)).sum().backward()

    usage = dry_run(side)
    assert usage.peak_live <= Limits().max_live and usage.work <= Limits().max_work


def test_limits_scale_with_max_elements() -> None:
    assert Limits.for_max_elements(DEFAULT_MAX_ELEMENTS) == Limits()
    small = Limits.for_max_elements(DEFAULT_MAX_ELEMENTS // 64)  # 1024 x 1024 at the limit
    assert small.max_live == 4 * small.max_elements
    assert small.max_work == DEFAULT_MAX_WORK // 64**1.5


def test_peak_memory_stays_flat_while_refusing(tmp_path: Path) -> None:
    code = (
        "import resource, sys\n"
        "import torch, torch.distributions\n"
        "sys.path.insert(0, 'tests/frontends/yaml/bind')\n"
        "import test_budget as t\n"
        "from gaussdiag.frontends.yaml.bind.budget import BudgetExceeded, dry_run\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "refused = 0\n"
        "for _, fn, _ in t.HOSTILE:\n"
        "    try:\n"
        "        dry_run(fn)\n"
        "    except BudgetExceeded:\n"
        "        refused += 1\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(refused, before, after)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       timeout=300, env={"OMP_NUM_THREADS": "1", "PATH": ""})
    assert r.returncode == 0, r.stderr
    refused, before, after = map(int, r.stdout.split())
    assert refused == len(HOSTILE)
    # ru_maxrss is in KiB on Linux. Running them for real would need 4 to 8 GiB each; the
    # dry runs must stay within 256 MiB of torch's own footprint.
    assert after - before < 256 * 1024, (before, after)


def test_a_diagnosis_never_imports_torch_dynamo() -> None:
    """The dry run's meta kernels would import torch._dynamo (about 2 s) just to mark
    themselves uncompiled: a log_prob diagnosis, budget check included, imports none of it,
    and leaves no stand-in behind."""
    code = ("import sys; from gaussdiag.cli import main; "
            "rc = main(['compare', 'configs/mvn_diag_vs_normal.yaml', '-q']); "
            "print(rc, 'torch._dynamo' in sys.modules, '_dynamo' in vars(sys.modules['torch']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.split() == ["0", "False", "False"], out


def test_dynamo_free_keeps_a_real_torch_dynamo_and_restores_the_modules() -> None:
    from gaussdiag.frontends.yaml.bind.budget import dynamo_free

    real = sys.modules.get("torch._dynamo")
    with dynamo_free():
        inside = sys.modules.get("torch._dynamo")
        if real is not None:  # already imported here: the real module stays
            assert inside is real
        else:
            assert inside is not None and inside.disable(len) is len
    assert sys.modules.get("torch._dynamo") is real
    if real is None:
        assert "_dynamo" not in vars(torch)
    # the meta device still works, and so does the real torch._dynamo once imported
    x = torch.empty(3, device="meta") ** 2
    assert x.shape == (3,)
