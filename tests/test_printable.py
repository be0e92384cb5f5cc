"""`printable`: every control character a spec can smuggle is shown escaped, the rest kept;
JSON keeps the exact string."""

from __future__ import annotations

import json
import unicodedata

import pytest

from gaussdiag.printable import printable

CASES = [
    ("clear_and_red", "\x1b[2J\x1b[31mlabel", "\\x1b[2J\\x1b[31mlabel"),
    ("osc_title", "\x1b]0;PWNED\x07Normal", "\\x1b]0;PWNED\\x07Normal"),
    ("c1_csi", "a\x9b2Jb", "a\\x9b2Jb"),
    ("del_and_nul", "x\x7fy\x00z", "x\\x7fy\\x00z"),
    ("newline_tab_cr", "a\nb\tc\rd", "a\\nb\\tc\\rd"),
    ("bidi_override", "abc\u202edcba", "abc\\u202edcba"),
    ("line_separator", "a\u2028b", "a\\u2028b"),
    ("zero_width_space", "mvn\u200bcheck", "mvn\\u200bcheck"),
    ("bom_word_joiner_soft_hyphen", "\ufeffa\u2060b\u00adc", "\\ufeffa\\u2060b\\xadc"),
    ("lone_surrogate", "spec\udcff.yaml", "spec\\udcff.yaml"),
    ("plain_unicode", "σ (Normal) 日本 é", "σ (Normal) 日本 é"),
    ("backslash_kept", "C:\\specs\\x.yaml", "C:\\specs\\x.yaml"),
]


@pytest.mark.parametrize(("raw", "shown"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_escapes(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_multiline_keeps_newlines_and_tabs_only() -> None:
    assert printable("a\n\tb\x1b[0m\r", multiline=True) == "a\n\tb\\x1b[0m\\r"


@pytest.mark.parametrize("code", [*range(0x20), 0x7F, *range(0x80, 0xA0)])
def test_every_c0_c1_and_del_is_escaped(code: int) -> None:
    out = printable(f"<{chr(code)}>")
    assert all(unicodedata.category(ch) != "Cc" for ch in out), repr(out)
    assert out.isprintable() and out.isascii()


def test_json_keeps_the_exact_string() -> None:
    raw = "\x1b]0;PWNED\x07Normal"
    assert json.loads(json.dumps({"label": raw}))["label"] == raw
    assert "\x1b" not in json.dumps(raw)  # the encoder escapes it (\u001b) on its own


FORMAT_CHARACTERS = [chr(c) for c in range(0x110000)
                     if unicodedata.category(chr(c)) == "Cf"]


def test_every_format_character_is_escaped() -> None:
    for ch in FORMAT_CHARACTERS:
        out = printable(f"<{ch}>")
        assert out.isascii() and out.isprintable(), f"U+{ord(ch):04X}: {out!r}"
