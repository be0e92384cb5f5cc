"""The cross-field rules of a spec's switches: `switches:` names, a single side (no `b:`)
only with a switch to check it under, and `expect:` naming switches the spec lists."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from gaussdiag.engine.switch import (
    PAIR_KEY,
    ExpectError,
    SwitchNameError,
    expectations,
    parse_switch,
)

if TYPE_CHECKING:
    from gaussdiag.frontends.yaml.spec.located import KeyPath
    from gaussdiag.frontends.yaml.spec.models import Spec


class Problems(Protocol):
    """Where a problem goes (checks.Collector)."""

    def add(self, path: KeyPath, message: str) -> None: ...


def check_switches(spec: Spec, problems: Problems, *, switched: bool) -> None:
    """`switched`: the command line names switches too."""
    seen: dict[str, int] = {}
    valid = []
    for index, name in enumerate(spec.switches):
        try:
            switch = parse_switch(name)
        except SwitchNameError as err:
            problems.add(("switches", index), str(err))
            continue
        if switch.name in seen:
            problems.add(("switches", index), f"{switch.name} is listed twice (first as item "
                                              f"{seen[switch.name]})")
            continue
        seen[switch.name] = index
        valid.append(switch)
    if spec.single and not spec.switches and not switched:
        problems.add((), "missing required key 'b': a spec compares two sides, a and b; side a "
                         "alone is checked only under a switch (`switches: [compile]`, or "
                         "--switch)")
    if isinstance(spec.expect, dict):
        for key, value in spec.expect.items():
            if key != PAIR_KEY and len(valid) < len(spec.switches):
                continue  # the switches' own problems come first
            try:
                expectations({key: value}, valid, single=spec.single)
            except ExpectError as err:
                problems.add(("expect", *err.keys), err.message)
