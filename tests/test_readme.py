"""The README shows what users see: its `--help` block is the real one, and every config it
lists exists with the verdict it states."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gaussdiag.frontends.yaml.spec import load_spec

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _block_after(marker: str) -> str:
    start = README.index(marker) + len(marker)
    return README[start:README.index("\n```", start)].strip("\n")


def test_help_block_matches_the_real_help() -> None:
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    real = subprocess.run([sys.executable, "-m", "gaussdiag", "--help"], capture_output=True,
                          text=True, env=env, cwd=ROOT).stdout
    # the console script and `python -m` print different program names only in Usage
    shown = _block_after("$ gaussdiag --help\n")
    assert shown == "\n".join(ln.rstrip() for ln in real.splitlines()).strip("\n")


def test_config_table_matches_the_configs() -> None:
    rows = re.findall(r"^\| `(\w+)` \| .* \| ([a-z-]+) \|$", README, flags=re.M)
    assert rows, "the README's config table is missing"
    listed = {name for name, _ in rows}
    shipped = {p.stem for p in (ROOT / "configs").glob("*.yaml")}
    assert listed == shipped
    for name, verdict in rows:
        spec = load_spec(ROOT / "configs" / f"{name}.yaml").spec
        assert spec.expect is not None and spec.expect.value == verdict, name


def test_readme_commands_are_the_ci_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest" in README and "python -m pytest" in ci
    # the README's command leaves the slow tests out; CI runs them as well
    assert re.search(r"^python -m pytest$", ci, flags=re.M)
    assert re.search(r"^python -m pytest -m slow$", ci, flags=re.M)
    assert "pip install -c constraints.txt" in README and "-c constraints.txt" in ci


def test_python_example_prints_what_its_comments_say(capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    """The README's `gaussdiag.compare` example, run as written: its first print shows the
    vocabulary's own strings (`parameterization std`), as the comment says."""
    section = README.index("## From Python: two functions in, the same verdict out")
    start = README.index("```python\n", section) + len("```python\n")
    source = README[start:README.index("\n```", start)]
    claimed = re.search(r"^print\(report\.verdict, .*#\s*(.+)$", source, flags=re.M)
    assert claimed, "the README's Python example no longer prints the verdict"
    exec(compile(source, "README.md", "exec"), {})  # noqa: S102 - the README's own code
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == claimed[1].strip()
    assert "verdict: parameterization" in "\n".join(printed)
