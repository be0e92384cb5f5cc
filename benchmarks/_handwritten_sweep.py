"""The hand-written baseline of the precision map: a vectorized float32-vs-float64 sweep of
Normal.log_prob and its gradients over sigma x z, as a user would write it in a script.

    python benchmarks/_handwritten_sweep.py N_SIGMA N_Z

Builds the same grid as `precision-check` (log-spaced sigma, z with a 0 column), evaluates
values and gradients in both dtypes in one batched call each, and prints the max and median
relative error per quantity. It imports torch and numpy only, so it pays what any script pays.
"""

from __future__ import annotations

import sys

import torch


def sweep(n_sigma: int, n_z: int) -> dict[str, tuple[float, float]]:
    sigma = torch.logspace(-12, 12, n_sigma, dtype=torch.float64)
    z = torch.cat([torch.zeros(1, dtype=torch.float64),
                   torch.logspace(-4, 20, n_z, dtype=torch.float64)])
    s, zz = torch.meshgrid(sigma, z, indexing="ij")
    out: dict[str, list[torch.Tensor]] = {}
    for dt in (torch.float32, torch.float64):
        loc = torch.zeros_like(s, dtype=dt).requires_grad_(True)
        scale = s.to(dt).requires_grad_(True)
        x = (zz * s).to(dt)
        lp = torch.distributions.Normal(loc, scale, validate_args=False).log_prob(x)
        g_loc, g_scale = torch.autograd.grad(lp.sum(), [loc, scale])
        for name, t in (("log_prob", lp.detach()), ("grad[loc]", g_loc), ("grad[scale]", g_scale)):
            out.setdefault(name, []).append(t.double())
    result = {}
    for name, (low, ref) in out.items():
        rel = ((low - ref).abs() / ref.abs()).nan_to_num(nan=0.0, posinf=1.0)
        result[name] = (float(rel.max()), float(rel.median()))
    return result


if __name__ == "__main__":
    for name, (mx, med) in sweep(int(sys.argv[1]), int(sys.argv[2])).items():
        print(f"{name}: max rel error {mx:.3g}, median {med:.3g}")
