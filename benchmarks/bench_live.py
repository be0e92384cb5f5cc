"""The Python front end's cost: the same pair diagnosed from YAML and from Python callables,
in one process, interleaved. Target: Python adds at most 5% (median of the runs).

    python benchmarks/bench_live.py [--runs 15] [--n 10]

Both diagnose MultivariateNormal(mean, diag_embed(std)) against Normal(mean, std) summed, at
the same point (the YAML demo's seed), so the engine does the same work: the difference is
the front end (signature filtering, copies of the user's tensors, calling the sides).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET = 1.05

YAML = """
version: 1
seed: 0
params:
  mean: {{shape: [{n}], init: zeros}}
  std:  {{shape: [{n}], init: {{uniform: [0.5, 2.0]}}}}
inputs:
  x: {{sample: b, sample_shape: [64]}}
a: {{dist: MultivariateNormal, args: {{loc: mean, covariance_matrix: diag_embed(std)}}}}
b: {{dist: Normal, args: {{loc: mean, scale: std}}, event_dims: 1}}
at: x
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()

    import torch
    from torch.distributions import Independent, MultivariateNormal, Normal

    import gaussdiag
    from gaussdiag.frontends.yaml.run import diagnose
    from gaussdiag.frontends.yaml.spec import load_spec_text
    from gaussdiag.pipeline import Options

    def a(mean: torch.Tensor, std: torch.Tensor) -> MultivariateNormal:
        return MultivariateNormal(mean, torch.diag_embed(std))

    def b(mean: torch.Tensor, std: torch.Tensor) -> Independent:
        return Independent(Normal(mean, std), 1)

    std = torch.rand(args.n, dtype=torch.float64,
                     generator=torch.Generator().manual_seed(0)) * 1.5 + 0.5
    text = YAML.format(n=args.n)

    def yaml_run() -> str:
        return str(diagnose(load_spec_text(text, "bench.yaml"), Options()).verdict)

    def python_run() -> str:
        return str(gaussdiag.compare(a, b, params={"mean": torch.zeros(args.n), "std": std},
                                     inputs={"x": gaussdiag.sample("b", (64,))}).verdict)

    assert yaml_run() == python_run(), "the two front ends disagree"  # also warms up
    times: dict[str, list[float]] = {"yaml": [], "python": []}
    for _ in range(args.runs):
        for name, fn in (("yaml", yaml_run), ("python", python_run)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["python"] / med["yaml"]
    print(f"n={args.n} runs={args.runs}: yaml {med['yaml'] * 1e3:.1f} ms, "
          f"python {med['python'] * 1e3:.1f} ms (medians); ratio {ratio:.3f}; "
          f"target <= {TARGET}: {'met' if ratio <= TARGET else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
