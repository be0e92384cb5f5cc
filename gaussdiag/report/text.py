"""User strings on their way into a plain-text report.

Every string that comes from a spec or a path (names, files, labels, expressions inside
explanations, error messages) goes through `user_text` before a text renderer shows it, so a
control character in a spec can never move the cursor or recolour a CI log. One place to
harden.
"""

from __future__ import annotations

import re

# C0 controls but newline, DEL, and the C1 block (ESC [ ... in 8-bit form)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def user_text(text: str) -> str:
    """`text` with every control character but newline written as a visible escape (`\\x1b`)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)
