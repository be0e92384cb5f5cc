"""The composite GitHub Action (`action.yml`), run as a runner would run it, as far as that is
possible off GitHub: each `run:` step's script with its `${{ }}` expressions substituted the
way the runner does, the runner's variables set, under GitHub's own bash command line, with a
fake `python` (pip) and, but for one end-to-end case, a fake `gaussdiag` that record their
arguments."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# How the runner runs a step with `shell: bash` (GitHub's documented template).
BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

# A fake command: writes its name and arguments, NUL-separated, to the next numbered file
# in $FAKE_LOG (the steps run one command at a time).
FAKE = """#!/bin/bash
n=$(ls "$FAKE_LOG" | wc -l)
printf '%s\\0' "$(basename "$0")" "$@" > "$FAKE_LOG/$(printf %04d "$n")"
"""


def _steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = ACTION["runs"]["steps"]
    return steps


def _inputs(given: dict[str, str]) -> dict[str, str]:
    declared = ACTION["inputs"]
    assert set(given) <= set(declared), set(given) - set(declared)
    values = {}
    for name, spec in declared.items():
        if spec.get("required"):
            assert name in given, f"required input {name}"
        values[name] = given.get(name, str(spec.get("default", "")))
    return values


def _substitute(text: str, inputs: dict[str, str], action_path: Path) -> str:
    """The runner's expression substitution, for the expressions the action uses."""
    def value(match: re.Match[str]) -> str:
        expression = match[1]
        if expression.startswith("inputs."):
            return inputs[expression.removeprefix("inputs.")]
        if expression == "github.action_path":
            return str(action_path)
        raise AssertionError(f"an expression this test does not know: {expression}")

    return _EXPRESSION.sub(value, text)


