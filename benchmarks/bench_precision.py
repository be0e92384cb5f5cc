"""Benchmark of `precision-check`: the batched sweep against a per-point Python loop.

    python benchmarks/bench_precision.py

Prints cells per second of `sweep_normal` (two batched torch calls per chunk, plus the
classification and findings) and of a naive loop that builds float32 and float64 tensors and
calls `Normal.log_prob` + backward once per cell (only the torch work, so the loop is
flattered). The loop runs on a random subsample of cells and its rate is extrapolated. Then
the wall time of `gaussdiag precision-check --quick` as a subprocess (torch import included).
Both rates are measured in the same run; no assertions: timings depend on the machine.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gaussdiag.precision import ScaleParam, make_axis, sweep_normal  # noqa: E402
from gaussdiag.vocab import DType  # noqa: E402

LOOP_SAMPLE = 400     # cells the naive loop evaluates (enough for a stable per-cell time)
SEED = 0              # which cells the loop samples; fixed so runs compare


def vectorized_rate(n_sigma: int, n_z: int, repeats: int = 3) -> tuple[int, float]:
    sigma = make_axis("--sigma", 1e-12, 1e12, n_sigma)
    z = make_axis("--z", 1e-4, 1e20, n_z, zero=True)
    sweep_normal(DType.FLOAT32, ScaleParam.SCALE, sigma, z)          # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        sweep_normal(DType.FLOAT32, ScaleParam.SCALE, sigma, z)
        best = min(best, time.perf_counter() - t0)
    cells = n_sigma * (n_z + 1)
    return cells, cells / best


def _one_point(dtype: torch.dtype, scale: float, x: float) -> tuple[float, float, float]:
    loc = torch.tensor(0.0, dtype=dtype, requires_grad=True)
    sc = torch.tensor(scale, dtype=dtype, requires_grad=True)
    lp = torch.distributions.Normal(loc, sc, validate_args=False).log_prob(
        torch.tensor(x, dtype=dtype))
    lp.backward()
    assert loc.grad is not None and sc.grad is not None
    return float(lp.detach()), float(loc.grad), float(sc.grad)


def loop_rate(n_sigma: int, n_z: int) -> float:
    sig = make_axis("--sigma", 1e-12, 1e12, n_sigma).values()
    zs = make_axis("--z", 1e-4, 1e20, n_z, zero=True).values()
    rng = random.Random(SEED)
    cells = [(rng.choice(sig), rng.choice(zs)) for _ in range(LOOP_SAMPLE)]
    for s, z in cells[:20]:                                            # warm-up
        _one_point(torch.float32, s, z * s)
    t0 = time.perf_counter()
    for s, z in cells:
        _one_point(torch.float32, s, z * s)
        _one_point(torch.float64, s, z * s)
    return LOOP_SAMPLE / (time.perf_counter() - t0)


def cli_quick_seconds() -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "gaussdiag", "precision-check", "--quick"],
                          capture_output=True, text=True, env=env, check=False, timeout=120)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        print(f"precision-check --quick exited {proc.returncode}: {proc.stderr[-500:]}")
    return elapsed


def main() -> None:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    loop = loop_rate(25, 25)
    print(f"naive per-point loop : {loop:12,.0f} cells/s "
          f"({LOOP_SAMPLE} cells, float32 + float64 log_prob and backward each)")
    for n_sigma, n_z in ((25, 25), (200, 200), (1000, 1000)):
        cells, rate = vectorized_rate(n_sigma, n_z, repeats=3 if cells_small(n_sigma) else 1)
        print(f"vectorized {cells:>9,} cells: {rate:12,.0f} cells/s = {rate / loop:8.0f}x the "
              "loop")
    print(f"gaussdiag precision-check --quick (subprocess): {cli_quick_seconds():.2f} s")


def cells_small(n_sigma: int) -> bool:
    return n_sigma <= 200


if __name__ == "__main__":
    main()
