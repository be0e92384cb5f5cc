"""Switches by name, and the plan a front end hands the coordinator. No torch here: a spec's
`switches:` and `--switch` are checked before torch is imported.

A switch is a change of how one side runs that should not change its math; each is checked by
running the side with it against the same side without it (gaussdiag/engine/switched.py runs
them, gaussdiag/attribute/switch_rules.py judges them). Names:

  compile, compile:BACKEND   torch.compile (default backend inductor) against eager
  device:cuda[:N], device:mps  that device against the CPU
  tf32                       float32 with TF32 on against off (CUDA)
  autocast:bfloat16, autocast:float16   torch.autocast on the side's device against float32
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gaussdiag.suggest import hint
from gaussdiag.vocab import DType, SideName, SwitchKind, Verdict

DEFAULT_BACKEND = "inductor"
NAMES = ("compile", "compile:BACKEND", "device:cuda", "device:cuda:N", "device:mps", "tf32",
         "autocast:bfloat16", "autocast:float16")
_BACKEND = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_DEVICE = re.compile(r"cuda|cuda:[0-9]+|mps")
_FORMATS = {"bfloat16": DType.BFLOAT16, "float16": DType.FLOAT16}
# The key of the pair's own verdict in an `expect:` mapping.
PAIR_KEY = "pair"


class SwitchNameError(ValueError):
    """A switch name that is not one of NAMES; the message says what is accepted."""


@dataclass(frozen=True)
class Switch:
    """One switch: its kind and argument (compile: the backend; device: the device;
    autocast: the format; tf32: none)."""

    kind: SwitchKind
    arg: str = ""

    @property
    def name(self) -> str:
        """The canonical name, as reports show it: `compile:inductor`, `tf32`."""
        return f"{self.kind.value}:{self.arg}" if self.arg else self.kind.value

    @property
    def format(self) -> DType | None:
        """autocast's low-precision format (None for the other switches)."""
        return _FORMATS.get(self.arg) if self.kind is SwitchKind.AUTOCAST else None

    @property
    def precision(self) -> bool:
        """Whether the switch computes in less precision (tf32, autocast): judged by its
        float32 run's error against float64, not by the pair rules."""
        return self.kind in (SwitchKind.TF32, SwitchKind.AUTOCAST)


def parse_switch(text: str) -> Switch:
    """`compile:aot_eager` -> Switch(COMPILE, "aot_eager"); SwitchNameError otherwise."""
    if not isinstance(text, str):
        raise SwitchNameError(f"a switch is a name such as compile or autocast:bfloat16, found "
                              f"{text!r}")
    head, _, arg = text.partition(":")
    try:
        kind = SwitchKind(head)
    except ValueError:
        raise SwitchNameError(f"unknown switch {text!r}{hint(head, [k.value for k in SwitchKind])}"
                              f"; switches: {', '.join(NAMES)}") from None
    if kind is SwitchKind.COMPILE:
        arg = arg or DEFAULT_BACKEND
        if not _BACKEND.fullmatch(arg):
            raise SwitchNameError(f"switch {text!r}: a torch.compile backend is a name such as "
                                  "inductor or aot_eager")
    elif kind is SwitchKind.DEVICE:
        if arg == "cpu":
            raise SwitchNameError("switch 'device:cpu': the side without the switch runs on the "
                                  "CPU already; name another device: device:cuda, device:cuda:N "
                                  "or device:mps")
        if not _DEVICE.fullmatch(arg):
            raise SwitchNameError(f"switch {text!r}: expected device:cuda, device:cuda:N or "
                                  "device:mps")
    elif kind is SwitchKind.TF32:
        if arg:
            raise SwitchNameError(f"switch {text!r}: tf32 takes no argument (it turns TF32 on "
                                  "for CUDA matmul and cuDNN)")
    elif arg not in _FORMATS:
        raise SwitchNameError(f"switch {text!r}: autocast needs its format: autocast:bfloat16 "
                              "or autocast:float16")
    return Switch(kind, arg)


