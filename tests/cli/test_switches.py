"""Switches end to end: `--switch` (repeatable), `switches:` and `expect:` in a spec, a spec and
a Pair with one side, the exit code counting switch checks as verdicts, absent devices (exit 2
naming the switch, or skipped), and every output format carrying the checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import tests.engine.planted_backends as planted
from gaussdiag.cli import main
from gaussdiag.report.json_schema import report_schema
from tests.report.test_formats import no_torch

ROOT = Path(__file__).parents[2]
DRIFT = f"compile:{planted.EXP_DRIFT}"

ONE_SIDE = f"""\
version: 1
name: exp-scale
params:
  mean: {{shape: [5], init: zeros}}
  log_std: {{shape: [5], init: {{normal: {{mean: 0.0, std: 0.3}}}}}}
inputs:
  x: {{shape: [16, 5], init: normal}}
a:
  dist: Normal
  args: {{loc: mean, scale: exp(log_std)}}
  event_dims: 1
switches: [{DRIFT}]
expect: mismatch
"""

PAIR = ONE_SIDE.replace("switches:", """b:
  log_prob: "(-0.5 * ((x - mean) / exp(log_std)) ** 2 - log_std - 0.9189385332046727).sum(-1)"
switches:""").replace("expect: mismatch", f"""expect:
  pair: agree
  {DRIFT}: {{a: mismatch, b: mismatch}}""")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    """One run of both specs, in every format (the compiler runs once per spec)."""
    folder = tmp_path_factory.mktemp("switches")
    (folder / "one.yaml").write_text(ONE_SIDE)
    (folder / "pair.yaml").write_text(PAIR)
    out: dict[str, dict[str, object]] = {}
    for name in ("one", "pair"):
        json_path = folder / f"{name}.json"
        summary = folder / f"{name}.md"
        summary.write_text("")
        old = os.environ.get("GITHUB_STEP_SUMMARY")
        os.environ["GITHUB_STEP_SUMMARY"] = str(summary)
        try:
            code = main(["compare", str(folder / f"{name}.yaml"), "--json", str(json_path),
                         "--format", "github", "--no-timings"])
        finally:
            if old is None:
                del os.environ["GITHUB_STEP_SUMMARY"]
            else:
                os.environ["GITHUB_STEP_SUMMARY"] = old
        out[name] = {"code": code, "json": json.loads(json_path.read_text()),
                     "markdown": summary.read_text()}
    return out


def test_a_single_side_with_its_expected_switch_verdict_exits_0(
        reports: dict[str, dict[str, object]]) -> None:
    one = reports["one"]
    assert one["code"] == 0
    spec = one["json"]["specs"][0]  # type: ignore[index]
    assert spec["single"] and spec["verdict"] == "mismatch" and spec["ok"]
    [check] = spec["switches"]
    assert (check["switch"], check["side"], check["verdict"], check["expect"], check["ok"]) == (
        DRIFT, "a", "mismatch", "mismatch", True)
    assert check["reproducer"] and Path(check["reproducer"]).is_file()


def test_a_pair_with_switch_expectations_per_side(reports: dict[str, dict[str, object]]
                                                  ) -> None:
    pair = reports["pair"]
    assert pair["code"] == 0
    spec = pair["json"]["specs"][0]  # type: ignore[index]
    assert (spec["verdict"], spec["expect"], spec["single"]) == ("agree", "agree", False)
    assert [(c["side"], c["verdict"], c["ok"]) for c in spec["switches"]] == [
        ("a", "mismatch", True), ("b", "mismatch", True)]


def test_the_json_report_with_switches_validates_and_leaves_timings_out(
        reports: dict[str, dict[str, object]]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(report_schema())
    for run in reports.values():
        data = run["json"]
        assert not [e.message for e in validator.iter_errors(data)]
        for check in data["specs"][0]["switches"]:  # type: ignore[index]
            assert "costs" not in check and "compile_seconds" not in check  # --no-timings


def test_markdown_carries_each_check(reports: dict[str, dict[str, object]]) -> None:
    text = reports["pair"]["markdown"]
    assert isinstance(text, str)
    for side in "ab":
        assert f"side {side} under {DRIFT}" in text.replace("\\", "")
    assert "compiled and eager differ in float64 too" in text


def test_a_check_that_is_not_ok_exits_1_and_is_annotated(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(ONE_SIDE.replace("expect: mismatch", "expect: agree"))
    assert main(["compare", str(spec), "--format", "github"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"::error file={spec},line=")
    assert f"title=gaussdiag side a under {DRIFT.replace(':', '%3A')}%3A mismatch" in out
    assert "(expected agree)" in out.splitlines()[0]


def test_switch_flags_add_checks_and_a_single_side_needs_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(ONE_SIDE.replace(f"switches: [{DRIFT}]\n", "").replace(
        "expect: mismatch\n", ""))
    assert main(["compare", str(spec)]) == 2
    assert "missing required key 'b'" in capsys.readouterr().err
    out = tmp_path / "r.json"
    assert main(["compare", str(spec), "--switch", "compile:aot_eager", "--switch",
                 f"compile:{planted.REORDERED_SUM}", "--json", str(out), "-q"]) == 0
    checks = json.loads(out.read_text())["specs"][0]["switches"]
    assert [(c["switch"], c["verdict"]) for c in checks] == [
        ("compile:aot_eager", "agree"), (f"compile:{planted.REORDERED_SUM}", "agree")]


def test_a_bad_switch_name_is_exit_2_without_importing_torch() -> None:
    r = no_torch(["compare", "configs/mvn_diag_fixed.yaml", "--switch", "autocast"])
    assert r.returncode == 2, r.stderr
    assert r.stderr == ("error: --switch: switch 'autocast': autocast needs its format: "
                        "autocast:bfloat16 or autocast:float16\n")
    bad = ROOT / "tests/specs/invalid/bad_switch.yaml"
    r = no_torch(["compare", str(bad)])
    assert r.returncode == 2 and "switches[1]: unknown switch 'compil'" in r.stderr


def _gd(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    return subprocess.run([sys.executable, "-m", "gaussdiag", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
def test_an_absent_switch_device_is_exit_2_at_its_key_or_skipped(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(ONE_SIDE.replace(f"[{DRIFT}]", "[compile:aot_eager, tf32]").replace(
        "expect: mismatch\n", ""))
    r = _gd("compare", str(spec))
    assert r.returncode == 2
    assert r.stderr.startswith(f"error: {spec}:12:31: switches[1]: switch tf32: device 'cuda' "
                               "requested but CUDA is not available"), r.stderr
    assert r.stderr.rstrip().endswith("run this check where the device is, or skip it with "
                                      "--skip-absent-devices")
    r = _gd("compare", "configs/mvn_diag_fixed.yaml", "--switch", "device:cuda")
    assert r.returncode == 2 and "switch device:cuda: " in r.stderr
    out = tmp_path / "r.json"
    r = _gd("compare", str(spec), "--skip-absent-devices", "--json", str(out))
    assert r.returncode == 0, r.stderr
    checks = json.loads(out.read_text())["specs"][0]["switches"]
    assert [(c["switch"], c["status"], c["ok"]) for c in checks] == [
        ("compile:aot_eager", "agree", True), ("tf32", "skipped", True)]
    assert "skipped: switch tf32: device 'cuda' requested" in r.stdout


PAIRS = '''
import torch
from torch.distributions import Independent, Normal

import gaussdiag


def side(mean, log_std):
    return Independent(Normal(mean, log_std.exp()), 1)


POINT = {"mean": torch.zeros(5), "log_std": torch.linspace(-0.3, 0.3, 5)}
alone = gaussdiag.Pair(side, params=POINT, inputs={"x": torch.ones(4, 5)},
                       expect="agree")
'''


def test_a_pairs_file_with_one_side_takes_the_switch_flag(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "pairs.py"
    path.write_text(PAIRS)
    assert main(["compare", str(path)]) == 2  # one side and no switch: nothing to check
    assert "one side alone is checked under a switch" in capsys.readouterr().err
    out = tmp_path / "r.json"
    assert main(["compare", str(path), "--switch", "compile:aot_eager", "--json",
                 str(out), "-q"]) == 0
    spec = json.loads(out.read_text())["specs"][0]
    assert spec["single"] and spec["switches"][0]["expect"] == "agree"


def test_precision_check_refuses_a_single_side_at_its_key(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(ONE_SIDE)
    r = no_torch(["precision-check", str(spec)])
    assert r.returncode == 2
    assert r.stderr == (f"error: {spec}:8:1: a: precision-check compares two sides, and this "
                        "spec writes side a alone: add side b, or check a's switches with "
                        "`gaussdiag compare`\n")


def test_repro_dir_on_the_command_line(tmp_path: Path) -> None:
    spec = tmp_path / "one.yaml"
    spec.write_text(ONE_SIDE)
    folder = tmp_path / "repro"
    out = tmp_path / "out.json"
    assert main(["compare", str(spec), "--repro-dir", str(folder), "--json", str(out),
                 "-q"]) == 0
    [check] = json.loads(out.read_text())["specs"][0]["switches"]
    assert Path(check["reproducer"]).parent == folder and Path(check["reproducer"]).is_file()


def test_repro_dir_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("")
    r = subprocess.run([sys.executable, "-m", "gaussdiag", "compare", "--demo",
                        "--repro-dir", str(taken)], capture_output=True, text=True,
                       cwd=ROOT, timeout=120, check=False)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == f"error: --repro-dir: {taken} exists and is not a folder"
    assert r.stdout == ""
