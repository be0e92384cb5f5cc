"""Loading specs (`spec.load`): the contract's example, golden messages for bad
specs, located errors, reading files, and no torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gaussdiag.errors import DeviceError, SpecError
from gaussdiag.frontends.yaml.spec import (
    MAX_FILE_BYTES,
    AffineTransform,
    ExprTensor,
    EyeInit,
    InitTensor,
    LoadedSpec,
    NormalInit,
    PowerTransform,
    SampleInput,
    UniformInit,
    ValuesTensor,
    format_path,
    load_spec,
    load_spec_text,
)
from gaussdiag.vocab import DType, Method, Mode, Optimizer, SideName, Verdict
from tests.frontends.yaml.spec.helpers import (
    BASE,
    EXAMPLE,
    INVALID,
    ROOT,
    SPECS,
    VALID,
    load_error,
    load_error_file,
)

# ---- the contract's example ----------------------------------------------------------------


def test_contract_example_loads_with_its_values() -> None:
    loaded = load_spec(SPECS / "valid" / "mvn_diag_vs_normal.yaml")
    spec = loaded.spec
    assert spec.version == 1
    assert spec.name == "mvn-diag-vs-normal"
    assert spec.description is not None and spec.description.startswith("MultivariateNormal")
    assert spec.seed == 0
    assert spec.dtypes == [DType.FLOAT32, DType.FLOAT64]
    assert spec.device == "cpu"
    assert spec.mode is Mode.LOG_PROB
    assert spec.expect is Verdict.PARAMETERIZATION
    assert spec.at == "x"

    mean, std = spec.params["mean"], spec.params["std"]
    assert isinstance(mean, InitTensor) and mean.shape == [10] and mean.init == "zeros"
    assert isinstance(std, InitTensor) and std.shape == [10]
    assert isinstance(std.init, UniformInit) and std.init.uniform == (0.5, 2.0)
    x = spec.inputs["x"]
    assert isinstance(x, SampleInput) and x.sample is SideName.B and x.sample_shape == [64]

    assert spec.a.dist == "MultivariateNormal"
    assert spec.a.args == {"loc": "mean", "covariance_matrix": "diag_embed(std)"}
    assert spec.a.event_dims is None
    assert spec.b.dist == "Normal" and spec.b.args == {"loc": "mean", "scale": "std"}
    assert spec.b.event_dims == 1
    assert spec.b.label == "Normal(mean, std) summed over the last dim"
    assert spec.at_for(SideName.A) == spec.at_for(SideName.B) == "x"

    # Lines of keys (1-based), for the errors of later stages.
    assert loaded.line_of(("params", "std")) == 10
    assert loaded.line_of(("b", "event_dims")) == 23
    assert loaded.line_of(("a", "args", "covariance_matrix")) == 18
    assert loaded.line_of(("a", "args", "no-such-arg")) == 18  # nearest ancestor
    assert loaded.line_of(("dtypes", 1)) == 5
    assert loaded.line_of(()) is None  # a key's line, not the mapping's


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_specs_load(path: Path) -> None:
    loaded = load_spec(path)
    assert loaded.file == str(path)
    assert loaded.spec.name


def test_valid_spec_values() -> None:
    rs = load_spec(SPECS / "valid" / "rsample_expr.yaml").spec
    assert rs.mode is Mode.RSAMPLE and rs.sample_shape == [16] and rs.a.method is Method.RSAMPLE
    assert rs.b.kind == "expr" and rs.expect is Verdict.AGREE
    log_std = rs.params["log_std"]
    assert isinstance(log_std, InitTensor) and isinstance(log_std.init, NormalInit)
    assert log_std.init.normal.std == 0.1
    assert isinstance(rs.params["std"], ExprTensor)

    tr = load_spec(SPECS / "valid" / "train_log_prob.yaml").spec
    assert tr.train_settings.steps == 20 and tr.train_settings.optimizer is Optimizer.SGD
    assert tr.train_settings.lr == 0.01 and tr.device == "auto" and tr.b.device == "cpu"
    assert tr.run_dtypes == [DType.FLOAT32, DType.FLOAT64]

    many = load_spec(SPECS / "valid" / "transforms_two_inputs.yaml").spec
    assert isinstance(many.params["loc"], ValuesTensor) and many.params["loc"].values == 0.5
    assert many.params["scale"].grad is False
    eye2 = many.params["eye2"]
    assert isinstance(eye2, InitTensor) and isinstance(eye2.init, EyeInit)
    assert many.a.transforms[0] == "sigmoid"
    affine, power = many.a.transforms[1], many.a.transforms[2]
    assert isinstance(affine, AffineTransform) and affine.affine.loc == "shift"
    assert affine.affine.scale == 2.0 and not isinstance(affine.affine.scale, str)
    assert isinstance(power, PowerTransform) and power.power == 1.0
    assert many.at_for(SideName.A) == "x" and many.at_for(SideName.B) == "y"


def test_name_defaults_to_file_stem() -> None:
    assert load_spec_text(BASE, "configs/my_spec.yaml").spec.name == "my_spec"
    assert load_spec_text("name: given\n" + BASE, "configs/my_spec.yaml").spec.name == "given"


def test_defaults() -> None:
    spec = load_spec_text(BASE, "t.yaml").spec
    assert spec.version == 1 and spec.seed == 0 and spec.device == "cpu"
    assert spec.dtypes == [DType.FLOAT32, DType.FLOAT64] and spec.mode is Mode.LOG_PROB
    assert spec.sample_shape == [] and spec.train is None and spec.expect is None
    assert spec.at_for(SideName.A) == "x"


# ---- golden messages -----------------------------------------------------------------------


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_spec_message(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = path.with_suffix(".expected").read_text(encoding="utf-8").rstrip("\n")
    monkeypatch.chdir(path.parent)
    with pytest.raises(SpecError) as info:
        load_spec(path.name)
    message = str(info.value)
    assert message == expected, f"{path.name}:\n  got:      {message}\n  expected: {expected}"
    assert message.splitlines() == [p.render() for p in info.value.problems]
    for problem in info.value.problems:
        assert "\n" not in problem.render() and problem.file == path.name
    for jargon in ("pydantic", "Input should", "errors.pydantic.dev", "InitTensor",
                   "function-after", "literal[", "Traceback", "Field required"):
        assert jargon not in message, f"{path.name}: {jargon!r} in {message!r}"


def test_golden_cases_are_complete() -> None:
    assert len(INVALID) >= 25
    for path in INVALID:
        assert path.with_suffix(".expected").is_file(), f"no .expected for {path.name}"
    expected = {p.stem for p in (SPECS / "invalid").glob("*.expected")}
    assert expected == {p.stem for p in INVALID}, "an .expected file without its .yaml"


def test_error_carries_file_key_and_line() -> None:
    err = load_error(BASE.replace("scale: 1.0}}\nb", "scale: 1.0}, evnt_dims: 1}\nb"),
                     "configs/x.yaml")
    assert (err.file, err.key, err.line) == ("configs/x.yaml", "a.evnt_dims", 5)
    assert err.message == "unknown key (did you mean 'event_dims'?)"
    assert str(err) == ("configs/x.yaml:5:50: a.evnt_dims: unknown key (did you mean "
                        "'event_dims'?)")


def test_located_errors_for_later_stages() -> None:
    loaded = load_spec_text(EXAMPLE, "configs/mvn.yaml")
    err = loaded.error(("a", "args", "covariance_matrix"), "not positive definite")
    assert str(err) == ("configs/mvn.yaml:18:21: a.args.covariance_matrix: not positive "
                        "definite")
    assert str(loaded.error("b.args.scale", "bad")).startswith("configs/mvn.yaml:22:")
    assert loaded.error("b.event_dims", "x").line == 23
    assert loaded.error((), "whole spec").render() == "configs/mvn.yaml:1:1: whole spec"

    many = load_spec(SPECS / "valid" / "transforms_two_inputs.yaml")
    for dotted in ("a.transforms[1].affine.loc", "a.transforms.1.affine.loc"):
        err = many.error(dotted, "m")
        assert (err.key, err.line) == ("a.transforms[1].affine.loc", 17)
    assert format_path(("a", "transforms", 0, "power")) == "a.transforms[0].power"


def test_loaded_spec_is_frozen() -> None:
    loaded = load_spec_text(BASE, "t.yaml")
    assert isinstance(loaded, LoadedSpec)
    with pytest.raises(AttributeError):
        loaded.file = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        loaded.lines[("a",)] = 1  # type: ignore[index]


# ---- files ---------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    err = load_error_file(tmp_path / "nope.yaml")
    assert str(err) == f"{tmp_path / 'nope.yaml'}: file not found"


def test_directory(tmp_path: Path) -> None:
    assert load_error_file(tmp_path).message == "is a directory, expected a YAML spec file"


def test_empty_and_comment_only_files(tmp_path: Path) -> None:
    for text in ("", "\n\n", "# only a comment\n", "---\n"):
        path = tmp_path / "e.yaml"
        path.write_text(text, encoding="utf-8")
        assert load_error_file(path).message.startswith("empty file: expected a mapping with "
                                                        "keys version, params, a, b")


@pytest.mark.parametrize("text", ["- 1\n", "just text\n", "42\n", "1.5", "null\n"])
def test_top_level_not_a_mapping(text: str) -> None:
    assert load_error(text).message.startswith("expected a mapping with keys version, params")


def test_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"params:\n  mean: {shape: [3]}\n# caf\xe9\n")
    err = load_error_file(path)
    assert err.line == 3 and "not UTF-8" in err.message
    utf16 = tmp_path / "utf16.yaml"
    utf16.write_bytes(BASE.encode("utf-16"))
    assert "not UTF-8" in load_error_file(utf16).message


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert load_spec(path).spec.name == "bom"


def test_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    assert "larger than the 1 MiB limit" in load_error_file(path).message
    assert "larger than the 1 MiB limit" in load_error("#" * (MAX_FILE_BYTES + 1)).message


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "locked.yaml"
    path.write_text(BASE, encoding="utf-8")
    path.chmod(0)
    assert "permission denied" in load_error_file(path).message


# ---- no torch ------------------------------------------------------------------------------


def test_loading_specs_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from gaussdiag.errors import SpecError\n"
        "from gaussdiag.frontends.yaml.spec import load_spec, load_spec_text\n"
        f"load_spec({str(SPECS / 'valid' / 'mvn_diag_vs_normal.yaml')!r})\n"
        f"for path in {[str(p) for p in INVALID]!r}:\n"
        "    try:\n"
        "        load_spec(path)\n"
        "    except SpecError:\n"
        "        pass\n"
        "loaded = sys.modules.keys()\n"
        "heavy = sorted(m for m in loaded if m.split('.')[0] == 'torch')\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")]
    assert "gaussdiag.frontends.yaml.spec" in imported
    assert not [m for m in imported if m.split(".")[0] == "torch"]


@pytest.mark.parametrize(("spec_device", "side_device", "override", "where"), [
    ("device: cuda\n", "", None, "t.yaml:1:1: device: "),
    ("", ", device: cuda:3", None, "t.yaml:5:50: a.device: "),
    ("device: cuda\n", ", device: cuda:3", "cpu", "t.yaml:6:50: a.device: "),
    ("device: cuda\n", "", "cuda", "t.yaml: "),  # the command line's device: no line
], ids=["spec", "side", "side-with-override", "command-line"])
def test_absent_device_names_the_device_key(spec_device: str, side_device: str,
                                            override: str | None, where: str) -> None:
    text = spec_device + BASE.replace("scale: 1.0}}\nb", "scale: 1.0}" + side_device + "}\nb")
    loaded = load_spec_text(text, "t.yaml")
    device = "cuda:3" if side_device else "cuda"
    absent = DeviceError(f"device '{device}' requested but CUDA is not available")
    err = loaded.device_error(absent, override)
    assert str(err) == f"{where}device '{device}' requested but CUDA is not available"


def test_cli_prints_one_error_line_per_problem(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from gaussdiag.cli import main

    path = tmp_path / "three.yaml"
    path.write_text(BASE.replace("mean: {shape: [3]}", "mean: {shape: [3], grad: yes}")
                    .replace("x: {shape: [3]}", "x: {shape: [-3]}")
                    .replace("a: {dist: Normal,", "a: {dist: Normal, evnt_dims: 1,"),
                    encoding="utf-8")
    assert main(["compare", str(path)]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert [line.split(": ")[2] for line in lines] == [
        "params.mean.grad", "inputs.x.shape[0]", "a.evnt_dims"]
    assert lines[0] == f"error: {path}:2:22: params.mean.grad: expected true or false, found 'yes'"
