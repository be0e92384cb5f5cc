"""Shared by the spec tests: the data folders, a small valid spec, and error helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from gaussdiag.errors import SpecError
from gaussdiag.frontends.yaml.spec import load_spec, load_spec_text

ROOT = Path(__file__).resolve().parents[4]
SPECS = ROOT / "tests" / "specs"
INVALID = sorted((SPECS / "invalid").glob("*.yaml"))
VALID = sorted((SPECS / "valid").glob("*.yaml"))
EXAMPLE = (SPECS / "valid" / "mvn_diag_vs_normal.yaml").read_text(encoding="utf-8")

# Derandomized: the same examples on every machine, so a CI failure reproduces locally.
PROPERTY = settings(max_examples=150, deadline=None, derandomize=True)

# A small valid spec used as the base of the tests that vary one thing.
BASE = """\
params:
  mean: {shape: [3]}
inputs:
  x: {shape: [3]}
a: {dist: Normal, args: {loc: mean, scale: 1.0}}
b: {dist: Normal, args: {loc: mean, scale: 1.0}}
"""


def load_error(text: str, file: str = "t.yaml", **kwargs: Any) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_spec_text(text, file, **kwargs)
    return info.value


def load_error_file(path: Path) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.file == str(path)
    return info.value
