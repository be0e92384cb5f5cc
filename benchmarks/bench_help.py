"""Startup benchmark: how long `gaussdiag --help` and a spec error take, against bare Python.

    python benchmarks/bench_help.py [--quick] [--runs N]

Each command runs as a whole process; the median of N runs (default 7; 3 with --quick) is
compared with `python -c pass` measured in the same run, as a difference in seconds and a
ratio. Commands:

- `python -m gaussdiag --help`, and the `gaussdiag` console script when one is on PATH;
- `python -m gaussdiag compare BAD.yaml` on a spec with `version: 2` (a spec error, exit 2);
- `python -c "import torch"`, for reference: what answering without torch saves.

Goals (printed next to the numbers; reported, never asserted): `--help` within 0.3 s of bare
Python; the spec error imports no torch (checked with `python -X importtime`) and so takes about
as long as `--help`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _proc import ROOT, ProcRun, child_env, median_seconds, run_once  # noqa: E402

HELP_GOAL_S = 0.3          # --help within this many seconds of `python -c pass`

BAD_SPEC = """\
version: 2
name: wrong-version
params:
  mean: {shape: [3], init: zeros}
  std: {shape: [3], init: ones}
a: {dist: Normal, args: {loc: mean, scale: std}}
b: {dist: Normal, args: {loc: mean, scale: std}}
"""


@dataclass(frozen=True)
class Case:
    label: str
    cmd: list[str]
    expect_rc: int
    check_torch: bool = False      # report whether the command imports torch


def imports_torch(cmd: list[str]) -> bool | None:
    """Whether running `cmd` imports torch, from -X importtime; None when `cmd` is neither a
    Python interpreter nor a Python script (a console script's shebang names Python)."""
    if Path(cmd[0]).name.startswith("python") or cmd[0] == sys.executable:
        full = [cmd[0], "-X", "importtime", *cmd[1:]]
    elif _is_python_script(cmd[0]):
        full = [sys.executable, "-X", "importtime", *cmd]
    else:
        return None
    proc = subprocess.run(full, capture_output=True, text=True, env=child_env(), cwd=ROOT,
                          check=False, timeout=120)
    return any(line.rsplit("|", 1)[-1].strip() == "torch" for line in proc.stderr.splitlines())


def _is_python_script(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            first = f.readline(200)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


def measure(cases: list[Case], runs: int) -> dict[str, list[ProcRun]]:
    """Run every case `runs` times, interleaved (case 1, case 2, ..., case 1, ...), so slow
    drift of a shared machine spreads over all cases instead of biasing one."""
    for case in cases:                                 # warm-up: file cache, .pyc files
        run_once(case.cmd)
    results: dict[str, list[ProcRun]] = {c.label: [] for c in cases}
    for _ in range(runs):
        for case in cases:
            results[case.label].append(run_once(case.cmd))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time `gaussdiag --help` and a spec error against bare Python "
                    "(whole processes, median of N runs).")
    parser.add_argument("--quick", action="store_true", help="3 runs per command instead of 7")
    parser.add_argument("--runs", type=int, default=None,
                        help="runs per command (default 7; 3 with --quick)")
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 7)
    py = sys.executable

    with tempfile.TemporaryDirectory(prefix="bench_help_") as tmp:
        bad = Path(tmp) / "version2.yaml"
        bad.write_text(BAD_SPEC, encoding="utf-8")
        cases = [
            Case("python -c pass", [py, "-c", "pass"], 0),
            Case("python -m gaussdiag --help", [py, "-m", "gaussdiag", "--help"], 0, True),
        ]
        script = shutil.which("gaussdiag")
        if script:
            cases.append(Case("gaussdiag --help (console script)", [script, "--help"], 0, True))
        cases += [
            Case("python -m gaussdiag compare BAD (version: 2)",
                 [py, "-m", "gaussdiag", "compare", str(bad)], 2, True),
            Case('python -c "import torch" (reference)', [py, "-c", "import torch"], 0),
        ]

        print(f"Python {sys.version.split()[0]} ({py}); median of {runs} runs per command, "
              "interleaved, after one warm-up run each")
        print("console script: " + (script or "no `gaussdiag` on PATH (row skipped)"))
        print("caveat: a shared 2-core machine; differences of a few tens of ms are noise")
        print()
        results = measure(cases, runs)
        torch_used = {c.label: imports_torch(c.cmd) for c in cases if c.check_torch}

    base = median_seconds(results["python -c pass"])
    help_s = median_seconds(results["python -m gaussdiag --help"])
    width = max(len(c.label) for c in cases)
    print(f"{'command':<{width}}  {'median s':>8}  {'min s':>6}  {'- bare s':>8}  "
          f"{'ratio':>6}  {'exit':>4}  torch imported")
    for case in cases:
        rs = results[case.label]
        med = median_seconds(rs)
        rcs = sorted({r.returncode for r in rs})
        rc = ",".join(map(str, rcs))
        flag = "" if rcs == [case.expect_rc] else f" (expected {case.expect_rc})"
        torch_col = {None: "-", True: "yes", False: "no"}[torch_used.get(case.label)]
        print(f"{case.label:<{width}}  {med:8.3f}  {min(r.seconds for r in rs):6.3f}  "
              f"{med - base:+8.3f}  {med / base:5.1f}x  {rc:>4}{flag}  {torch_col}")
        if flag and rs[-1].stderr_tail:
            print("    stderr: " + rs[-1].stderr_tail.strip().replace("\n", "\n    "))

    print()
    print("goals (reported, not asserted):")
    help_gap = help_s - base
    print(f"  --help within {HELP_GOAL_S} s of bare Python: {help_gap:+.3f} s "
          f"({help_s / base:.1f}x) -> {'met' if help_gap <= HELP_GOAL_S else 'NOT met'}")
    if script:
        s = median_seconds(results["gaussdiag --help (console script)"])
        print(f"  console script --help within {HELP_GOAL_S} s of bare Python: {s - base:+.3f} s"
              f" -> {'met' if s - base <= HELP_GOAL_S else 'NOT met'}")
    bad_label = "python -m gaussdiag compare BAD (version: 2)"
    bad_s = median_seconds(results[bad_label])
    no_torch = torch_used.get(bad_label) is False
    print(f"  spec error imports no torch: {'met' if no_torch else 'NOT met'}; "
          f"{bad_s - help_s:+.3f} s vs --help, {bad_s - base:+.3f} s vs bare Python -> "
          f"{'met' if no_torch and bad_s - base <= HELP_GOAL_S else 'NOT met'}"
          f" (within {HELP_GOAL_S} s of bare Python, like --help)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
