"""The keywords of `gaussdiag.compare` (and of `gaussdiag.Pair`), checked into `Settings`.
No torch here: `import gaussdiag` and a pairs file's `Pair(...)` stay light."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gaussdiag.engine.switch import (
    Switch,
    SwitchNameError,
    SwitchPlan,
    expectations,
    merge,
    parse_switch,
)
from gaussdiag.errors import GaussdiagError
from gaussdiag.limits import MAX_TRAIN_STEPS, lr_overflow
from gaussdiag.suggest import hint
from gaussdiag.vocab import DType, Mode, Optimizer, SideName, Verdict

MAX_SEED = 2**64 - 1  # torch.manual_seed takes an unsigned 64-bit seed
MAX_SIZE = 2**63 - 1  # torch sizes are signed 64-bit

# compare()'s keywords besides the two sides: what a Pair may be given.
KEYWORDS = ("params", "inputs", "at", "mode", "sample_shape", "train", "dtypes", "seed",
            "device", "expect", "name", "reference", "switch", "switches")


@dataclass(frozen=True)
class Sample:
    """An input drawn from a side (its distribution at the point, in float64, under the
    seed): `gaussdiag.sample("b", (64,))`."""

    side: str
    shape: tuple[int, ...]


def sample(side: str, shape: Iterable[int] = ()) -> Sample:
    """An input drawn from side `side` ("a" or "b") with `sample_shape` `shape`."""
    if side not in ("a", "b"):
        raise GaussdiagError(f"sample(): side must be 'a' or 'b', found {side!r}")
    return Sample(side, _shape("sample()", shape))


@dataclass(frozen=True)
class TrainSettings:
    steps: int = 100
    optimizer: Optimizer = Optimizer.ADAM
    lr: float = 0.01


@dataclass(frozen=True)
class Settings:
    params: Mapping[str, Any]
    inputs: Mapping[str, Any] = field(default_factory=dict)
    at: str | None = None
    mode: Mode = Mode.LOG_PROB
    sample_shape: tuple[int, ...] = ()
    train: TrainSettings = TrainSettings()
    dtypes: tuple[DType, ...] = (DType.FLOAT32, DType.FLOAT64)
    seed: int = 0
    device: str | None = None
    expect: Verdict | None = None
    name: str = ""
    file: str = "<python>"
    reference: SideName | None = None
    switches: tuple[Switch, ...] = ()
    expect_switches: Mapping[tuple[str, SideName], Verdict] = field(default_factory=dict)
    single: bool = False  # one side: checked under its switches only

    def plan(self, extra: tuple[Switch, ...] = (), skip_absent: bool = False,
             repro_dir: str | None = None) -> SwitchPlan:
        """The switch checks to run: these settings' switches and `extra` (the command
        line's), with what is expected of them; reproducers go to `repro_dir`."""
        return SwitchPlan(merge(self.switches, extra), self.expect_switches,
                          self.expect if self.single else None, self.single, skip_absent,
                          repro_dir)


def _choice(what: str, value: Any, enum: type[Any]) -> Any:
    try:
        return enum(value)
    except ValueError:
        names = [m.value for m in enum]
        raise GaussdiagError(f"{what} must be one of {', '.join(names)}, found {value!r}"
                             f"{hint(str(value), names)}") from None


def _shape(what: str, shape: Iterable[int]) -> tuple[int, ...]:
    try:
        out = tuple(shape)
    except TypeError:
        raise GaussdiagError(f"{what}: a shape is a tuple of sizes, found {shape!r}") from None
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_SIZE
               for n in out):
        raise GaussdiagError(f"{what}: a shape is a tuple of sizes from 0 to 2**63 - 1, found "
                             f"{shape!r}")
    return out


def check_keywords(given: Iterable[str]) -> None:
    for key in given:
        if key not in KEYWORDS:
            raise GaussdiagError(f"unknown keyword `{key}`{hint(key, KEYWORDS)}; the keywords "
                                 f"are: {', '.join(KEYWORDS)}")


