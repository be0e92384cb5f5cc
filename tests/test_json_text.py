"""`JsonText`, what `SpecReport.to_json()` returns: a str of JSON whose mapping reads, kept
for code written when `to_json()` returned the dict, warn and answer from the parsed JSON."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable

import pytest

from gaussdiag.json_text import JsonText

DATA = {"verdict": "agree", "ok": True, "quantities": [{"name": "log_prob"}]}
TEXT = JsonText(json.dumps(DATA, indent=2))


def test_it_is_the_json_text() -> None:
    assert isinstance(TEXT, str) and json.loads(TEXT) == DATA
    assert json.dumps(DATA, indent=2) == TEXT


def test_positions_and_slices_stay_a_str_s_own() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecation on a str's own reads
        assert TEXT[0] == "{" and TEXT[-1] == "}" and TEXT[:2] == "{\n"
        assert "verdict" in TEXT and TEXT.startswith("{")


@pytest.mark.parametrize(("read", "expected"), [
    (lambda t: t["verdict"], "agree"),
    (lambda t: t["quantities"][0]["name"], "log_prob"),
    (lambda t: t.get("ok"), True),
    (lambda t: t.get("missing", 3), 3),
    (lambda t: list(t.keys()), ["verdict", "ok", "quantities"]),
    (lambda t: dict(t.items()), DATA),
    (lambda t: list(t.values())[0], "agree"),
], ids=["getitem", "nested", "get", "get-default", "keys", "items", "values"])
def test_mapping_reads_answer_as_the_dict_did_and_warn(read: Callable[[JsonText], object],
                                                      expected: object) -> None:
    with pytest.warns(DeprecationWarning, match=r"use SpecReport.to_dict\(\)"):
        assert read(TEXT) == expected


def test_a_missing_key_is_a_key_error_as_in_the_dict() -> None:
    with pytest.warns(DeprecationWarning), pytest.raises(KeyError):
        TEXT["nope"]
