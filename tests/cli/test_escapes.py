"""Escape codes from a spec never reach the terminal: a `name` and `label`s holding a
clear-screen-and-red sequence and an OSC title are shown escaped (`\\x1b`) in every text
format and in every error line, and kept exactly in the JSON."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from gaussdiag.cli import main

CLEAR_RED = "\x1b[2J\x1b[31m"
TITLE = "\x1b]0;PWNED\x07"
NAME = f"{CLEAR_RED}evil{TITLE}name"
LABEL = f"{TITLE}Normal{CLEAR_RED}(m, s)"


def _yaml(text: str) -> str:
    """`text` as a double-quoted YAML scalar, the escapes written as YAML escapes."""
    return json.dumps(text).replace("\\u001b", "\\e").replace("\\u0007", "\\a")


SPEC = f"""\
version: 1
name: {_yaml(NAME)}
params:
  m: {{values: [0.0, 1.0]}}
  s: {{values: [1.0, 2.0]}}
inputs:
  x: {{values: [0.5, -0.5]}}
a: {{label: {_yaml(LABEL)}, dist: Normal, args: {{loc: m, scale: s}}}}
b: {{label: {_yaml(LABEL + " b")}, dist: Normal, args: {{loc: m, scale: "s ** 2"}}}}
"""


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    code = main(["compare", str(spec), "--no-timings", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("fmt", ["table", "markdown", "github"])
def test_text_formats_show_control_characters_escaped(
        fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # the report's own colours would be ESC bytes too
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    code, out, err = _run(tmp_path, capsys, "--format", fmt)
    assert code == 1, err  # s against s ** 2: a parameterization, not expected
    for stream in (out, err):
        assert "\x1b" not in stream and "\x07" not in stream, repr(stream[:2000])
    shown = re.sub(r"\\([\\\[\]`*_<>|#~!])", r"\1", out)  # markdown's own escapes undone
    assert "\\x1b[2J\\x1b[31mevil\\x1b]0;PWNED\\x07name" in shown
    if fmt == "table":  # the other formats do not show the sides' labels
        assert "\\x1b]0;PWNED\\x07Normal" in shown


def test_json_keeps_the_exact_strings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(tmp_path, capsys, "--json", "-")
    assert code == 1
    assert "\x1b" not in out  # the JSON encoder writes \u001b itself
    spec = json.loads(out)["specs"][0]
    assert spec["name"] == NAME  # the JSON has no labels; the name is kept byte for byte


@pytest.mark.parametrize(("field", "value"), [
    ("dist", f"{TITLE}Normal"),
    ("key", f"sc{CLEAR_RED}ale"),
    ("at", f"{TITLE}x"),
])
def test_an_unknown_word_is_escaped_in_the_error_line(
        field: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = SPEC
    if field == "dist":
        spec = spec.replace("dist: Normal, args: {loc: m, scale: s}",
                            f"dist: {_yaml(value)}, args: {{loc: m, scale: s}}")
    elif field == "key":
        spec = spec.replace("args: {loc: m, scale: s}", f"args: {{loc: m, {_yaml(value)}: s}}")
    else:
        spec += f"at: {_yaml(value)}\n"
    path = tmp_path / "spec.yaml"
    path.write_text(spec, encoding="utf-8")
    code = main(["compare", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "\x1b" not in err and "\x07" not in err, repr(err)
    errors = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    shown = value.replace("\x1b", "\\x1b").replace("\x07", "\\x07")
    assert any(shown in ln and "spec.yaml:" in ln for ln in errors), err


# Invisible format characters (Unicode category Cf): a zero-width space, a byte-order mark, a
# word joiner and a soft hyphen make two different names look alike on a terminal.
INVISIBLE = {"\u200b": "\\u200b", "\ufeff": "\\ufeff", "\u2060": "\\u2060", "\u00ad": "\\xad"}
HIDDEN_NAME = "mvn\u200bcheck\ufeff"
HIDDEN_LABEL = "Normal\u2060(m,\u00ads)"


def _gd(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    env.pop("GITHUB_STEP_SUMMARY", None)
    return subprocess.run([sys.executable, "-m", "gaussdiag", *args], capture_output=True,
                          text=True, encoding="utf-8", cwd=cwd, env=env, timeout=300)


def _no_format_characters(text: str) -> None:
    raw = sorted({f"U+{ord(ch):04X}" for ch in text if unicodedata.category(ch) == "Cf"})
    assert not raw, f"raw format characters {raw} in:\n{text}"


@pytest.mark.parametrize("fmt", ["table", "github"])
def test_format_characters_are_escaped_in_the_table_and_annotations(fmt: str,
                                                                    tmp_path: Path) -> None:
    spec = SPEC.replace(_yaml(NAME), _yaml(HIDDEN_NAME)).replace(_yaml(LABEL), _yaml(HIDDEN_LABEL))
    (tmp_path / "spec\u200b.yaml").write_text(spec, encoding="utf-8")
    r = _gd("compare", "spec\u200b.yaml", "--format", fmt, cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    _no_format_characters(r.stdout + r.stderr)
    assert "mvn\\u200bcheck\\ufeff" in r.stdout
    assert "spec\\u200b.yaml" in r.stdout
    if fmt == "table":
        assert "Normal\\u2060(m,\\xads)" in r.stdout
    else:
        assert "::error file=spec\\u200b.yaml" in r.stdout


def test_format_characters_in_an_unknown_key_are_escaped_in_the_error(tmp_path: Path) -> None:
    spec = SPEC.replace("args: {loc: m, scale: s}", 'args: {loc: m, "sc\\u200bale": s}', 1)
    (tmp_path / "spec.yaml").write_text(spec, encoding="utf-8")
    r = _gd("compare", "spec.yaml", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    _no_format_characters(r.stderr)
    assert "sc\\u200bale" in r.stderr and r.stderr.startswith("error: spec.yaml:"), r.stderr