def merge(*groups: Iterable[Switch]) -> tuple[Switch, ...]:
    """The switches of every group in order, each once (a spec's and the command line's)."""
    out: dict[str, Switch] = {}
    for group in groups:
        for s in group:
            out.setdefault(s.name, s)
    return tuple(out.values())


Expectations = dict[tuple[str, SideName], Verdict]


class ExpectError(ValueError):
    """A problem of an `expect:` mapping, at `keys` inside it (`("compile", "b")`)."""

    def __init__(self, keys: tuple[str, ...], message: str) -> None:
        self.keys, self.message = keys, message
        super().__init__(f"{'.'.join(keys)}: {message}")


def expectations(given: Mapping[str, Any], switches: Iterable[Switch], *, single: bool
                 ) -> tuple[Verdict | None, Expectations]:
    """An `expect:` mapping: `pair` -> the pair's verdict; a switch's name -> its verdict on
    every side, or {a: verdict, b: verdict}. Every switch named must be among `switches`.
    ExpectError naming the key otherwise."""
    listed = {s.name: s for s in switches}
    pair: Verdict | None = None
    out: Expectations = {}
    for key, value in given.items():
        if key == PAIR_KEY:
            if single:
                raise ExpectError((key,), "one side alone has no pair verdict; expect its "
                                  "switch checks' verdicts instead")
            pair = _verdict((key,), value)
            continue
        try:
            name = parse_switch(key).name
        except SwitchNameError as err:
            raise ExpectError((key,), f"{err}; or `{PAIR_KEY}` for the two sides' verdict"
                              ) from None
        if name not in listed:
            raise ExpectError((key,), f"not among the switches ({', '.join(listed) or 'none'})"
                              ": list it under switches to expect its verdict")
        sides = [SideName.A] if single else list(SideName)
        if isinstance(value, Mapping):
            for side_key, verdict in value.items():
                where = (key, str(getattr(side_key, "value", side_key)))
                out[(name, _side(where, side_key, sides))] = _verdict(where, verdict)
        else:
            for side in sides:
                out[(name, side)] = _verdict((key,), value)
    return pair, out


def _verdict(keys: tuple[str, ...], value: Any) -> Verdict:
    try:
        return Verdict(value)
    except ValueError:
        names = [v.value for v in Verdict]
        raise ExpectError(keys, f"expected a verdict ({', '.join(names)}), found {value!r}"
                          f"{hint(str(value), names)}") from None


def _side(keys: tuple[str, ...], value: Any, sides: list[SideName]) -> SideName:
    found = str(getattr(value, "value", value))
    if found not in [s.value for s in sides]:
        if found == SideName.B.value:
            raise ExpectError(keys, "there is no side b: one side alone is checked")
        raise ExpectError(keys, f"expected a side ({', '.join(s.value for s in sides)}), "
                          f"found {found!r}")
    return SideName(found)


@dataclass(frozen=True)
class SwitchPlan:
    """What the coordinator checks after the pair's own diagnosis: each switch on each side
    (side a alone when `single`: a problem with one side, whose pair is not diagnosed).
    `expect` holds the verdicts expected of (switch name, side); `default` is expected of the
    others (a single side's plain `expect:`), else agree or round-off are acceptable.
    `skip_absent` reports a switch whose device is absent as skipped instead of an error;
    `repro_dir` is where a compile mismatch's reproducer is written (None: a new temporary
    folder)."""

    switches: tuple[Switch, ...] = ()
    expect: Mapping[tuple[str, SideName], Verdict] = field(default_factory=dict)
    default: Verdict | None = None
    single: bool = False
    skip_absent: bool = False
    repro_dir: str | None = None

    def expected(self, switch: Switch, side: SideName) -> Verdict | None:
        return self.expect.get((switch.name, side), self.default)

    @property
    def sides(self) -> tuple[SideName, ...]:
        return (SideName.A,) if self.single else tuple(SideName)
