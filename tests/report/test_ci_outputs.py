"""What a CI log and a CI gate see: the report's JSON Schema against real reports, the step
summary, golden plain text at 60 and 100 columns without trailing spaces, verdicts never
cut, code spans never broken, no spinner frames in stdout, the pre-commit hook."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from gaussdiag import report as rp
from gaussdiag.cli import main
from gaussdiag.cli.console import print_report
from gaussdiag.report.json_schema import report_schema
from gaussdiag.report.prose import wrap
from gaussdiag.results import Cause, Located, Quantity, RunReport, SpecReport
from gaussdiag.vocab import DType, SideName, Verdict

ROOT = Path(__file__).parents[2]
GOLDEN = Path(__file__).parent / "golden"
FIXED = "configs/mvn_diag_fixed.yaml"
NOT_PD = "configs/covariance_not_pd.yaml"


def _validator() -> object:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(report_schema())
    return jsonschema.Draft202012Validator(report_schema())


def test_real_reports_validate_against_the_report_schema(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    validator = _validator()
    bad = tmp_path / "bad.yaml"
    bad.write_text("params: {x: {shape: [2]}}\na: {dist: Normall, args: {loc: x}}\n"
                   "b: {dist: Normal, args: {loc: x}}\n")
    for flags in ([], ["--no-timings"]):
        out = tmp_path / "r.json"
        main(["compare", FIXED, NOT_PD, str(bad), "--json", str(out), *flags])
        data = json.loads(out.read_text())
        assert data["format_version"] == 1
        errors = [e.message for e in validator.iter_errors(data)]  # type: ignore[attr-defined]
        assert not errors, errors
    # and a report with the keys a broken one would lack is refused
    del data["specs"][0]["status"]
    assert not validator.is_valid(data)  # type: ignore[attr-defined]


def test_schema_report_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--report"]) == 0
    assert json.loads(capsys.readouterr().out) == report_schema()


def test_step_summary_is_appended_with_the_numbers(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["compare", "configs/mvn_diag_vs_normal.yaml", "--format", "github"]) == 0
    text = summary.read_text()
    assert text.startswith("earlier step\n## gaussdiag: ok\n")
    assert "**verdict:** parameterization" in text and "**fix:**" in text
    assert re.search(r"\*\*worst diff:\*\* .*: float32 \S+ · float64 \S+ · shrink ", text)
    assert "**cause:** side " in text
    assert "::" not in capsys.readouterr().out  # the spec is ok: no annotation


# ---- golden plain text ---------------------------------------------------------------------

Q = (Quantity("log_prob", Verdict.PARAMETERIZATION, {DType.FLOAT32: 0.154, DType.FLOAT64: 0.154},
              {DType.FLOAT32: 1.9e-5, DType.FLOAT64: 3.6e-14}, 1.0, True),
     Quantity("grad[std]", Verdict.INVALID_PARAMETERS,
              {DType.FLOAT32: 2.5e-8, DType.FLOAT64: 1e-17},
              {DType.FLOAT32: 1.9e-5, DType.FLOAT64: 3.6e-14}, float("inf"), False))
GOLDEN_RUN = RunReport((
    SpecReport(file="specs/param.yaml", name="std-as-variance", verdict=Verdict.PARAMETERIZATION,
               expect=None, ok=False, quantities=Q, dtypes=(DType.FLOAT32, DType.FLOAT64),
               explanation="side a treats `std` as a variance where side b takes a standard "
                           "deviation: every value and gradient then matches",
               fix="on side a, pass `covariance_matrix=diag_embed(std ** 2)` or "
                   "`scale_tril=diag_embed(std)`",
               cause=Cause(SideName.A, "std", "square"),
               labels={SideName.A: "MultivariateNormal(mean, diag_embed(std))",
                       SideName.B: "Normal(mean, std)"}, line=7),
    SpecReport(file="specs/bad.yaml", name="", verdict=None, expect=None, ok=False,
               error="specs/bad.yaml:4: a.dist: unknown distribution",
               error_at=(Located("specs/bad.yaml", 4, "a.dist", "unknown distribution"),)),
    SpecReport(file="specs/later.yaml", name="later", verdict=None, expect=None, ok=False,
               not_run=True),
), torch_version="2.x", device="cpu")


def _plain(width: int) -> str:
    out = io.StringIO()  # not a terminal: print_report strips the padding
    print_report(Console(file=out, width=width, color_system=None), rp.render_run(GOLDEN_RUN))
    return out.getvalue()


@pytest.mark.parametrize("width", [60, 100])
def test_plain_text_matches_the_golden_file_without_trailing_spaces(width: int) -> None:
    text = _plain(width)
    assert not [ln for ln in text.splitlines() if ln != ln.rstrip()]
    assert max(len(ln) for ln in text.splitlines()) <= width
    golden = GOLDEN / f"run_{width}.txt"
    if os.environ.get("GAUSSDIAG_REGOLD"):  # rewrite after an intended change, then review
        golden.write_text(text)
    assert text == golden.read_text()


@pytest.mark.parametrize("width", [60, 100])
def test_verdicts_are_never_cut_and_code_spans_never_broken(width: int) -> None:
    text = _plain(width)
    assert "…" not in text
    for verdict in ("parameterization", "invalid-parameters", "not run"):
        assert verdict in text, (width, verdict)
    for line in text.splitlines():
        assert line.count("`") % 2 == 0, (width, line)


@pytest.fixture(scope="module")
def train_reports() -> tuple[SpecReport, SpecReport]:
    """A real train report, and the same cut short by Ctrl-C (float64 side b, step 2)."""
    import dataclasses

    from gaussdiag.results import Interruption
    from tests.conftest import run
    from tests.test_modes import TRAIN

    whole = run(TRAIN % "adam")
    trs = tuple(dataclasses.replace(t, gaps=t.gaps[:1], loss_b=t.loss_b[:1], growth=None)
                if t.dtype is DType.FLOAT64 else t for t in whole.trajectories)
    cut = dataclasses.replace(whole, verdict=None, ok=False, interrupted=True, trajectories=trs,
                              interrupted_at=Interruption(DType.FLOAT64, SideName.B, 2, 5))
    return whole, cut


def test_an_interrupted_train_report_validates_against_the_schema(
        train_reports: tuple[SpecReport, SpecReport]) -> None:
    from gaussdiag.report.json_report import to_json

    whole, cut = train_reports
    data = to_json(RunReport(specs=(whole, cut), torch_version="2.x", device="cpu"))
    assert data["interrupted"] and data["specs"][1]["interrupted_at"] == {
        "dtype": "float64", "side": "b", "step": 2, "done": 1, "steps": 5}
    assert data["specs"][0]["interrupted_at"] is None
    validator = _validator()
    assert not [e.message for e in validator.iter_errors(data)]  # type: ignore[attr-defined]
    data["specs"][1]["interrupted_at"]["side"] = "c"
    assert not validator.is_valid(data)  # type: ignore[attr-defined]


@pytest.mark.parametrize("width", range(50, 131, 10))
def test_train_tables_fit_every_width_without_cutting(
        width: int, train_reports: tuple[SpecReport, SpecReport]) -> None:
    """The quantity and trajectory tables drop columns, then become lines, as the console
    narrows: a number, a dtype or a verdict is never cut to an ellipsis."""
    for report in train_reports:
        out = io.StringIO()
        print_report(Console(file=out, width=width, color_system=None), rp.render_spec(report))
        text = out.getvalue()
        # the one ellipsis allowed is the evidence's "more values" mark: `[3.822, …]`
        assert not re.search(r"(?<!, )(?<!\[)…", text), (width, text)
        assert max(len(ln) for ln in text.splitlines()) <= width
        assert "float32" in text and "float64" in text
        if report.interrupted:  # how far each side got: a table column, or words per line
            flat = " ".join(text.split())
            for dt, b in (("float32", 5), ("float64", 1)):
                row = rf"{dt} (?:[-\d.e+x\u2581-\u2588]+ )*5, {b}\b"
                line = rf"{dt}: .*?steps done a 5, b {b}\b"
                assert re.search(f"{row}|{line}", flat), (width, dt, text)


@pytest.mark.parametrize(("text", "width", "lines"), [
    ("pass `a b c` now", 8, ["pass", "`a b c`", "now"]),
    ("x `long code span here`", 10, ["x", "`long code span here`"]),
    ("one two three", 7, ["one two", "three"]),
    ("first\nsecond", 80, ["first", "second"]),
], ids=["span-moves-whole", "span-wider-than-line", "plain-words", "newline-kept"])
def test_wrap_keeps_code_spans_whole(text: str, width: int, lines: list[str]) -> None:
    assert list(wrap(text, width)) == lines


def test_force_color_puts_no_spinner_frames_in_stdout() -> None:
    env = {**os.environ, "FORCE_COLOR": "1", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    r = subprocess.run([sys.executable, "-m", "gaussdiag", "compare", FIXED],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "\x1b[" in r.stdout  # colour was forced ...
    without_colour = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout)
    # ... but nothing else: no carriage returns, cursor moves or hidden-cursor codes
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", without_colour)
    assert not [ln for ln in without_colour.splitlines() if ln != ln.rstrip()]


# ---- pre-commit ----------------------------------------------------------------------------


def test_pre_commit_hook_is_valid_and_names_the_real_entry_point() -> None:
    import yaml

    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "gaussdiag-compare" and hook["language"] == "python"
    assert {"id", "name", "entry", "language"} <= set(hook)
    program, command = hook["entry"].split()
    # pyproject's [project.scripts] line (tomllib is 3.11+; the package supports 3.10)
    found = re.search(rf'^{program} = "([\w.]+):(\w+)"$',
                      (ROOT / "pyproject.toml").read_text(), re.M)
    assert found is not None, program
    module, func = found.groups()
    assert callable(getattr(__import__(module, fromlist=[func]), func))
    assert main([command, "--help"]) == 0
    pattern = re.compile(hook["files"])
    for name in ("specs/a.yaml", "x/gaussdiag/b.yml", "model.gaussdiag.yaml"):
        assert pattern.search(name), name
    for name in ("configs/a.yaml", ".github/workflows/ci.yml", "specs/a.txt"):
        assert not pattern.search(name), name
