"""Every vocabulary is a `str` enum whose `str()` and `format()` are the spec's own string, so
`print(report.verdict)` and an f-string show `parameterization`, as the reports do."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from enum import Enum

import pytest

import gaussdiag
from gaussdiag.vocab import Verdict, Vocab


def _str_enums() -> list[type[Enum]]:
    """Every `str` enum defined anywhere in the package (found by walking it, so a new one
    cannot be missed)."""
    found: dict[str, type[Enum]] = {}
    for info in pkgutil.walk_packages(gaussdiag.__path__, "gaussdiag."):
        if info.name == "gaussdiag.__main__":  # runs the command line when imported
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Enum) and issubclass(obj, str) and obj.__module__ == info.name \
                    and len(obj) > 0:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[k] for k in sorted(found)]


ENUMS = _str_enums()
MEMBERS = [member for enum in ENUMS for member in enum]


def test_the_walk_finds_the_vocabularies_of_every_layer() -> None:
    names = {e.__name__ for e in ENUMS}
    assert {"Verdict", "DType", "Mode", "OutputFormat", "SideName", "CellClass",
            "Status"} <= names, names


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.__name__)
def test_every_str_enum_is_a_vocab(enum: type[Enum]) -> None:
    assert issubclass(enum, Vocab), f"{enum.__module__}.{enum.__name__} is not a Vocab"


@pytest.mark.parametrize("member", MEMBERS, ids=lambda m: f"{type(m).__name__}.{m.name}")
def test_str_and_format_give_the_value(member: Enum) -> None:
    value = member.value
    assert isinstance(value, str)
    assert str(member) == value
    assert format(member) == value
    assert f"{member}" == value
    assert f"{member:>40}|" == f"{value:>40}|"
    assert member == value  # a str enum still compares equal to its string


def test_print_of_a_verdict_shows_the_string(capsys: pytest.CaptureFixture[str]) -> None:
    print(Verdict.PARAMETERIZATION)
    assert capsys.readouterr().out == "parameterization\n"
