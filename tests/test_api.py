"""The Python API: `from gaussdiag import diagnose`, for users' own tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import gaussdiag
from gaussdiag import GaussdiagError, SpecError, SpecReport, Verdict, diagnose

ROOT = Path(__file__).parent.parent
SMALL = """\
params:
  m: {shape: [3], init: zeros}
  s: {shape: [3], init: {uniform: [0.5, 2.0]}}
inputs:
  x: {shape: [5, 3], init: normal}
a: {dist: Normal, args: {loc: m, scale: s}}
b: {dist: Normal, args: {loc: m, scale: SCALE_B}}
"""


def spec(tmp_path: Path, scale_b: str = "s", name: str = "small.yaml") -> Path:
    path = tmp_path / name
    path.write_text(SMALL.replace("SCALE_B", scale_b))
    return path


def test_diagnose_returns_the_report_with_a_str_verdict() -> None:
    report = diagnose(ROOT / "configs/mvn_diag_vs_normal.yaml")
    assert isinstance(report, SpecReport)
    assert report.verdict == "parameterization"  # a str enum: users compare with strings
    assert report.verdict is Verdict.PARAMETERIZATION and report.ok
    assert report.cause is not None and report.cause.param == "std"


@pytest.mark.parametrize(("scale_b", "verdict"), [
    ("s", "agree"),
    ("s * s", "parameterization"),
    ("s + 1", "mismatch"),
], ids=["same", "square", "shifted"])
def test_verdicts_of_small_specs(tmp_path: Path, scale_b: str, verdict: str) -> None:
    report = diagnose(str(spec(tmp_path, scale_b)))
    assert report.verdict == verdict, (scale_b, report.explanation)


def test_round_off_compares_equal_to_its_string() -> None:
    verdict: Verdict | None = Verdict.ROUND_OFF  # typed as SpecReport.verdict is
    assert verdict == "round-off" and Verdict("round-off") is Verdict.ROUND_OFF
    config = next((p for p in sorted((ROOT / "configs").glob("*.yaml"))
                   if "\nexpect: round-off" in p.read_text() and "mode: train" not in
                   p.read_text()), None)
    if config is None:
        pytest.skip("no log_prob config expects round-off")
    report = diagnose(config)
    assert report.verdict == "round-off" and report.ok, config.name


def test_a_spec_that_cannot_be_read_raises_a_located_spec_error(tmp_path: Path) -> None:
    bad = spec(tmp_path, "s.grad")
    with pytest.raises(SpecError) as info:
        diagnose(bad)
    assert info.value.file == str(bad) and info.value.line == 7
    assert "attribute 'grad' is not allowed" in info.value.message
    assert isinstance(info.value, GaussdiagError)


def test_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(GaussdiagError, match="file not found"):
        diagnose(tmp_path / "nope.yaml")


def test_an_error_found_while_building_raises(tmp_path: Path) -> None:
    path = spec(tmp_path, "s").with_name("shapes.yaml")
    path.write_text(SMALL.replace("b: {dist: Normal, args: {loc: m, scale: SCALE_B}}",
                                  "b: {dist: MultivariateNormal, "
                                  "args: {loc: m, scale_tril: diag_embed(s)}}"))
    with pytest.raises(GaussdiagError, match="add `event_dims: 1` to a"):
        diagnose(path)


def test_max_elements_is_enforced(tmp_path: Path) -> None:
    path = spec(tmp_path)
    with pytest.raises(SpecError, match="more than the limit of 10"):
        diagnose(path, max_elements=10)
    assert diagnose(path, max_elements=15).verdict == "agree"
    with pytest.raises(GaussdiagError, match="max_elements must be a positive integer"):
        diagnose(path, max_elements=0)


@pytest.mark.skipif("__import__('torch').cuda.is_available()")
def test_an_absent_device_raises(tmp_path: Path) -> None:
    with pytest.raises(GaussdiagError, match="CUDA is not available"):
        diagnose(spec(tmp_path), device="cuda")


def test_import_gaussdiag_is_light() -> None:
    code = ("import sys, gaussdiag; from gaussdiag import diagnose, Verdict; "
            "heavy = [m for m in ('torch', 'pydantic', 'rich', 'yaml') if m in sys.modules]; "
            "sys.exit(str(heavy) if heavy else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_public_names() -> None:
    assert set(gaussdiag.__all__) == {"GaussdiagError", "SpecError", "SpecReport", "Verdict",
                                      "__version__", "diagnose", "compare", "sample", "Pair",
                                      "Report"}
    for name in gaussdiag.__all__:
        assert getattr(gaussdiag, name) is not None
