"""Benchmark of the precision map against a hand-written vectorized sweep, measured in one run.

    python benchmarks/bench_precision.py [--runs N] [--n 1000]

The baseline (`benchmarks/_handwritten_sweep.py`) is what a user would write by hand: one
batched float32 and one float64 `Normal.log_prob` + backward over the same sigma x z grid, and
the max and median relative error per quantity. Measured, alternating the two so both meet
the same load on the machine:

* whole processes (both pay `import torch`): `gaussdiag precision-check --sigma-n N --z-n N`,
  and the same with `--json FILE` (the map's per-cell grids written out), against the
  baseline script, median wall time and peak RSS (`os.wait4`) of N runs each;
* in-process: cells per second of `sweep_normal` (evaluation, classification and findings)
  against the baseline's `sweep` function, best of three.

Each goal of the performance issue is printed as a ratio with "met" or "not met". No
assertions: timings depend on the machine, so the tests never time anything.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _handwritten_sweep import sweep as handwritten_sweep  # noqa: E402
from _proc import ProcRun, run_once, with_frozen_import  # noqa: E402

from gaussdiag.precision import ScaleParam, make_axis, sweep_normal  # noqa: E402
from gaussdiag.vocab import DType  # noqa: E402

# The goals: (what, limit, higher_is_better)
TIME_RATIO = 1.3          # whole process, gaussdiag / hand-written
MEMORY_RATIO = 1.5        # peak RSS, gaussdiag / hand-written
JSON_RATIO = 1.5          # time and peak RSS with --json FILE, gaussdiag / hand-written
CELLS_PER_S = 5e6         # in-process sweep_normal


def _best_seconds(fn: object, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def in_process(n: int) -> tuple[float, float]:
    """Cells per second of sweep_normal and of the hand-written sweep (after a warm-up)."""
    sigma = make_axis("sigma", 1e-12, 1e12, n)
    z = make_axis("z", 1e-4, 1e20, n, zero=True)
    cells = n * (n + 1)
    sweep_normal(DType.FLOAT32, ScaleParam.SCALE, make_axis("sigma", 1e-3, 1e3, 5),
                 make_axis("z", 1.0, 10.0, 5, zero=True))
    handwritten_sweep(5, 5)
    ours = _best_seconds(lambda: sweep_normal(DType.FLOAT32, ScaleParam.SCALE, sigma, z))
    base = _best_seconds(lambda: handwritten_sweep(n, n))
    return cells / ours, cells / base


def processes(n: int, runs: int, json_file: Path
              ) -> tuple[list[ProcRun], list[ProcRun], list[ProcRun], list[ProcRun]]:
    ours_cmd = [sys.executable, "-m", "gaussdiag", "precision-check", "--sigma-n", str(n),
                "--z-n", str(n)]
    base_cmd = [sys.executable, str(ROOT / "benchmarks" / "_handwritten_sweep.py"), str(n),
                str(n)]
    ours: list[ProcRun] = []
    ours_json: list[ProcRun] = []
    base: list[ProcRun] = []
    frozen: list[ProcRun] = []
    for _ in range(runs):            # interleaved: a burst of load hits all alike
        base.append(run_once(base_cmd))
        ours.append(run_once(ours_cmd))
        ours_json.append(run_once([*ours_cmd, "--json", str(json_file)]))
        frozen.append(run_once(with_frozen_import(base_cmd)))
    for r in (*ours, *ours_json, *base, *frozen):
        if r.returncode != 0:
            print(f"a run exited {r.returncode}: {r.stderr_tail}")
    return ours, ours_json, base, frozen


def _verdict(ok: bool) -> str:
    return "met" if ok else "not met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="process runs of each command")
    parser.add_argument("--n", type=int, default=1000, help="sigma rows and z columns")
    args = parser.parse_args()
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; grid "
          f"{args.n} x {args.n + 1} = {args.n * (args.n + 1):,} cells")
    with tempfile.TemporaryDirectory() as tmp:
        json_file = Path(tmp) / "map.json"
        ours, ours_json, base, frozen = processes(args.n, args.runs, json_file)
        json_mib = json_file.stat().st_size / 2**20
    t_ours, t_json, t_base, t_frozen = (statistics.median(r.seconds for r in rs)
                                        for rs in (ours, ours_json, base, frozen))
    m_ours, m_json, m_base, m_frozen = (statistics.median(r.max_rss_mib for r in rs)
                                        for rs in (ours, ours_json, base, frozen))
    print(f"whole process, median of {args.runs} interleaved runs each:")
    print(f"  gaussdiag precision-check : {t_ours:6.2f} s  {m_ours:7.0f} MiB peak RSS")
    print(f"  the same with --json FILE : {t_json:6.2f} s  {m_json:7.0f} MiB peak RSS, "
          f"a {json_mib:.1f} MiB file")
    print(f"  hand-written sweep        : {t_base:6.2f} s  {m_base:7.0f} MiB peak RSS")
    print(f"  the same, torch imported as gaussdiag imports it (collector off, then "
          f"gc.freeze): {t_frozen:.2f} s, {m_frozen:.0f} MiB; gaussdiag / it = "
          f"{t_ours / t_frozen:.2f}x (for information: the goal is against the plain script)")
    rate, base_rate = in_process(args.n)
    print(f"in-process: sweep_normal {rate / 1e6:.2f} M cells/s, hand-written "
          f"{base_rate / 1e6:.2f} M cells/s (best of 3)")
    print("goals:")
    print(f"  time   {t_ours / t_base:5.2f}x the hand-written process (goal <= {TIME_RATIO}x): "
          f"{_verdict(t_ours / t_base <= TIME_RATIO)}")
    print(f"  memory {m_ours / m_base:5.2f}x its peak RSS (goal <= {MEMORY_RATIO}x): "
          f"{_verdict(m_ours / m_base <= MEMORY_RATIO)}")
    print(f"  --json time   {t_json / t_base:5.2f}x the hand-written process (goal <= "
          f"{JSON_RATIO}x): {_verdict(t_json / t_base <= JSON_RATIO)}")
    print(f"  --json memory {m_json / m_base:5.2f}x its peak RSS (goal <= {JSON_RATIO}x): "
          f"{_verdict(m_json / m_base <= JSON_RATIO)}")
    print(f"  rate   {rate / CELLS_PER_S:5.2f}x of {CELLS_PER_S / 1e6:.0f} M cells/s in-process "
          f"(goal >= 1x): {_verdict(rate >= CELLS_PER_S)}")


if __name__ == "__main__":
    main()
