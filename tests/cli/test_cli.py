"""The command line end to end: exit codes, JSON contract, errors without tracebacks, and
that --help and spec errors never import torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gaussdiag.cli import main

ROOT = Path(__file__).parents[2]


def gd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100", **(env or {})}
    return subprocess.run([sys.executable, "-m", "gaussdiag", *args], capture_output=True,
                          text=True, cwd=ROOT, env=full, timeout=300)


def test_default_job_runs_the_demo_on_a_terminal_and_says_so(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import gaussdiag.cli.compare as compare

    monkeypatch.setattr(compare, "interactive", lambda: True)
    assert main(["compare"]) == 0
    captured = capsys.readouterr()
    assert "parameterization" in captured.out and "diag_embed(std ** 2)" in captured.out
    assert "running the built-in demo" in captured.err


@pytest.mark.parametrize("env", [{"CI": "true"}, {}], ids=["CI", "pipe"])
def test_empty_spec_list_outside_a_terminal_is_exit_2(env: dict[str, str]) -> None:
    r = gd("compare", env=env)  # stdin and stdout are pipes here
    assert r.returncode == 2
    assert r.stderr.startswith("error: no spec files given") and r.stderr.count("\n") == 1
    assert r.stdout == ""


def test_demo_flag_runs_the_demo_outside_a_terminal_too() -> None:
    r = gd("compare", "--demo", env={"CI": "true", "NO_COLOR": "1"})
    assert r.returncode == 0, r.stderr
    assert "parameterization" in r.stdout and "diag_embed(std ** 2)" in r.stdout
    assert "running the built-in demo" in r.stderr
    # the demo was asked for: nothing is missing, so nothing says so
    assert "no spec files given" not in r.stderr, r.stderr


def test_demo_flag_with_spec_files_is_a_usage_error() -> None:
    r = gd("compare", "--demo", "configs/mvn_diag_fixed.yaml")
    assert r.returncode == 2 and r.stderr.startswith("error: --demo runs the built-in demo")


def test_folders_are_searched_recursively_in_sorted_order(tmp_path: Path) -> None:
    fixed = (ROOT / "configs/mvn_diag_fixed.yaml").read_text()
    for rel in ("b/z.yml", "a/deep/y.yaml", "a/x.yaml", "a/notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(fixed)
    # a pairs file is code: only a file named on the command line is imported, never one
    # found in a folder (importing it would create the marker)
    marker = tmp_path / "imported"
    (tmp_path / "a" / "pairs.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    out = tmp_path / "r.json"
    assert main(["compare", str(tmp_path), "--json", str(out)]) == 0
    files = [s["file"] for s in json.loads(out.read_text())["specs"]]
    assert files == [str(tmp_path / r) for r in ("a/deep/y.yaml", "a/x.yaml", "b/z.yml")]
    assert not marker.exists()
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(tmp_path / "empty")]) == 2


def test_dash_reads_one_spec_from_stdin() -> None:
    text = (ROOT / "configs/mvn_diag_fixed.yaml").read_text()
    r = subprocess.run([sys.executable, "-m", "gaussdiag", "compare", "-", "--json", "-"],
                       input=text, capture_output=True, text=True, cwd=ROOT, timeout=300,
                       env={**os.environ, "NO_COLOR": "1"})
    assert r.returncode == 0, r.stderr
    (spec,) = json.loads(r.stdout)["specs"]
    assert (spec["file"], spec["verdict"]) == ("<stdin>", "agree")


def test_json_report_has_the_contract_keys(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    assert main(["compare", "configs/mvn_diag_vs_normal.yaml", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["ok"] is True
    (spec,) = data["specs"]
    assert set(spec) >= {"file", "name", "verdict", "expect", "ok", "explanation", "fix",
                         "cause", "quantities", "error"}
    assert spec["verdict"] == "parameterization"
    first = {k: spec["cause"][k] for k in ("side", "on", "param", "transform")}
    assert first == {"side": "a", "on": "param", "param": "std", "transform": "square"}
    # both fixes: the inverse on the other side explains as well
    assert [(c["side"], c["param"], c["transform"]) for c in spec["also"]] == [
        ("b", "std", "sqrt")]
    names = [q["name"] for q in spec["quantities"]]
    assert names == ["log_prob", "grad[mean]", "grad[std]"]
    for q in spec["quantities"]:
        assert set(q["diff"]) == {"float32", "float64"} and q["verdict"] == "parameterization"


def test_json_to_stdout_is_only_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "configs/mvn_diag_fixed.yaml", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["specs"][0]["verdict"] == "agree"


def test_unexpected_verdict_exits_1(tmp_path: Path) -> None:
    text = (ROOT / "configs/mvn_diag_vs_normal.yaml").read_text().replace(
        "expect: parameterization", "expect: agree")
    spec = tmp_path / "wrong.yaml"
    spec.write_text(text)
    assert main(["compare", str(spec)]) == 1


def test_bad_spec_among_good_ones_exits_2_and_others_still_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nparams: {x: {shape: [2], init: zeros}}\na: {dist: Normall}\n")
    r = gd("compare", str(bad), "configs/mvn_diag_fixed.yaml", "--json", "-")
    assert r.returncode == 2
    data = json.loads(r.stdout)
    verdicts = {Path(s["file"]).name: s["verdict"] for s in data["specs"]}
    assert verdicts == {"bad.yaml": None, "mvn_diag_fixed.yaml": "agree"}
    assert "bad.yaml:" in r.stderr and "Traceback" not in r.stderr


def test_missing_file_is_exit_2_with_one_line() -> None:
    r = gd("compare", "no/such/spec.yaml")
    assert r.returncode == 2
    assert "no/such/spec.yaml" in r.stdout + r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.skipif("__import__('torch').cuda.is_available()")
def test_absent_device_is_exit_2() -> None:
    r = gd("compare", "configs/mvn_diag_fixed.yaml", "--device", "cuda")
    assert r.returncode == 2
    assert "CUDA is not available" in r.stdout + r.stderr


@pytest.mark.skipif("__import__('torch').cuda.is_available()")
def test_pinned_absent_device_can_be_skipped(tmp_path: Path) -> None:
    text = (ROOT / "configs/mvn_diag_fixed.yaml").read_text().replace(
        "  dist: MultivariateNormal\n", "  dist: MultivariateNormal\n  device: cuda\n")
    spec = tmp_path / "pinned.yaml"
    spec.write_text(text)
    assert main(["compare", str(spec)]) == 2
    assert main(["compare", str(spec), "--skip-absent-devices"]) == 0


def test_unknown_option_is_a_usage_error() -> None:
    r = gd("compare", "--no-such-flag")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


def test_internal_error_is_exit_3_without_traceback(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import gaussdiag.frontends.yaml.run as pipeline

    def boom(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(pipeline, "diagnose", boom)
    fixed = "configs/mvn_diag_fixed.yaml"
    assert main(["compare", fixed]) == 3
    err = capsys.readouterr().err
    assert "internal error" in err and "planted" in err and "Traceback" not in err
    assert main(["compare", fixed, "--debug"]) == 3
    assert "Traceback" in capsys.readouterr().err


def test_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    import gaussdiag.frontends.yaml.run as pipeline

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "diagnose", interrupt)
    assert main(["compare", "configs/mvn_diag_fixed.yaml"]) == 130


@pytest.mark.parametrize("args", [["--help"], ["compare", "--help"], ["--version"]])
def test_help_and_version_do_not_import_torch(args: list[str]) -> None:
    code = ("import sys; from gaussdiag.cli import main; "
            f"rc = main({args!r}); sys.exit(10 if 'torch' in sys.modules else rc)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_spec_error_does_not_import_torch(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 2\n")
    code = ("import sys; from gaussdiag.cli import main; "
            f"rc = main(['compare', {str(bad)!r}]); "
            "sys.exit(10 if 'torch' in sys.modules else rc)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "version" in r.stderr


def test_importtime_shows_no_torch_for_help() -> None:
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", "import gaussdiag.cli"],
                       capture_output=True, text=True, cwd=ROOT)
    assert not [ln for ln in r.stderr.splitlines() if ln.rstrip().endswith("| torch")]


def test_no_color_output_is_plain() -> None:
    r = gd("compare", "configs/mvn_diag_fixed.yaml")
    assert "\x1b[" not in r.stdout
