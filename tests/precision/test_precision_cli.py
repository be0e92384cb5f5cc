"""`gaussdiag precision-check`: the command end to end, its errors and its imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gaussdiag.precision import (
    CellClass,
)
from gaussdiag.report.precision_json import FORMAT_VERSION

from .refs import (
    ILL,
    ROOT,
    TRIL,
    run_cli,
)


def test_cli_quick(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "--quick")
    assert code == 0, err
    for word in ("log_prob", "grad[loc]", "grad[scale]", "findings", "overflows"):
        assert word in out


def test_cli_point(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "--point", "loc=0,scale=0.01,x=10")
    assert code == 0, err
    assert "large-but-correct" in out and "not round-off" in out


def test_cli_json_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "--quick", "--param", "log", "--json", "-")
    assert code == 0, err
    data = json.loads(out)
    assert next(iter(data)) == "format_version" and data["format_version"] == FORMAT_VERSION == 2
    assert {"dtype", "param", "axes", "quantities", "findings"} <= set(data)
    assert data["dtype"] == "float32" and data["param"] == "log"
    grid = data["quantities"]["grad[log_scale]"]
    assert len(grid["digits"]) == len(data["axes"]["sigma"])
    assert len(grid["class"][0]) == len(data["axes"]["z"])
    assert {data["class_key"][c] for row in grid["class"] for c in row} <= {
        c.value for c in CellClass}


def test_cli_point_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "--point", "scale=0,x=1", "--json", "-")
    assert code == 0, err
    data = json.loads(out)
    assert {"point", "quantities", "advice"} <= set(data)
    q = data["quantities"][0]
    assert set(q) >= {"name", "value", "digits", "class"}
    assert q["class"] == "undefined" and q["value"]["float32"] == "nan"


def test_cli_json_file_and_mvn(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    code, out, err = run_cli(capsys, "--dist", "mvn", "--quick", "--json", str(target))
    assert code == 0, err
    assert "factorization failed" in out
    data = json.loads(target.read_text())
    assert data["axes"]["condition"][0] == 1.0
    classes = data["quantities"]["covariance_matrix"]["log_prob"]["class"]
    assert "factorization-failed" in [data["class_key"][c] for c in classes]
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temp file left behind


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(["--sigma-n", "-3"], "--sigma-n must be between", id="negative-grid"),
    pytest.param(["--z-n", "1"], "--z-n must be between", id="grid-of-one"),
    pytest.param(["--sigma-lo", "10", "--sigma-hi", "1"], "must be below", id="lo>=hi"),
    pytest.param(["--z-lo", "0"], "must be > 0", id="z-lo-zero"),
    pytest.param(["--dtype", "float64"], "the reference is float64", id="float64"),
    pytest.param(["--point", "scale=1"], "--point: x is missing (example: --point loc=0",
                 id="bad-point"),
    pytest.param(["--point", "rho=1,x=1"], "--point: rho= needs --param softplus (found "
                 "--param scale)", id="point-rho-without-softplus"),
    pytest.param(["--point", "scael=1,x=1"], "unknown key 'scael' (did you mean 'scale'?)",
                 id="point-typo"),
    pytest.param(["--z-lo", "0"], "--z-lo must be > 0 (the axis is log-spaced); found 0; z = 0 "
                 "is always included", id="z-lo-zero-worded"),
    pytest.param(["--dist", "mvn", "--cond-n", "1"], "--cond-n must be between 2 and 2000",
                 id="cond-n"),
    pytest.param(["--sigma-hi", "inf"], "--sigma-lo/--sigma-hi must be finite", id="inf"),
    pytest.param(["--dist", "mvn", "--dim", "0"], "--dim must be", id="dim-0"),
    pytest.param(["--json", "/nonexistent-dir/x.json", "--quick"], "does not exist",
                 id="json-folder-missing"),
    pytest.param(["--dist", "mvn", "--point", "scale=1,x=1"], "does not combine",
                 id="point-with-mvn"),
    pytest.param(["configs/mvn_diag_fixed.yaml", "--point", "scale=1,x=1"],
                 "--point shapes the built-in sweep", id="spec-with-point"),
    pytest.param(["--quick", "--threads", "2"], "--threads applies to SPEC files",
                 id="threads-without-spec"),
    pytest.param(["configs/mvn_diag_fixed.yaml", "--dist", "normal"],
                 "--dist shapes the built-in sweep", id="spec-with-dist"),
    pytest.param(["configs/mvn_diag_fixed.yaml", "--quick", "--sigma-n", "5"],
                 "leave out --sigma-n, --quick", id="spec-with-grid"),
    pytest.param(["--device", "cpu", "--quick"], "--device applies to SPEC files",
                 id="device-without-spec"),
    pytest.param(["configs/mvn_diag_fixed.yaml", "--dtype", "float64"],
                 "the reference is float64", id="spec-float64"),
    pytest.param(["configs/mvn_diag_fixed.yaml", "--device", "cuda:99"],
                 "configs/mvn_diag_fixed.yaml: device 'cuda:99' requested", id="absent-device"),
    pytest.param(["configs/no_such_spec.yaml"], "file not found", id="spec-missing"),
])
def test_cli_bad_options_exit_2(capsys: pytest.CaptureFixture[str], args: list[str],
                                message: str) -> None:
    code, out, err = run_cli(capsys, *args)
    assert code == 2, (args, out, err)
    assert message in err and err.count("\n") == 1


def test_cli_unknown_dtype_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "--dtype", "float8")
    assert code == 2, err


def test_cli_plot_without_matplotlib(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        code, _, err = run_cli(capsys, "--quick", "--plot", str(tmp_path / "m.png"))
        assert code == 2 and "install gaussdiag[plot]" in err
    else:
        code, _, err = run_cli(capsys, "--quick", "--plot", str(tmp_path / "m.png"))
        assert code == 0, err
        assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"


def test_help_does_not_import_torch() -> None:
    """`precision-check --help` answers without importing torch (or numpy)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c",
         "import sys; from gaussdiag.cli import main; "
         "sys.exit(main(['precision-check', '--help']))"],
        capture_output=True, text=True, env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "precision-check" in proc.stdout
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "torch" not in imported and "numpy" not in imported


