"""The one did-you-mean: the closest known name to a misspelt one, for error messages."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Sequence


def closest(word: str, *choices: Collection[str], cutoff: float = 0.6) -> str | None:
    """The closest of `choices` to `word`, or None. Each collection is searched in turn, so a
    caller can rank its names (declared names before function names): a match in an earlier
    collection wins over a closer one in a later collection."""
    for group in choices:
        close = difflib.get_close_matches(word, sorted(group), n=1, cutoff=cutoff)
        if close:
            return close[0]
    return None


def hint(word: str, *choices: Collection[str], cutoff: float = 0.6) -> str:
    """` (did you mean 'x'?)`, or "" when nothing is close."""
    close = closest(word, *choices, cutoff=cutoff)
    return f" (did you mean '{close}'?)" if close else ""


def listing(names: Sequence[str]) -> str:
    """Names for an 'expected one of' message, in the order given."""
    return ", ".join(names)
