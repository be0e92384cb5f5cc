"""What users see from `compare --format`, `schema` and `init`: every output format, the
GitHub annotations and their escaping, Ctrl-C keeping finished reports, colour and narrow
terminals, and that the new commands answer without torch."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from gaussdiag import report as rp
from gaussdiag.cli import main
from gaussdiag.results import Cause, Located, RunReport, SpecReport
from gaussdiag.vocab import OutputFormat, SideName, Verdict

ROOT = Path(__file__).parents[2]
MVN = "configs/mvn_diag_vs_normal.yaml"  # parameterization, expected
FIXED = "configs/mvn_diag_fixed.yaml"  # agree, expected


def gd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    full.update({"COLUMNS": "100", **(env or {})})
    return subprocess.run([sys.executable, "-m", "gaussdiag", *args], capture_output=True,
                          text=True, cwd=ROOT, env=full, timeout=300)


def no_torch(args: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run main(args) in a fresh interpreter; exit 10 if it imported torch."""
    code = (f"import sys; from gaussdiag.cli import main; rc = main({args!r}); "
            "sys.exit(10 if 'torch' in sys.modules else rc)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=cwd, env=env)


# ---- renderers as pure functions of constructed results ------------------------------------

PARAM = SpecReport(
    file="specs/param.yaml", name="param", verdict=Verdict.PARAMETERIZATION, expect=None,
    ok=False, explanation="side a treats `std` as a variance | not <a> std",
    fix="pass `diag_embed(std ** 2)`", cause=Cause(SideName.A, "std", "square"), line=7)
AGREE = SpecReport(file="specs/agree.yaml", name="agree", verdict=Verdict.AGREE,
                   expect=Verdict.AGREE, ok=True, explanation="every difference is within tol",
                   line=3)
ERROR = SpecReport(file="specs/bad.yaml", name="", verdict=None, expect=None, ok=False,
                   error="specs/bad.yaml:4: a.dist: unknown distribution 'Normall' "
                         "(did you mean 'Normal'?)",
                   error_at=(Located("specs/bad.yaml", 4, "a.dist", "unknown distribution "
                                     "'Normall' (did you mean 'Normal'?)"),))
SKIPPED = SpecReport(file="specs/gpu.yaml", name="gpu", verdict=None, expect=None, ok=True,
                     skipped="CUDA is not available")
RUN = RunReport((PARAM, AGREE, ERROR, SKIPPED), torch_version="2.x", device="cpu")


@pytest.mark.parametrize("fmt", list(OutputFormat), ids=lambda f: f.value)
def test_every_format_renders_every_kind_of_report(fmt: OutputFormat) -> None:
    view = rp.render(RUN, fmt)
    if fmt is OutputFormat.TABLE:
        assert not isinstance(view, str)
        out = io.StringIO()
        Console(file=out, width=80, color_system=None).print(view)
        text = out.getvalue()
    else:
        assert isinstance(view, str) and view.endswith("\n")
        text = view
    assert "\x1b[" not in text
    # github annotates only the specs that are not ok
    shown = [s for s in RUN.specs if fmt is not OutputFormat.GITHUB or not s.ok]
    for s in shown:
        assert s.file in text.replace("\\", ""), (fmt, s.file)


def test_json_format_is_the_json_report() -> None:
    text = rp.render(RUN, OutputFormat.JSON)
    assert isinstance(text, str)
    assert json.loads(text) == rp.to_json(RUN)


def test_to_json_without_timings_drops_only_the_measurements() -> None:
    full = rp.to_json(RUN)
    bare = rp.to_json(RUN, timings=False)
    for a, b in zip(full["specs"], bare["specs"], strict=True):
        assert set(a) - set(b) == {"costs"}
        assert {k: v for k, v in a.items() if k != "costs"} == b


def test_markdown_has_a_summary_table_and_one_section_per_spec() -> None:
    md = rp.render_markdown(RUN)
    assert md.startswith("## gaussdiag: 2 of 4 specs not ok\n")
    assert "**cause:** side a, `std` needs `square`" in md
    rows = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert rows[0] == "| spec | file | verdict | expected | ok |"
    assert rows[2:] == [
        "| param | specs/param.yaml | parameterization | - | **NOT ok** |",
        "| agree | specs/agree.yaml | agree | agree | ok |",
        "| specs/bad.yaml | specs/bad.yaml | error | - | **NOT ok** |",
        "| gpu | specs/gpu.yaml | skipped | - | ok |",
    ]
    assert "### param: parameterization" in md
    # code spans are kept; a bare `|` or `<tag>` outside them cannot break the page
    assert "side a treats `std` as a variance \\| not &lt;a&gt; std" in md
    assert "**fix:** pass `diag_embed(std ** 2)`" in md
    assert "**error:** specs/bad.yaml:4: a.dist: unknown distribution" in md
    assert "**skipped:** CUDA is not available" in md


def test_markdown_table_cells_escape_markup() -> None:
    odd = SpecReport(file="a|b_c.yaml", name="*x*|<y>", verdict=Verdict.AGREE, expect=None,
                     ok=True)
    md = rp.render_markdown(RunReport((odd,)))
    assert "| \\*x\\*\\|\\<y\\> | a\\|b\\_c.yaml | agree | - | ok |" in md


def test_github_annotations_only_where_to_look() -> None:
    lines = rp.render_github(RUN).splitlines()
    assert lines == [
        "::error file=specs/param.yaml,line=7,title=gaussdiag parameterization::side a treats "
        "`std` as a variance | not <a> std -- pass `diag_embed(std ** 2)`",
        "::error file=specs/bad.yaml,line=4::a.dist: unknown distribution 'Normall' "
        "(did you mean 'Normal'?)",
    ]
    assert "::notice" not in rp.render_github(RunReport((AGREE, SKIPPED)))


def test_github_warns_about_other_problems_of_a_spec_that_is_not_ok() -> None:
    from gaussdiag.results import OtherProblem

    odd = replace(PARAM, problems=(OtherProblem(Verdict.NON_FINITE, "grad[std] is inf"),))
    lines = rp.render_github(RunReport((odd,))).splitlines()
    assert lines[1] == ("::warning file=specs/param.yaml,line=7,title=gaussdiag also "
                        "non-finite::grad[std] is inf")


def test_github_escapes_data_and_properties() -> None:
    odd = SpecReport(file="we,ird:name%.yaml", name="x", verdict=Verdict.MISMATCH,
                     expect=Verdict.AGREE, ok=False, explanation="50% off\nsecond line",
                     line=2)
    (line,) = rp.render_github(RunReport((odd,))).splitlines()
    assert line == ("::error file=we%2Cird%3Aname%25.yaml,line=2,title=gaussdiag mismatch::"
                    "50%25 off%0Asecond line (expected agree)")


def test_github_places_each_located_problem_without_reading_the_message() -> None:
    # the rendered `error` says nothing about the place: the annotation comes from `error_at`
    report = SpecReport(file="C:/x:1.yaml", name="", verdict=None, expect=None, ok=False,
                        error="(rendered elsewhere)",
                        error_at=(Located("C:/x:1.yaml", 3, "params", "bad"),
                                  Located("C:/x:1.yaml", None, None, "file-wide")))
    assert rp.render_github(RunReport((report,))).splitlines() == [
        "::error file=C%3A/x%3A1.yaml,line=3::params: bad",
        "::error file=C%3A/x%3A1.yaml::file-wide"]


def test_spec_errors_carry_their_location(tmp_path: Path) -> None:
    from gaussdiag.frontends.yaml.run import diagnose_file
    from gaussdiag.pipeline import Options

    bad = tmp_path / "bad.yaml"
    bad.write_text("params: {x: {shape: [2]}}\ninputs: {y: {shape: [2]}}\n"
                   "a: {dist: Normall, args: {loc: x}}\nb: {dist: Normal, args: {loc: x}}\n")
    (at,) = diagnose_file(str(bad), Options()).error_at
    assert (at.file, at.line, at.key) == (str(bad), 3, "a.dist")
    assert at.message.startswith("unknown distribution 'Normall'")
    (missing,) = diagnose_file(str(tmp_path / "none.yaml"), Options()).error_at
    assert missing.line is None and "not found" in missing.message


# ---- compare --format end to end -------------------------------------------------------


@pytest.mark.parametrize("fmt", list(OutputFormat), ids=lambda f: f.value)
def test_compare_prints_every_format(fmt: OutputFormat,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", FIXED, "--format", fmt.value]) == 0
    out = capsys.readouterr().out
    assert "mvn-diag-fixed" in out or "mvn_diag_fixed" in out


def test_format_json_prints_what_json_file_writes(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "r.json"
    args = ["compare", FIXED, "--no-timings", "--format", "json", "--json", str(target)]
    assert main(args) == 0
    assert capsys.readouterr().out == target.read_text()
    assert json.loads(target.read_text())["specs"][0]["verdict"] == "agree"


def test_github_format_points_at_the_expect_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / MVN).read_text().replace("expect: parameterization", "expect: agree")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(text)
    expect_line = text.splitlines().index("expect: agree") + 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("params: {x: {shape: [2]}}\ninputs: {y: {shape: [2]}}\n"
                   "a: {dist: Normall, args: {loc: x}}\nb: {dist: Normal, args: {loc: x}}\n")
    assert main(["compare", MVN, str(wrong), str(bad), "--format", "github"]) == 2
    captured = capsys.readouterr()
    lines = [ln for ln in captured.out.splitlines() if ln.startswith("::")]
    assert len(lines) == 2  # the spec that is ok says nothing
    assert lines[0].startswith(f"::error file={wrong},line={expect_line},"
                               "title=gaussdiag parameterization::side a treats `std`")
    assert lines[0].endswith("(expected agree)") and " -- " in lines[0]
    # `dist` starts in column 5 of `a: {dist: Normall, ...}`
    assert lines[1].startswith(f"::error file={bad},line=3,col=5::a.dist: unknown distribution")
    assert "summary" in captured.out  # the report follows the annotations in the log
    assert captured.err.count("error:") == 1


def test_github_format_has_one_error_per_problem_of_a_spec(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("params: {x: {shape: [2]}}\ninputs: {y: {shape: [2]}}\n"
                   "a: {dist: Normall, args: {loc: x}}\nb: {dist: Nromal, args: {loc: x}}\n")
    assert main(["compare", str(bad), "--format", "github"]) == 2
    captured = capsys.readouterr()
    lines = [ln for ln in captured.out.splitlines() if ln.startswith("::")]
    # both `dist` keys start in column 5, of lines 3 and 4; each problem is its own line
    assert [ln.split("::")[1] for ln in lines] == [f"error file={bad},line=3,col=5",
                                                  f"error file={bad},line=4,col=5"], lines
    assert "'Normall'" in lines[0] and "'Nromal'" in lines[1]
    errors = [ln for ln in captured.err.splitlines() if ln.startswith("error: ")]
    assert errors == [f"error: {bad}:3:5: a.dist: unknown distribution 'Normall' (did you "
                      "mean 'Normal'?)",
                      f"error: {bad}:4:5: b.dist: unknown distribution 'Nromal' (did you "
                      "mean 'Normal'?)"], captured.err


def test_github_format_without_expect_uses_the_line_of_a(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("params:\n  m: {shape: [3]}\n  s: {shape: [3], init: ones}\ninputs:\n"
                    "  x: {shape: [3], init: normal}\n\na: {dist: Normal, args: {loc: m, "
                    "scale: s}}\nb: {dist: Normal, args: {loc: m + 1, scale: s}}\n")
    assert main(["compare", str(spec), "--format", "github"]) == 1  # sides differ: not ok
    assert capsys.readouterr().out.startswith(
        f"::error file={spec},line=7,title=gaussdiag ")


def test_json_dash_with_a_text_format_is_a_usage_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", FIXED, "--json", "-", "--format", "markdown"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --json - and --format markdown") and err.count("\n") == 1


def test_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", FIXED, "--format", "xml"]) == 2
    err = capsys.readouterr().err
    assert "'xml' is not one of" in err and "Traceback" not in err


# ---- Ctrl-C ----------------------------------------------------------------------------


def test_ctrl_c_keeps_the_reports_that_finished(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import gaussdiag.frontends.yaml.run as pipeline

    real = pipeline.diagnose_file
    calls: list[str] = []

    def second_is_interrupted(path: str, *args: object, **kwargs: object) -> SpecReport:
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "diagnose_file", second_is_interrupted)
    target = tmp_path / "r.json"
    third = "configs/sample_vs_rsample.yaml"
    assert main(["compare", FIXED, MVN, third, "--json", str(target)]) == 130
    assert calls == [FIXED, MVN]  # the third never started
    captured = capsys.readouterr()
    assert "mvn-diag-fixed" in captured.out and "verdict: agree" in captured.out
    assert captured.err.strip().splitlines()[-1] == "interrupted"
    assert "not run" in captured.out and "summary (interrupted)" in captured.out
    data = json.loads(target.read_text())
    assert data["ok"] is False and data["interrupted"] is True
    assert [(s["file"], s["status"], s["interrupted"], s["not_run"])
            for s in data["specs"]] == [(FIXED, "agree", False, False),
                                        (MVN, "interrupted", True, False),
                                        (third, "not run", False, True)]


def test_ctrl_c_on_the_first_spec_still_exits_130(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import gaussdiag.frontends.yaml.run as pipeline

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "diagnose_file", interrupt)
    assert main(["compare", FIXED, "--format", "github"]) == 130
    out = capsys.readouterr().out
    assert out.startswith(f"::warning file={FIXED},")
    assert ",title=gaussdiag interrupted::interrupted with Ctrl-C" in out


# ---- terminal: version, colour, narrow widths ---------------------------------------------


def test_version_matches_the_package_metadata() -> None:
    """One version: pyproject reads gaussdiag/_version.py, and `--version` prints it."""
    from importlib.metadata import version

    assert re.search(r'^dynamic = \["version"\]$', (ROOT / "pyproject.toml").read_text(), re.M)
    found = re.search(r'^__version__ = "([^"]+)"$',
                      (ROOT / "gaussdiag" / "_version.py").read_text(), re.M)
    assert found is not None
    meta = found.group(1)
    assert version("gaussdiag") == meta
    r = gd("--version")
    assert r.returncode == 0 and r.stdout == f"gaussdiag {meta}\n"


@pytest.mark.parametrize(("env", "ansi"), [
    ({"NO_COLOR": "1"}, False),
    ({"FORCE_COLOR": "1"}, True),
    ({}, False),  # not a terminal and no variable: plain
], ids=["NO_COLOR", "FORCE_COLOR", "pipe"])
def test_colour_follows_the_environment(env: dict[str, str], ansi: bool,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["compare", FIXED]) == 0
    assert ("\x1b[" in capsys.readouterr().out) is ansi
    for fmt in ("markdown", "github", "json"):  # text formats never carry colour
        assert main(["compare", FIXED, "--format", fmt]) == 0
        assert "\x1b[" not in capsys.readouterr().out


TRAIN = """\
mode: train
train: {steps: 20, optimizer: sgd, lr: 0.01}
params:
  mean: {shape: [4], init: zeros}
  var: {shape: [4], init: {full: 2.0}}
inputs:
  x: {shape: [32, 4], init: normal}
a: {dist: Normal, args: {loc: mean, scale: sqrt(var)}, event_dims: 1}
b: {log_prob: "sum(-0.5 * (x - mean)**2 / var - 0.5 * log(var) - 0.9189385332046727, dim=-1)"}
"""


@pytest.mark.parametrize("columns", ["60", "20"])
def test_narrow_terminal_does_not_crash(columns: str, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setenv("NO_COLOR", "1")
    train = tmp_path / "train.yaml"  # a small train run: the trajectory table too
    train.write_text(TRAIN)
    assert main(["compare", FIXED, str(train)]) == 0
    out = capsys.readouterr().out
    assert "summary" in out and max(len(ln) for ln in out.splitlines()) <= int(columns)
    for args in (["--help"], ["compare", "--help"], ["precision-check", "--help"]):
        assert main(args) == 0, args
        # plain help wraps to the terminal, but never narrower than click's 50 columns
        widest = max(len(ln) for ln in capsys.readouterr().out.splitlines())
        assert widest <= max(int(columns), 50), (args, widest)
    r = gd("compare", FIXED, env={"COLUMNS": columns, "NO_COLOR": "1"})
    assert r.returncode == 0 and "Traceback" not in r.stderr


# ---- schema ------------------------------------------------------------------------------


def test_schema_is_a_json_schema_of_the_spec() -> None:
    r = no_torch(["schema"])
    assert r.returncode == 0, r.stderr
    schema = json.loads(r.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "gaussdiag spec, version 1"
    # side b may be left out when a switch is named (the loader says so; a schema cannot)
    assert set(schema["required"]) == {"params", "a"}
    assert schema["properties"]["switches"]["type"] == "array"
    assert schema["properties"]["expect"]["anyOf"][0]["$ref"] == "#/$defs/Verdict"
    assert schema["$defs"]["Verdict"]["enum"] == [v.value for v in Verdict]
    assert schema["additionalProperties"] is False


def test_schema_accepts_the_configs_and_refuses_a_typo() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    from gaussdiag.frontends.yaml.spec.schema import spec_schema

    validator = jsonschema.Draft202012Validator(spec_schema())
    jsonschema.Draft202012Validator.check_schema(spec_schema())
    # configs/ write floats as 0.5 or 1.0e-3, which YAML 1.1 (yaml.safe_load) and the loader's
    # YAML 1.2 read alike
    for path in [*sorted((ROOT / "configs").glob("*.yaml")),
                 ROOT / "gaussdiag/data/starter.yaml"]:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert not errors, (path.name, errors)
    typo = yaml.safe_load((ROOT / MVN).read_text())
    typo["expcet"] = typo.pop("expect")
    assert not validator.is_valid(typo)


# ---- init --------------------------------------------------------------------------------


def test_init_writes_a_starter_that_runs(tmp_path: Path) -> None:
    r = no_torch(["init", "my_spec"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    target = tmp_path / "my_spec.yaml"
    assert "name: my_spec" in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["my_spec.yaml"]  # no temporary left
    assert main(["compare", str(target)]) == 0


def test_init_keeps_a_suffix_and_quotes_odd_names(tmp_path: Path) -> None:
    from gaussdiag.frontends.yaml.spec import load_spec

    for name, spec_name in (("a.yml", "a"), ("123.yaml", "123"), ("true", "true"),
                            ("two words.yaml", "two words")):
        assert main(["init", str(tmp_path / name)]) == 0
        written = tmp_path / (name if "." in name else f"{name}.yaml")
        assert load_spec(written).spec.name == spec_name


def test_init_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "mine.yaml"
    target.write_text("precious\n")
    r = no_torch(["init", str(tmp_path / "mine")])
    assert r.returncode == 2
    assert r.stderr == f"error: {target} already exists: choose another name or remove it " \
                       "first\n"
    assert target.read_text() == "precious\n"
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    assert main(["init", str(folder)]) == 2  # a directory is never replaced either
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["", ".", "no/such/folder/x.yaml"])
def test_init_bad_targets_are_usage_errors(name: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init", name]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_init_dash_prints_the_starter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "-"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^name: starter$", out, re.M)
    assert out == (ROOT / "gaussdiag/data/starter.yaml").read_text()
