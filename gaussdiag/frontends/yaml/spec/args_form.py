"""The message for `args:` written as something other than a mapping (a list, as a positional
call would be): arguments are keywords, shown in the mapping form with the distribution's own
argument names."""

from __future__ import annotations

import json
from typing import Any

from gaussdiag.frontends.yaml.spec.document import describe, show
from gaussdiag.frontends.yaml.spec.names import ARGUMENTS

# YAML flow characters: an expression holding one is quoted in the example
_FLOW = set(",:{}[]#&*!|>'\"%@`")


def args_not_a_mapping(dist: Any, found: Any) -> str:
    """`found` is what `args:` holds; `dist` the side's `dist:` (any value the user wrote)."""
    head = f"expected a mapping, found {describe(found)}: arguments are keywords"
    names = ARGUMENTS.get(dist) if isinstance(dist, str) else None
    if names is None:
        return f"{head}: write `args: {{name: expression, ...}}`"
    if isinstance(found, list) and 0 < len(found) <= len(names):
        # torch takes positional arguments in the signature's order, as the table holds it
        pairs = ", ".join(f"{n}: {_item(v)}" for n, v in zip(names, found, strict=False))
        return (f"{head}: write `args: {{{pairs}}}` (your list in the order of {dist}'s "
                f"arguments: {', '.join(names)})")
    example = ", ".join(f"{n}: ..." for n in names)
    return f"{head}: write `args: {{{example}}}` with those you use ({dist}'s arguments)"


def _item(value: Any) -> str:
    """A list item as a value in a YAML flow mapping."""
    if isinstance(value, str):
        return json.dumps(value) if _FLOW & set(value) or not value.strip() else value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return show(value)
    return "..."
