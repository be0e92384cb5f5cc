"""Benchmark of torch's intra-op thread count in `gaussdiag compare`: does choosing it from the
problem's size (the default, `gaussdiag/engine/threads.py`) beat torch's own count?

    python benchmarks/bench_threads.py [--quick] [--repeats N]

Each case runs as a whole process three ways, interleaved, `--repeats` times (median shown):
- torch: `--threads C` with C = os.cpu_count(), which is torch's own default here (the
  baseline: what gaussdiag did before it chose);
- one: `--threads 1`;
- auto: no option (one thread for a problem whose largest param or input has at most
  `limits.SMALL_PROBLEM_ELEMENTS` elements, else torch's own count).

Cases: the train config `configs/train_mvn_fixed_vs_normal.yaml`, the demo spec
`configs/mvn_diag_vs_normal.yaml` (with the search), a Python pair with a Conv2d module, and
bench_compare's diagonal MultivariateNormal against Normal (the correct formulation) at
n = 1024 and n = 2048 with a batch of 64 (x is 64 x n: at the threshold and above it). With
--quick: the first three.

The ratios are against the torch case of the same run (below 1: faster). The machine is
shared, so the load average is printed with the numbers; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _proc import ROOT, ProcRun, run_once  # noqa: E402
from bench_compare import SPEC  # noqa: E402 - bench_compare's diagonal MVN spec

PAIR = '''\
"""A small convolutional network's output as a Normal's mean, two ways."""
import torch
from torch import nn
from torch.distributions import Independent, Normal

import gaussdiag

torch.manual_seed(0)
net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Tanh(), nn.Conv2d(8, 1, 3, padding=1))
images = torch.randn(4, 3, 16, 16)
targets = torch.randn(4, 1, 16, 16)


def independent(net, images):
    return Independent(Normal(net(images), 1.0), 3)


def summed(net, images, targets):
    d = targets - net(images)
    return (-0.5 * d**2 - 0.5 * torch.log(torch.tensor(2 * torch.pi))).sum((-3, -2, -1))


conv = gaussdiag.Pair(independent, summed, params={"net": net},
                      inputs={"images": images, "targets": targets}, at="targets",
                      expect="round-off")
'''



def cases(tmp: Path, quick: bool) -> dict[str, list[str]]:
    pair = tmp / "conv_pair.py"
    pair.write_text(PAIR, encoding="utf-8")
    configs = ROOT / "configs"
    out = {"train (train_mvn_fixed_vs_normal)": [str(configs / "train_mvn_fixed_vs_normal.yaml")],
           "search (mvn_diag_vs_normal)": [str(configs / "mvn_diag_vs_normal.yaml")],
           "Conv2d pair": [str(pair)]}
    if not quick:
        for n in (1024, 2048):
            spec = tmp / f"mvn_n{n}.yaml"
            spec.write_text(SPEC.format(kind="fixed", n=n, batch=64, cov="diag_embed(std**2)",
                                        expect="agree"), encoding="utf-8")
            out[f"MVN vs Normal, n = {n}"] = [str(spec), "--max-elements", str(4 * n * n)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    cpus = os.cpu_count() or 1
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{cpus} CPUs, load average {load} at the start; torch's own count here: {cpus}")
    ways = {"torch": ["--threads", str(cpus)], "one": ["--threads", "1"], "auto": []}
    with tempfile.TemporaryDirectory() as tmp_name:
        for name, target in cases(Path(tmp_name), args.quick).items():
            runs: dict[str, list[ProcRun]] = {w: [] for w in ways}
            for _ in range(args.repeats):  # interleaved: drift hits every way alike
                for way, flag in ways.items():
                    r = run_once([sys.executable, "-m", "gaussdiag", "compare", "-q",
                                  *target, *flag], timeout=1800)
                    if r.returncode not in (0, 1):
                        print(f"  warning: {name} {way} exited {r.returncode}: "
                              f"{r.stderr_tail.strip()[-300:]}")
                    runs[way].append(r)
            t = {w: statistics.median(r.seconds for r in rs) for w, rs in runs.items()}
            print(f"{name}: torch ({cpus} threads) {t['torch']:.2f} s, one {t['one']:.2f} s "
                  f"({t['one'] / t['torch']:.2f}x), auto {t['auto']:.2f} s "
                  f"({t['auto'] / t['torch']:.2f}x)", flush=True)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
