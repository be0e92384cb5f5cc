"""The reparameterization search's cost, as whole processes, with ratios measured in one run.

    python benchmarks/bench_search.py [--repeats 3] [--quick]

1. A search that succeeds on an argument behind a network head: thread 000's mix-up as people
   write it (a head returns mean and std; MultivariateNormal(mean, diag_embed(std)) against
   Independent(Normal(mean, std), 1)), diagnosed by `gaussdiag compare PAIRS.py`, against a
   hand-written script doing the same float32/float64 work: both sides in both dtypes,
   log_prob at the same 64 draws, backward to every weight of the head, and the differences
   per quantity. Goal: within 1.3x.
2. A search that finds nothing: MultivariateNormal(m, scale_tril=L) against the same with one
   element of `loc` shifted (the last, past the first entries a slice keeps), at n = 10, 1024
   and 2048 with L an n x n leaf, and at n = 2048 with a dense scale_tril computed from a
   2048 x 2048 leaf (an argument the search reaches); against the same spec with no shift,
   whose diagnosis runs no search. Goal: at most 2x.

Every case runs `--repeats` times (2048: once with --quick), interleaved; medians are printed
with the goal and met / not met (reported, never asserted: the machine is shared). Both sides
of each ratio run on one torch thread (`--threads 1`, and torch.set_num_threads(1) in the
script), so the ratio is the work, not the thread pool's contention.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _proc import ProcRun, run_once  # noqa: E402

HEAD_GOAL = 1.3
FRUITLESS_GOAL = 2.0

HEAD = '''\
import torch
from torch import nn
from torch.nn import functional as F


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(8, 32)
        self.mu = nn.Linear(32, 6)
        self.s = nn.Linear(32, 6)

    def forward(self, obs):
        h = torch.tanh(self.body(obs))
        return self.mu(h), F.softplus(self.s(h)) + 0.2


torch.manual_seed(0)
NET = Head()
OBS = torch.randn(16, 8)
'''

PAIRS = HEAD + '''
import gaussdiag
from torch.distributions import Independent, MultivariateNormal, Normal


def a(net, obs):
    mu, std = net(obs)
    return MultivariateNormal(mu, covariance_matrix=torch.diag_embed(std))


def b(net, obs):
    mu, std = net(obs)
    return Independent(Normal(mu, std), 1)


pair = gaussdiag.Pair(a, b, params={"net": NET},
                      inputs={"obs": OBS, "x": gaussdiag.sample("b", (64, 16))}, at="x",
                      expect="parameterization")
'''

SCRIPT = HEAD + '''
import copy
from torch.distributions import Independent, MultivariateNormal, Normal

torch.set_num_threads(1)
with torch.no_grad():
    mu, std = copy.deepcopy(NET).double()(OBS.double())
    torch.manual_seed(0)
    x = Independent(Normal(mu, std), 1).sample((64,))
out = {}
for dtype in (torch.float32, torch.float64):
    for side in ("a", "b"):
        net = copy.deepcopy(NET).to(dtype)
        mu, std = net(OBS.to(dtype))
        if side == "a":
            d = MultivariateNormal(mu, covariance_matrix=torch.diag_embed(std),
                                   validate_args=True)
        else:
            d = Independent(Normal(mu, std, validate_args=True), 1)
        lp = d.log_prob(x.to(dtype))
        grads = torch.autograd.grad(lp.sum(), list(net.parameters()))
        out[dtype, side] = [lp.detach().double()] + [g.double() for g in grads]
for dtype in (torch.float32, torch.float64):
    for u, v in zip(out[dtype, "a"], out[dtype, "b"]):
        print(float((u - v).abs().max() / max(u.abs().max(), v.abs().max())))
'''

SPEC = """\
version: 1
name: {name}
seed: 0
params:
  m: {{shape: [{n}], init: normal}}
  L: {{shape: [{n}, {n}], init: {init}}}
  e: {{values: {shift}, grad: false}}
inputs:
  x: {{sample: b, sample_shape: [64]}}
a: {{dist: MultivariateNormal, args: {{loc: m, scale_tril: {tril}}}}}
b: {{dist: MultivariateNormal, args: {{loc: m + e, scale_tril: {tril}}}}}
at: x
expect: {expect}
"""

DENSE = '"tril(L, -1) + diag_embed(exp(diagonal(L)))"'


def spec(n: int, *, shifted: bool, dense: bool) -> str:
    shift = [0.0] * n
    if shifted:
        shift[-1] = 0.5
    return SPEC.format(name=f"{'shift' if shifted else 'same'}-{'dense-' if dense else ''}{n}",
                       n=n, shift=shift, expect="mismatch" if shifted else "agree",
                       init="{normal: {mean: 0.0, std: 0.02}}" if dense else "{eye: true}",
                       tril=DENSE if dense else "L")


def median(runs: list[ProcRun]) -> float:
    bad = [r for r in runs if r.returncode != 0]
    if bad:
        raise SystemExit(f"a run failed (exit {bad[0].returncode}): {bad[0].stderr_tail}")
    return statistics.median(r.seconds for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one run of the n = 2048 cases")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start")
    gd = [sys.executable, "-m", "gaussdiag", "compare", "-q", "--threads", "1"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "head_pairs.py").write_text(PAIRS)
        (folder / "head_script.py").write_text(SCRIPT)
        head = {"compare": [*gd, str(folder / "head_pairs.py")],
                "script": [sys.executable, str(folder / "head_script.py")]}
        times: dict[str, list[ProcRun]] = {k: [] for k in head}
        for _ in range(args.repeats):
            for key, cmd in head.items():
                times[key].append(run_once(cmd))
        ratio = median(times["compare"]) / median(times["script"])
        print(f"\n1. argument behind a head: compare {median(times['compare']):.2f} s, "
              f"hand-written {median(times['script']):.2f} s: {ratio:.2f}x "
              f"(goal {HEAD_GOAL}x: {'met' if ratio <= HEAD_GOAL else 'not met'})")
        print("\n2. a search that finds nothing, against the same spec with no shift:")
        print("  n      L       search s  no search s  ratio  goal")
        for n, dense in ((10, False), (1024, False), (2048, False), (2048, True)):
            files = {}
            for shifted in (True, False):
                path = folder / f"{n}-{dense}-{shifted}.yaml"
                path.write_text(spec(n, shifted=shifted, dense=dense))
                files[shifted] = [*gd, str(path)]
            runs: dict[bool, list[ProcRun]] = {True: [], False: []}
            repeats = 1 if args.quick and n >= 2048 else args.repeats
            for _ in range(repeats):
                for shifted in (True, False):
                    runs[shifted].append(run_once(files[shifted]))
            s, base = median(runs[True]), median(runs[False])
            r = s / base
            print(f"  {n:<6} {'dense' if dense else 'leaf':<7} {s:8.2f}  {base:11.2f}  "
                  f"{r:5.2f}x {FRUITLESS_GOAL}x: {'met' if r <= FRUITLESS_GOAL else 'not met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
