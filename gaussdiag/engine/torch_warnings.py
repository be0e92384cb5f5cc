"""Warnings raised while a side is built and evaluated, kept as report notes (in the table,
the markdown and the JSON) instead of stray, unlocated stderr lines."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from gaussdiag.vocab import DType, SideName


class WarningLog:
    """The distinct warnings seen per side, first seen first, with the dtypes that saw them."""

    def __init__(self) -> None:
        self._seen: dict[tuple[SideName, str, str], list[DType]] = {}

    @contextmanager
    def during(self, side: SideName, dtype: DType, *, keep: bool = True) -> Iterator[None]:
        """Catch every warning raised inside; keep=False drops them (probing runs at altered
        points, whose warnings describe the probe rather than the spec)."""
        with warnings.catch_warnings(record=True) as caught:
            # "always": torch's default filters show a warning once per code location, so a
            # second spec in the same run would lose its note
            warnings.simplefilter("always")
            try:
                yield
            finally:
                if keep:
                    for w in caught:
                        key = (side, w.category.__name__, str(w.message).strip())
                        dtypes = self._seen.setdefault(key, [])
                        if dtype not in dtypes:
                            dtypes.append(dtype)

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(f"side {side.value} ({', '.join(d.value for d in dtypes)}): torch warned "
                     f"({category}): {message}"
                     for (side, category, message), dtypes in self._seen.items())
