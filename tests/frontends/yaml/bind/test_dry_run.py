"""The memory and work budget wired into the spec front end: the fuzz's hostile specs are
refused at their key before anything real is allocated (exit 2, peak memory flat in a child
process), and the specs the default limit is sized for still pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gaussdiag.errors import SpecError
from gaussdiag.frontends.yaml.bind import BoundSpec
from gaussdiag.limits import DEFAULT_MAX_ELEMENTS, MAX_TRAIN_STEPS
from gaussdiag.vocab import SideName
from tests.conftest import loaded
from tests.frontends.yaml.bind.common import SPEC

ROOT = Path(__file__).parents[4]
N = 2**15  # [N, 1] against [1, N] broadcasts to 2**30 elements, 16x the default limit

BROADCAST = f"""
params:
  loc: {{shape: [{N}, 1], init: zeros}}
  scale: {{shape: [1, {N}], init: ones}}
inputs:
  x: {{values: 0.0}}
a: {{dist: Normal, args: {{loc: loc, scale: scale}}}}
b: {{dist: Normal, args: {{loc: loc, scale: scale}}}}
"""
# 70,000 draws of 1,000: each tensor is under nothing but the draws are over the limit
DRAWS = """
mode: rsample
sample_shape: [70000]
params:
  mu: {shape: [1000], init: zeros}
a: {dist: Normal, args: {loc: mu, scale: 1.0}}
b: {dist: Normal, args: {loc: mu, scale: 1.0}}
"""
ALIAS = ("params:\n  p0: &t {shape: [8192, 8192], init: zeros}\n"
         + "".join(f"  p{i}: *t\n" for i in range(1, 10))
         + "inputs:\n  x: {values: 0.0}\n"
         "a: {dist: Normal, args: {loc: p0, scale: 1.0}}\n"
         "b: {dist: Normal, args: {loc: p1, scale: 1.0}}\n")
MANY = ("params:\n"
        + "".join(f"  p{i}: {{shape: [8192, 8192], init: zeros, grad: false}}\n"
                  for i in range(200))
        + "  m: {shape: [1], init: zeros}\ninputs:\n  x: {values: 0.0}\n"
        "a: {dist: Normal, args: {loc: m, scale: 1.0}}\n"
        "b: {dist: Normal, args: {loc: m, scale: 1.0}}\n")
PRODUCTS = ", ".join(["sum(M @ M)"] * 90)  # 90 x 4096**3 multiply-adds, 5.6x the budget
MATMUL = f"""
params:
  M: {{shape: [4096, 4096], init: normal}}
  m: {{shape: [1], init: zeros}}
inputs:
  x: {{values: 0.0}}
a: {{log_prob: "sum(stack([{PRODUCTS}])) + x"}}
b: {{dist: Normal, args: {{loc: m, scale: 1.0}}}}
"""
TRAIN = """
mode: train
train: {steps: 1000000000}
params:
  mu: {shape: [3], init: zeros}
inputs:
  x: {values: [0.0, 1.0, 2.0]}
a: {dist: Normal, args: {loc: mu, scale: 1.0}}
b: {dist: Normal, args: {loc: mu, scale: 1.0}}
"""
# name -> (spec, the key refused, its line in the text as written, words of the message)
HOSTILE = {
    "broadcast": (BROADCAST, "a", 7, "[32768, 32768]"),
    "draws": (DRAWS, "a", 6, "[70000, 1000]"),
    "alias": (ALIAS, "params.p4", 7, "alive at once"),
    "many": (MANY, "params.p4", 7, "alive at once"),
    "matmul": (MATMUL, "a.log_prob", 7, "multiply-adds"),
    "train": (TRAIN, "train.steps", 3, f"at most {MAX_TRAIN_STEPS:,} training steps"),
}


def _text(spec: str) -> str:
    return "version: 1\n" + spec.lstrip("\n")


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_spec_is_refused_at_its_key(name: str) -> None:
    spec, key, line, words = HOSTILE[name]
    with pytest.raises(SpecError) as info:
        BoundSpec(loaded(_text(spec)))
    err = info.value
    assert err.key is not None and err.key.startswith(key), err
    assert err.line == line, err
    assert words in err.message


def test_work_repeated_over_training_steps_is_refused() -> None:
    # one pass fits (a 1024 x 1024 Cholesky and its backward); 100,000 of them do not
    spec = """
        mode: train
        train: {steps: 100000}
        params:
          c: {shape: [1024, 1024], init: {eye: true}}
          mu: {shape: [1024], init: zeros}
        inputs:
          x: {shape: [4, 1024], init: normal}
        a: {dist: MultivariateNormal, args: {loc: mu, covariance_matrix: c}}
        b: {dist: MultivariateNormal, args: {loc: mu, scale_tril: c}}
    """
    with pytest.raises(SpecError) as info:
        BoundSpec(loaded(spec))
    assert info.value.key == "train.steps" and "passes" in info.value.message


@pytest.mark.parametrize("n", [1024, 4096])
def test_the_benchmark_specs_fit_the_default_budget(n: int) -> None:
    # benchmarks/bench_compare.py's largest case: a 4096 x 4096 covariance, 64 draws, both
    # dtypes. Construction runs the dry run only (the point is cheap next to the sides).
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_compare
    finally:
        sys.path.pop(0)
    text = bench_compare.SPEC.format(kind="fixed", n=n, batch=bench_compare.BATCH,
                                     cov="diag_embed(std**2)", expect="agree")
    p = BoundSpec(loaded(text), max_elements=max(DEFAULT_MAX_ELEMENTS, 4 * n * n))
    assert p.base["std"].shape == (n,)


def test_every_config_fits_the_default_budget() -> None:
    from gaussdiag.frontends.yaml.spec import load_spec

    for path in sorted((ROOT / "configs").glob("*.yaml")):
        BoundSpec(load_spec(path))  # raises SpecError if refused


CHILD = """
import json, os, resource, runpy, sys, tempfile
import torch  # the baseline: what importing torch costs
import gaussdiag.cli
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = []
for name, path in json.loads(sys.argv[1]).items():
    err = tempfile.TemporaryFile()
    saved = os.dup(2)
    os.dup2(err.fileno(), 2)
    sys.argv = ["gaussdiag", "compare", path]
    try:
        runpy.run_module("gaussdiag", run_name="__main__")
        code = 0
    except SystemExit as e:
        code = e.code
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
    err.seek(0)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    out.append([name, code, err.read().decode(), grown])