class Runner:
    """One job's workspace, the action's checkout, and the commands the steps ran."""

    def __init__(self, tmp: Path, real_gaussdiag: bool = False) -> None:
        self.workspace = tmp / "work space"
        self.workspace.mkdir()
        self.action_path = tmp / "actions dir" / "gaussdiag"  # spaces: quoting is tested
        self.action_path.mkdir(parents=True)
        self.log = tmp / "log"
        self.log.mkdir()
        self.summary = tmp / "summary.md"
        self.bin = tmp / "bin"
        self.bin.mkdir()
        fakes = ["python"] if real_gaussdiag else ["python", "gaussdiag"]
        for name in fakes:
            path = self.bin / name
            path.write_text(FAKE)
            path.chmod(path.stat().st_mode | stat.S_IEXEC)
        self.path = str(self.bin)
        if real_gaussdiag:  # the installed command, without the venv's python on PATH
            real = tmp / "real"
            real.mkdir()
            (real / "gaussdiag").symlink_to(Path(sys.executable).with_name("gaussdiag"))
            self.path += os.pathsep + str(real)
        self.path += os.pathsep + "/usr/bin:/bin"

    def run(self, given: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
        inputs = _inputs(given)
        done = []
        for index, step in enumerate(_steps()):
            if "uses" in step:
                assert step["uses"].startswith("actions/setup-python@")
                assert _substitute(step["with"]["python-version"], inputs,
                                   self.action_path) == inputs["python-version"]
                continue
            assert step["shell"] == "bash"
            env = {
                "PATH": self.path, "HOME": str(self.workspace), "CI": "true",
                "GITHUB_ACTIONS": "true", "RUNNER_OS": "Linux",
                "GITHUB_WORKSPACE": str(self.workspace),
                "GITHUB_ACTION_PATH": str(self.action_path),
                "GITHUB_STEP_SUMMARY": str(self.summary), "FAKE_LOG": str(self.log),
                "NO_COLOR": "1", "COLUMNS": "100",
                **{k: _substitute(str(v), inputs, self.action_path)
                   for k, v in step.get("env", {}).items()},
            }
            script = self.workspace.parent / f"step{index}.sh"
            script.write_text(_substitute(step["run"], inputs, self.action_path))
            done.append(subprocess.run([*BASH, str(script)], cwd=self.workspace, env=env,
                                       capture_output=True, text=True, timeout=300))
            assert done[-1].returncode == 0, (step.get("name"), done[-1].stderr)
        return done

    def calls(self) -> list[list[str]]:
        return [p.read_bytes().decode().split("\0")[:-1] for p in sorted(self.log.iterdir())]


def test_no_input_is_pasted_into_a_script() -> None:
    for step in _steps():
        if "run" in step:
            assert "${{" not in step["run"], step["run"]
        for value in step.get("env", {}).values():
            assert _EXPRESSION.fullmatch(str(value)), value  # env holds only expressions


def test_default_installs_the_action_s_checkout_with_torch_from_the_cpu_index(
        tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    runner.run({"specs": "specs/"})
    assert runner.calls() == [
        ["python", "-m", "pip", "install", "--quiet", "torch", "--index-url", CPU_INDEX],
        ["python", "-m", "pip", "install", "--quiet", "--", str(runner.action_path)],
        ["gaussdiag", "compare", "--format", "github", "--", "specs/"],
    ]


def test_install_and_torch_index_inputs(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    runner.run({"specs": "specs/", "install": "gaussdiag @ git+https://example.org/g.git",
                "torch-index": ""})
    assert runner.calls()[0] == ["python", "-m", "pip", "install", "--quiet", "--",
                                 "gaussdiag @ git+https://example.org/g.git"]
    assert len(runner.calls()) == 2  # no separate torch install


@pytest.mark.parametrize(("specs", "expected"), [
    ("specs/", ["specs/"]),
    ("a.yaml  b.yaml\tmore/", ["a.yaml", "b.yaml", "more/"]),
    ("first.yaml\n  my specs/second.yaml  \n\n", ["first.yaml", "my specs/second.yaml"]),
    ("$(touch pwned) `touch pwned` ;touch pwned *.yaml \"q'",
     ["$(touch", "pwned)", "`touch", "pwned`", ";touch", "pwned", "*.yaml", "\"q'"]),
    ("--debug\n-", ["--debug", "-"]),
], ids=["one", "one-line", "lines-with-spaces", "hostile", "dashes"])
def test_specs_reach_gaussdiag_word_for_word(specs: str, expected: list[str],
                                            tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    (runner.workspace / "a.yaml").write_text("")  # what `*.yaml` would expand to
    runner.run({"specs": specs, "args": "--device cpu  --no-timings"})
    compare = runner.calls()[-1]
    assert compare == ["gaussdiag", "compare", "--format", "github", "--device", "cpu",
                       "--no-timings", "--", *expected]
    assert not list(tmp_path.rglob("pwned*")), "a spec path was run as a command"


def test_the_compare_step_runs_the_real_command_and_writes_the_summary(tmp_path: Path) -> None:
    if not Path(sys.executable).with_name("gaussdiag").exists():
        pytest.skip("the gaussdiag command is not installed beside this python")
    runner = Runner(tmp_path, real_gaussdiag=True)
    folder = runner.workspace / "my specs"
    folder.mkdir()
    for name in ("mvn_diag_fixed.yaml", "mvn_diag_vs_normal.yaml"):
        shutil.copy(ROOT / "configs" / name, folder / name)
    done = runner.run({"specs": "my specs/mvn_diag_fixed.yaml\nmy specs/mvn_diag_vs_normal.yaml"})
    assert "verdict: agree" in done[-1].stdout and "verdict: parameterization" in done[-1].stdout
    summary = runner.summary.read_text()
    assert "mvn-diag-fixed" in summary and "mvn-diag-vs-normal" in summary

    (folder / "mvn_diag_fixed.yaml").write_text(
        (ROOT / "configs/mvn_diag_fixed.yaml").read_text().replace("expect: agree",
                                                                  "expect: mismatch"))
    with pytest.raises(AssertionError, match="gaussdiag compare"):  # the step fails: exit 1
        runner.run({"specs": "my specs/"})
