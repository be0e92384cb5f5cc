"""A compile check's cost, compile time left out, against the same comparison written by hand:
one side (MultivariateNormal with diag_embed(std**2), thread 000's fixed side) eager and
compiled, forward and backward, in float32 and float64, the values and gradients compared.
Both in one process, interleaved. Target: gaussdiag at most 2x the hand-written comparison
(medians of the runs).

    python benchmarks/bench_switch.py [--runs 7] [--n 10] [--backend inductor]

Like for like: each run, each of the two compiles its side afresh (a function with a code
object of its own, so dynamo's cache does not carry over; torch's on-disk caches do), in the
same order (the eager runs, then per dtype compiling and the compiled run, then the
differences), starting from a collected heap, and leaves out its compile time: making the
compiled function and its first call per dtype (gaussdiag reports it as `compile_seconds`).
What remains of the hand-written comparison is its eager runs, its compiled runs (each the
second call of its function, as gaussdiag's) and the differences; of gaussdiag's, its eager
runs, the compiled runs it judges and times, kappa, the judgement and the report. A second
ratio is printed against a warm hand-written comparison, whose compiled function was
compiled once before timing and is called in every run.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import statistics
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--backend", default="inductor")
    args = parser.parse_args()

    import warnings

    import torch
    from torch.distributions import Distribution, MultivariateNormal

    warnings.filterwarnings("ignore", category=FutureWarning)  # inductor's own deprecations
    # one thread: on a shared 2-core machine, an OpenMP barrier waiting for a descheduled
    # second thread turns a 1 ms side into 70 ms, whichever side it hits
    torch.set_num_threads(1)

    import gaussdiag
    from gaussdiag.attribute.quantities import normwise

    def side(mean: torch.Tensor, std: torch.Tensor) -> MultivariateNormal:
        return MultivariateNormal(mean, torch.diag_embed(std**2))

    def log_prob(mean: torch.Tensor, std: torch.Tensor, x: torch.Tensor,
                 validate: bool) -> torch.Tensor:
        dist = MultivariateNormal(mean, torch.diag_embed(std**2), validate_args=validate)
        out: torch.Tensor = dist.log_prob(x)
        return out

    gen = torch.Generator().manual_seed(0)
    std = torch.rand(args.n, dtype=torch.float64, generator=gen) * 1.5 + 0.5
    x = torch.randn(64, args.n, dtype=torch.float64, generator=gen)
    dtypes = (torch.float32, torch.float64)
    count = itertools.count()
    compiled = {dt: torch.compile(log_prob, backend=args.backend, dynamic=False)
                for dt in dtypes}
    Distribution.set_default_validate_args(True)  # torch.compile's first call turned it off

    def point(dt: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (torch.zeros(args.n, dtype=dt, requires_grad=True),
                std.to(dt).requires_grad_(True), x.to(dt))

    def run(fn: object, dt: torch.dtype, validate: bool) -> list[torch.Tensor]:
        mean, s, xx = point(dt)
        value = fn(mean, s, xx, validate)  # type: ignore[operator]
        return [value.detach(), *torch.autograd.grad(value.sum(), [mean, s])]

    def compiled_afresh(dt: torch.dtype) -> object:
        """The hand-written side compiled afresh in `dt` and called once (compiling)."""
        code = log_prob.__code__.replace(co_name=f"log_prob_{next(count)}")
        fn = types.FunctionType(code, log_prob.__globals__, code.co_name,
                                log_prob.__defaults__, log_prob.__closure__)
        out = torch.compile(fn, backend=args.backend, dynamic=False)
        run(out, dt, False)
        Distribution.set_default_validate_args(True)
        return out

    def handwritten() -> float:
        """The comparison in gaussdiag's order (the eager runs, then per dtype compiling and
        the compiled run, then the differences); its seconds without the compiling."""
        start = time.perf_counter()
        eager = {dt: run(log_prob, dt, True) for dt in dtypes}
        fast, compiling = {}, 0.0
        for dt in dtypes:
            begin = time.perf_counter()
            fn = compiled_afresh(dt)
            compiling += time.perf_counter() - begin
            fast[dt] = run(fn, dt, False)  # as gaussdiag: checked eagerly, not here
        max(normwise(a, b) for dt in dtypes for a, b in zip(eager[dt], fast[dt], strict=True))
        return time.perf_counter() - start - compiling

    def warm() -> None:
        for dt in dtypes:
            eager = run(log_prob, dt, True)
            fast = run(compiled[dt], dt, False)
            max(normwise(a, b) for a, b in zip(eager, fast, strict=True))

    def checked() -> float:
        report = gaussdiag.compare(side, switch=f"compile:{args.backend}",
                                   params={"mean": torch.zeros(args.n), "std": std},
                                   inputs={"x": x})
        [check] = report.switches
        assert check.verdict is not None and check.verdict.value in ("agree", "round-off"), \
            check.explanation
        return sum(check.compile_seconds.values())

    for dt in dtypes:  # compile the warm hand-written side, outside the timing
        run(compiled[dt], dt, False)
    checked()  # warm torch's caches and gaussdiag's imports
    handwritten()
    times: dict[str, list[float]] = {"hand-written": [], "gaussdiag": [], "warm": []}
    compile_s: list[float] = []
    for _ in range(args.runs):
        # the cyclic collector off while timing, each run starting from a collected heap:
        # compiling leaves many objects behind, and a full collection walking torch's (0.3 s)
        # would land on whichever run comes next
        gc.collect()
        gc.disable()
        times["hand-written"].append(handwritten())
        gc.enable()
        gc.collect()
        gc.disable()
        start = time.perf_counter()
        warm()
        times["warm"].append(time.perf_counter() - start)
        gc.enable()
        gc.collect()
        gc.disable()
        start = time.perf_counter()
        spent = checked()
        times["gaussdiag"].append(time.perf_counter() - start - spent)
        gc.enable()
        compile_s.append(spent)
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    ratio = med["gaussdiag"] / med["hand-written"]
    print(f"n={args.n} backend={args.backend} runs={args.runs}: hand-written "
          f"{med['hand-written'] * 1e3:.1f} ms, gaussdiag {med['gaussdiag'] * 1e3:.1f} ms "
          f"without its compile time ({statistics.median(compile_s):.2f} s) (medians); "
          f"ratio {ratio:.2f}; target <= {TARGET}: {'met' if ratio <= TARGET else 'NOT met'}; "
          f"best runs {best['hand-written'] * 1e3:.1f} and {best['gaussdiag'] * 1e3:.1f} ms, "
          f"ratio {best['gaussdiag'] / best['hand-written']:.2f}; against the warm "
          f"hand-written comparison ({med['warm'] * 1e3:.1f} ms): ratio "
          f"{med['gaussdiag'] / med['warm']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
