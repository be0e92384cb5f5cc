"""The starter spec `gaussdiag init NAME` writes: a commented template that loads and runs."""

from __future__ import annotations

import json
import os
import re
from importlib import resources
from pathlib import Path

from gaussdiag.errors import UsageError
from gaussdiag.output import write_text

TEMPLATE = "starter.yaml"
_NAME_LINE = re.compile(r"^name: starter$", re.M)
# A name that YAML reads back as the same plain string (not a number, bool or null).
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}


def target_path(name: str) -> str:
    """NAME as given, or NAME.yaml when it has no suffix; `-` stays `-` (standard output)."""
    if name == "-":
        return name
    path = Path(name)
    if path.name in ("", ".", "..") or name.endswith(os.sep):  # Path drops a trailing slash
        raise UsageError(f"cannot write a spec to {name!r}: give a file name, e.g. my_spec.yaml")
    return name if path.suffix else f"{name}.yaml"


def starter_text(name: str) -> str:
    """The template with `name:` set to `name` (quoted when YAML would misread it)."""
    text = resources.files("gaussdiag").joinpath("data", TEMPLATE).read_text("utf-8")
    if not name.isprintable() or not _encodable(name):
        name = "starter"
    plain = _PLAIN.fullmatch(name) and name.lower() not in _YAML_WORDS
    value = name if plain else json.dumps(name, ensure_ascii=False)
    text, count = _NAME_LINE.subn(lambda _: f"name: {value}", text, count=1)
    assert count == 1, "the starter template lost its `name: starter` line"
    return text


def write_starter(name: str) -> str:
    """Write the starter spec for NAME atomically; never overwrites. Returns the path written."""
    target = target_path(name)
    if target != "-" and os.path.lexists(target):
        raise UsageError(f"{target} already exists: choose another name or remove it first")
    stem = "starter" if target == "-" else Path(target).stem
    write_text(target, starter_text(stem))
    return target


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from an undecodable file name
        return False
    return True