def test_cli_spec_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, str(ILL))
    assert code == 0, err
    assert "precision_matrix=P" in out and "recommendation: use b" in out


def test_cli_spec_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, str(ILL), "--json", "-")
    assert code == 0, err
    top = json.loads(out)
    assert list(top) == ["format_version", "specs", "timed_out"]
    assert top["format_version"] == FORMAT_VERSION == 2 and top["timed_out"] == []
    (data,) = top["specs"]          # one spec: the same shape as several
    assert {"spec", "dtype", "sides", "better", "recommendation"} <= set(data)
    assert data["spec"] == str(ILL) and data["dtype"] == "float32"
    assert set(data["sides"]) == {"a", "b"}
    for side in data["sides"].values():
        assert {"label", "cost", "quantities"} <= set(side)
        assert set(side["cost"]) >= {"seconds", "memory_bytes", "memory_kind"}
        assert [q["name"] for q in side["quantities"]] == ["log_prob", "grad[loc]", "grad[P]"]
        for q in side["quantities"]:
            assert set(q) >= {"name", "digits", "class"}
            assert q["class"] in {c.value for c in CellClass}
    assert data["better"] == {"log_prob": "b", "grad[loc]": "b", "grad[P]": "b"}
    assert data["recommendation"]["side"] == "b" and data["recommendation"]["text"]


def test_cli_several_specs_json_has_the_shape_of_one(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    code, out, err = run_cli(capsys, str(ILL), str(TRIL), "--json", str(target))
    assert code == 0, err
    data = json.loads(target.read_text())
    assert data["format_version"] == FORMAT_VERSION == 2
    assert [d["spec"] for d in data["specs"]] == [str(ILL), str(TRIL)]
    assert "ill-conditioned-covariance" in out and "scale-tril-vs-covariance" in out


def test_cli_spec_error_exits_2_with_the_located_message(
        capsys: pytest.CaptureFixture[str]) -> None:
    bad = ROOT / "tests" / "specs" / "invalid" / "arg_list.yaml"
    expected = (bad.with_suffix(".expected")).read_text().strip()
    code, out, err = run_cli(capsys, str(ILL), str(bad))
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and "Traceback" not in err
    # the golden message names the file by its bare name; here it is the path given
    assert err.strip() == f"error: {bad.parent}/{expected}"
    assert out == ""        # nothing evaluated: every spec is read before any is run


def test_spec_error_does_not_import_torch(tmp_path: Path) -> None:
    bad = ROOT / "tests" / "specs" / "invalid" / "arg_list.yaml"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c",
         "import sys; from gaussdiag.cli import main; "
         f"sys.exit(main(['precision-check', {str(bad)!r}]))"],
        capture_output=True, text=True, env=env, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "torch" not in imported


def test_cli_spec_threads(capsys: pytest.CaptureFixture[str]) -> None:
    """precision-check SPEC runs on the threads asked for, and says so in the JSON."""
    code, out, err = run_cli(capsys, str(TRIL), "--threads", "2", "--json", "-")
    assert code == 0, err
    assert json.loads(out)["specs"][0]["threads"] == 2
    code, out, err = run_cli(capsys, str(TRIL), "--json", "-")
    assert json.loads(out)["specs"][0]["threads"] == 1  # a small spec: one thread
