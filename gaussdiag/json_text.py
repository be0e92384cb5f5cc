"""`JsonText`: what `SpecReport.to_json()` returns, JSON text that can still be read as the
dict `to_json()` returned up to gaussdiag 0.1.0, with a DeprecationWarning."""

from __future__ import annotations

import json
import warnings
from collections.abc import ItemsView, KeysView, ValuesView
from typing import Any, SupportsIndex, overload

_MOVED = ("SpecReport.to_json() returns JSON text; reading it as a mapping is deprecated: "
          "use SpecReport.to_dict() for the dict")


class JsonText(str):
    """A `str` of JSON. Mapping reads (`text["verdict"]`, `.get`, `.keys`, `.items`,
    `.values`) parse it and warn: they keep code written for the old dict working. A str's
    own indexing by position and slices is unchanged."""

    def _data(self) -> dict[str, Any]:
        warnings.warn(_MOVED, DeprecationWarning, stacklevel=3)
        data: dict[str, Any] = json.loads(self)
        return data

    @overload
    def __getitem__(self, key: str) -> Any: ...

    @overload
    def __getitem__(self, key: SupportsIndex | slice) -> str: ...

    def __getitem__(self, key: str | SupportsIndex | slice) -> Any:
        if isinstance(key, str):
            return self._data()[key]
        return str.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return self._data().get(key, default)

    def keys(self) -> KeysView[str]:
        return self._data().keys()

    def items(self) -> ItemsView[str, Any]:
        return self._data().items()

    def values(self) -> ValuesView[Any]:
        return self._data().values()