def settings(*, params: Mapping[str, Any], inputs: Mapping[str, Any] | None = None,
             at: str | None = None, mode: str = "log_prob", sample_shape: Iterable[int] = (),
             train: Mapping[str, Any] | None = None,
             dtypes: Iterable[str] = ("float32", "float64"), seed: int = 0,
             device: str | None = None, expect: str | Mapping[str, Any] | None = None,
             name: str = "", file: str = "<python>", reference: str | None = None,
             switch: str | None = None, switches: Iterable[str] = (),
             single: bool = False) -> Settings:
    """compare()'s keywords, checked: every message says which keyword and what is allowed.
    `single`: one side (checked under switches only, see `needs_switch`)."""
    if not isinstance(params, Mapping):
        raise GaussdiagError(f"params must be a dict of name -> tensor or nn.Module, found "
                             f"{type(params).__name__}")
    inputs = dict(inputs or {})
    clash = set(params) & set(inputs)
    if clash:
        raise GaussdiagError(f"{', '.join(sorted(clash))}: both a param and an input")
    for name_ in (*params, *inputs):
        if not isinstance(name_, str) or not name_.isidentifier():
            raise GaussdiagError(f"param and input names are keyword names, found {name_!r}")
    the_mode = _choice("mode", mode, Mode)
    if at is None and len(inputs) == 1 and the_mode is not Mode.RSAMPLE:
        at = next(iter(inputs))
    if at is not None and at not in inputs:
        raise GaussdiagError(f"at='{at}' is not an input{hint(at, inputs, params)}; inputs: "
                             f"{', '.join(inputs) or '(none)'}")
    for key, value in inputs.items():
        if isinstance(value, Sample) and the_mode is Mode.RSAMPLE:
            raise GaussdiagError(f"inputs['{key}']: sample() inputs are for log_prob and "
                                 "train mode")
    _check_scalars(seed=seed, device=device, name=name)
    the_dtypes = _dtypes(dtypes)
    the_train = _train(train or {})
    overflow = lr_overflow(the_train.lr, the_train.optimizer, the_dtypes)
    if overflow:
        raise GaussdiagError(f"train: lr {overflow}")
    chosen = _switches(switch, switches)
    pair_expect, expect_switches = _expect(expect, chosen, single)
    return Settings(
        params=dict(params), inputs=inputs, at=at, mode=the_mode,
        sample_shape=_shape("sample_shape", sample_shape), train=the_train,
        dtypes=the_dtypes, seed=seed, device=device, expect=pair_expect, name=name, file=file,
        reference=None if reference is None else _choice("reference", reference, SideName),
        switches=chosen, expect_switches=expect_switches, single=single)


def needs_switch(chosen: Settings, extra: tuple[Switch, ...] = ()) -> None:
    """A single side without a switch (its own or the command line's) has nothing to check."""
    if chosen.single and not (chosen.switches or extra):
        raise GaussdiagError("one side alone is checked under a switch: pass switch='compile' "
                             "(or switches=[...]), or a second side to compare it with")


def _switches(switch: str | None, switches: Iterable[str]) -> tuple[Switch, ...]:
    if isinstance(switches, str):
        raise GaussdiagError(f"switches is a list of names, found the string {switches!r}: "
                             f"pass switches=[{switches!r}] or switch={switches!r}")
    names = ([switch] if switch is not None else []) + list(switches)
    try:
        return merge(parse_switch(n) for n in names)
    except SwitchNameError as err:
        raise GaussdiagError(f"switch: {err}") from None


def _expect(expect: str | Mapping[str, Any] | None, chosen: tuple[Switch, ...], single: bool
            ) -> tuple[Verdict | None, dict[tuple[str, SideName], Verdict]]:
    """A verdict (the pair's; a single side's switch checks'), or a mapping: `pair` and
    switch names to verdicts, a switch's per side as {"a": ..., "b": ...}."""
    if expect is None or isinstance(expect, str):
        return (None if expect is None else _choice("expect", expect, Verdict)), {}
    if not isinstance(expect, Mapping):
        raise GaussdiagError(f"expect must be a verdict or a dict of them, found "
                             f"{type(expect).__name__}")
    try:
        return expectations(expect, chosen, single=single)
    except ValueError as err:  # ExpectError: names the key
        raise GaussdiagError(f"expect: {err}") from None


def _check_scalars(*, seed: Any, device: Any, name: Any) -> None:
    """Range and type checks, each naming its keyword, before any of the caller's code runs
    (a seed beyond torch's range would fail inside the first side called)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise GaussdiagError(f"seed must be an integer, found {seed!r}")
    if not 0 <= seed <= MAX_SEED:
        raise GaussdiagError(f"seed must be between 0 and 2**64 - 1 (torch.manual_seed's "
                             f"range), found {seed}")
    if device is not None and not isinstance(device, str):
        raise GaussdiagError(f"device must be a string such as 'cpu' or 'cuda:0', found "
                             f"{device!r}")
    if not isinstance(name, str):
        raise GaussdiagError(f"name must be a string, found {name!r}")


def _dtypes(dtypes: Iterable[str]) -> tuple[DType, ...]:
    if isinstance(dtypes, str):
        raise GaussdiagError(f"dtypes must be a list of dtype names, found the string {dtypes!r} "
                             f"(write dtypes=[{dtypes!r}])")
    try:
        chosen = tuple(_choice("dtypes", d, DType) for d in dtypes)
    except TypeError:
        raise GaussdiagError(f"dtypes must be a list of dtype names, found {dtypes!r}") from None
    if not chosen:
        raise GaussdiagError("dtypes: list at least one dtype (float64 is always run as the "
                             "reference): float16, bfloat16, float32, float64")
    return chosen


def _train(train: Mapping[str, Any]) -> TrainSettings:
    keys = ("steps", "optimizer", "lr")
    for key in train:
        if key not in keys:
            raise GaussdiagError(f"train: unknown key `{key}`{hint(str(key), keys)}; keys: "
                                 f"{', '.join(keys)}")
    steps = train.get("steps", 100)
    lr = train.get("lr", 0.01)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_TRAIN_STEPS:
        raise GaussdiagError(f"train: steps must be an integer from 1 to {MAX_TRAIN_STEPS:,}, "
                             f"found {steps!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < float("inf"):
        raise GaussdiagError(f"train: lr must be a positive number, found {lr!r}")
    return TrainSettings(steps, _choice("train: optimizer", train.get("optimizer", "adam"),
                                        Optimizer), float(lr))

