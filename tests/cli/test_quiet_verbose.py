"""-q/--quiet and -v/--verbose on both commands: quiet prints no report but keeps the exit
code, the gate's reasons and the files asked for; verbose puts each step on stderr, also
outside a terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gaussdiag.cli import main
from gaussdiag.report.json_report import FORMAT_VERSION as REPORT_VERSION
from gaussdiag.report.precision_json import FORMAT_VERSION as PRECISION_VERSION

FIXED = "configs/mvn_diag_fixed.yaml"
NOT_PD = "configs/covariance_not_pd.yaml"


@pytest.mark.parametrize("argv", [
    ["compare", FIXED],
    ["compare", NOT_PD],
    ["precision-check", "--quick"],
    ["precision-check", FIXED],
    ["precision-check", NOT_PD],
], ids=lambda a: " ".join(a))
def test_quiet_prints_no_report_and_keeps_the_exit_code_and_the_json(
        argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    loud = main(argv)
    shown = capsys.readouterr()
    assert shown.out.strip()
    out = tmp_path / "r.json"
    assert main([*argv, "-q", "--json", str(out)]) == loud
    quiet = capsys.readouterr()
    assert quiet.out == ""
    version = PRECISION_VERSION if argv[0] == "precision-check" else REPORT_VERSION
    assert json.loads(out.read_text())["format_version"] == version
    if loud:  # what failed is still said, once, on stderr
        assert quiet.err.strip() and quiet.err == shown.err


@pytest.mark.parametrize(("argv", "steps"), [
    (["compare", FIXED], ["side a in float32", "side b in float64"]),
    (["precision-check", "--quick"], ["evaluated 90 of 90 cells"]),
    (["precision-check", FIXED], ["side a in float32 and float64", "timing both sides"]),
], ids=["compare", "precision-sweep", "precision-spec"])
def test_verbose_puts_each_step_on_stderr_outside_a_terminal(
        argv: list[str], steps: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "-v"]) == 0
    seen = capsys.readouterr()
    for step in steps:
        assert step in seen.err, (step, seen.err)
        assert step not in seen.out
    assert main(argv) == 0
    assert not any(step in capsys.readouterr().err for step in steps)


@pytest.mark.parametrize("command", [["compare", FIXED], ["precision-check", "--quick"]])
def test_quiet_and_verbose_together_are_a_usage_error(
        command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "-q", "-v"]) == 2
    err = capsys.readouterr().err
    assert "--quiet and --verbose contradict each other" in err and "Traceback" not in err


def test_quiet_says_which_spec_is_not_ok_one_line_each(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The pre-commit hook runs with --quiet: a failing hook must still say which spec failed,
    what it ended as, what was expected and why, one line per spec on stderr."""
    import yaml

    source = Path("configs/mvn_diag_vs_normal.yaml").read_text()
    changed = tmp_path / "changed.yaml"
    changed.write_text(source.replace("expect: parameterization", "expect: agree"))
    unexpected = tmp_path / "no_expect.yaml"
    unexpected.write_text(source.replace("expect: parameterization", ""))
    hook = yaml.safe_load(Path(".pre-commit-hooks.yaml").read_text())[0]
    assert "--quiet" in hook["args"]
    argv = [*hook["entry"].split()[1:], *hook["args"], str(changed), FIXED, str(unexpected)]
    assert main(argv) == 1
    shown = capsys.readouterr()
    assert shown.out == ""
    lines = shown.err.splitlines()
    line = source.splitlines().index("expect: parameterization") + 1
    why = "side a treats `std` differently from side b: side a expects the square of `std`"
    assert lines[0].startswith(f"{changed}:{line}: mvn-diag-vs-normal: parameterization "
                               f"(expected agree): {why}"), lines
    assert lines[1].startswith(f"{unexpected}:") and \
        "parameterization (expected agree or round-off): side a treats" in lines[1], lines
    assert len(lines) == 2 and FIXED not in shown.err  # an ok spec says nothing
    assert all(ln.endswith(").") for ln in lines), lines  # its first sentence, whole
