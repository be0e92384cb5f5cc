"""Making user strings safe to show: every string a spec or the command line supplies (labels,
names, keys, paths, unknown words echoed in an error) passes through `printable` before it
reaches a terminal or a log, so an escape sequence in a spec is shown, never obeyed.

JSON output keeps the exact string (the JSON encoder escapes control characters itself).
"""

from __future__ import annotations

import unicodedata

# Characters a terminal acts on, or that reorder, hide or split what follows: the Unicode
# control category (Cc: C0, DEL, C1), the format category (Cf: bidirectional overrides and
# isolates, which make a shown name read differently from the real one, and invisible ones
# such as U+200B, U+2060, U+FEFF and the soft hyphen, which make two different names look
# alike), lone surrogates (Cs), and the line and paragraph separators, which break a line.
_ESCAPED_CATEGORIES = ("Cc", "Cf", "Cs")
_INVISIBLE = frozenset("\u2028\u2029")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str, *, multiline: bool = False) -> str:
    """`text` with control characters shown as escapes: `\\x1b` for ESC, `\\x07` for BEL,
    `\\x9b` for the C1 CSI, `\\n`/`\\r`/`\\t`, `\\u202e` for a bidi override, `\\u200b` for a
    zero-width space (any format character, Unicode category Cf), `\\udcff` for a lone
    surrogate (an undecodable file name). Everything else, backslashes included, is kept.

    `multiline=True` keeps newlines and tabs as they are (a multi-line description); a one-line
    context (an error line, a table cell) leaves the default, so a value cannot start a line
    of its own.
    """
    if text.isprintable() and not _INVISIBLE.intersection(text):
        return text  # the common case: nothing to escape
    return "".join(_escape(ch, multiline) for ch in text)


def _escape(ch: str, multiline: bool) -> str:
    if multiline and ch in "\n\t":
        return ch
    if ch in _SHORT:
        return _SHORT[ch]
    if ch in _INVISIBLE or unicodedata.category(ch) in _ESCAPED_CATEGORIES:
        code = ord(ch)
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
    return ch