print(json.dumps(out))
"""


def test_refusals_exit_2_with_peak_memory_bounded(tmp_path: Path) -> None:
    paths = {}
    for name, (spec, *_) in HOSTILE.items():
        paths[name] = str(tmp_path / f"{name}.yaml")
        Path(paths[name]).write_text(_text(spec), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(paths)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1",
                               "NO_COLOR": "1", "COLUMNS": "100"})
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [r[0] for r in results] == list(HOSTILE)
    for name, code, err, grown_kib in results:
        _, key, line, words = HOSTILE[name]
        assert code == 2, (name, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in err, (name, err)
        assert f"{name}.yaml:{line}:" in lines[0] and words in lines[0], (name, err)
        # one tensor at the limit is 512 MiB in float64: nothing of that size was made
        assert grown_kib < 1024 * 1024, (name, grown_kib)


def test_the_dry_run_meters_the_real_build(monkeypatch: pytest.MonkeyPatch) -> None:
    # one more tensor made by the real builder of b's distribution, under b's stage: the dry
    # run, which is that builder on meta, refuses it there (while drawing x from b)
    import torch

    from gaussdiag.engine.built import BuiltSide
    from gaussdiag.frontends.yaml.bind import sides

    real = sides.build_dist_side

    def build(problem: Any, side: SideName, values: Any, tdt: torch.dtype,
              device: torch.device, *, validate: bool = True) -> BuiltSide:
        if side is SideName.B:
            with problem.stage("b.dist"):
                torch.empty(2 * DEFAULT_MAX_ELEMENTS, dtype=tdt, device=device)
        return real(problem, side, values, tdt, device, validate=validate)

    monkeypatch.setattr(sides, "build_dist_side", build)
    with pytest.raises(SpecError) as info:
        BoundSpec(loaded(SPEC))
    assert info.value.key == "b.dist", info.value
    assert f"[{2 * DEFAULT_MAX_ELEMENTS}]" in info.value.message


def test_the_dry_run_stages_are_the_spec_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    # each step of the build is charged to its key, in the order the real run takes them
    from gaussdiag.frontends.yaml.bind.budget import Meter

    labels: list[str] = []
    real = Meter.stage

    def stage(self: Meter, label: str) -> Any:
        labels.append(label)
        return real(self, label)

    monkeypatch.setattr(Meter, "stage", stage)
    p = BoundSpec(loaded(SPEC))
    assert list(dict.fromkeys(labels)) == [
        "params.mean", "params.raw", "params.fixed", "params.std", "inputs.x", "b.args.loc",
        "b.args.scale", "b.dist", "a.args.loc", "a.args.scale", "a.dist", "a.backward",
        "b.backward"]
    # the meta copy's point, draws and stage hook stay its own
    assert p.stages is None and p.point_device == "cpu"
    assert {t.device.type for t in p.base.values()} == {"cpu"}
    assert p.sample_input("x").device.type == "cpu"


def test_what_torch_says_in_the_dry_run_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    # a warning raised while a side runs on meta is neither a note of the problem's nor a
    # stray stderr line (the real run says it again, as a note, if it is the side's)
    import warnings

    import torch

    from gaussdiag.engine.built import BuiltSide
    from gaussdiag.frontends.yaml.bind import sides

    real = sides.build_dist_side

    def build(problem: Any, side: SideName, values: Any, tdt: torch.dtype,
              device: torch.device, *, validate: bool = True) -> BuiltSide:
        if device.type == "meta":
            warnings.warn("said on meta only", UserWarning, stacklevel=1)
        return real(problem, side, values, tdt, device, validate=validate)

    monkeypatch.setattr(sides, "build_dist_side", build)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        p = BoundSpec(loaded(SPEC))
    assert not any("said on meta only" in n for n in p.warnings.notes), p.warnings.notes
    assert not [w for w in shown if "said on meta only" in str(w.message)]
