"""Keys no cross-field rule reads to judge another key: a spec the models reject only at these
(or at unknown keys) is checked by the cross-field rules without them, so that every problem
comes in one run. Leaving one out can hide a consequence but never invent one: `expect:
parametrization` does not stop the report of a misspelt distribution. Keys the rules do read
(`mode`, `inputs`, `at`, a side's kind) stay: after a problem there, the rules wait for the
next run, since what they would find may follow from it."""

from __future__ import annotations

import copy
from typing import Any

from gaussdiag.frontends.yaml.spec.located import KeyPath, Pending

# Read only by their own checks (a device's spelling, the seed's range, `train:` and
# `sample_shape` against the mode, which stays).
_TOP = frozenset({"expect", "name", "description", "seed", "device", "dtypes", "train",
                  "sample_shape"})
# A side's keys besides its kind and `at`; `args` and `transforms` only feed the check that an
# input is not drawn from a side using it, which then has less to find, never more.
_SIDE = frozenset({"label", "method", "event_dims", "device", "transforms", "args"})


def independent(path: KeyPath) -> KeyPath | None:
    """The independent key at or above `path` (a single argument of `args:`), or None."""
    if path and path[0] in _TOP:
        return path[:1]
    if len(path) >= 2 and path[0] in ("a", "b") and path[1] in _SIDE:
        return path[:3] if path[1] == "args" and len(path) >= 3 else path[:2]
    return None


def without_independent(data: dict[str, Any], problems: list[Pending]
                        ) -> dict[str, Any] | None:
    """`data` without the keys the problems are at, when every problem is at an independent
    key or is an unknown key that misspells none of the others; else None."""
    cut: list[KeyPath] = []
    for p in problems:
        if p.unknown_key:
            if p.misspells is not None and independent((*p.path[:-1], p.misspells)) is None:
                return None  # `inptus`: what the rules find may follow from the typo
            cut.append(p.path)
        else:
            found = independent(p.path)
            if found is None:
                return None
            cut.append(found)
    pruned = copy.deepcopy(data)
    for path in cut:
        parent: Any = pruned
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            return None
        parent.pop(path[-1], None)
    return pruned
