"""Switch names and expectations (gaussdiag/engine/switch.py): parsed without torch, every
name of the vocabulary accepted in its canonical form, every mistake refused with the fix."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gaussdiag.engine.switch import (
    NAMES,
    ExpectError,
    Switch,
    SwitchNameError,
    SwitchPlan,
    expectations,
    merge,
    parse_switch,
)
from gaussdiag.vocab import DType, SideName, SwitchKind, Verdict


@pytest.mark.parametrize(("text", "kind", "arg", "name"), [
    ("compile", SwitchKind.COMPILE, "inductor", "compile:inductor"),
    ("compile:aot_eager", SwitchKind.COMPILE, "aot_eager", "compile:aot_eager"),
    ("compile:my.backend", SwitchKind.COMPILE, "my.backend", "compile:my.backend"),
    ("device:cuda", SwitchKind.DEVICE, "cuda", "device:cuda"),
    ("device:cuda:1", SwitchKind.DEVICE, "cuda:1", "device:cuda:1"),
    ("device:mps", SwitchKind.DEVICE, "mps", "device:mps"),
    ("tf32", SwitchKind.TF32, "", "tf32"),
    ("autocast:bfloat16", SwitchKind.AUTOCAST, "bfloat16", "autocast:bfloat16"),
    ("autocast:float16", SwitchKind.AUTOCAST, "float16", "autocast:float16"),
])
def test_every_switch_name_parses_to_its_canonical_form(text: str, kind: SwitchKind,
                                                        arg: str, name: str) -> None:
    switch = parse_switch(text)
    assert (switch.kind, switch.arg, switch.name) == (kind, arg, name)
    assert parse_switch(switch.name) == switch  # the canonical name round-trips


def test_every_kind_is_named_in_the_vocabulary_list() -> None:
    for kind in SwitchKind:
        assert any(n.split(":")[0] == kind.value for n in NAMES), kind


@pytest.mark.parametrize(("text", "says"), [
    ("compil", "did you mean 'compile'?"),
    ("device:cpu", "runs on the CPU already"),
    ("device:gpu", "expected device:cuda, device:cuda:N or device:mps"),
    ("autocast", "autocast needs its format"),
    ("autocast:float64", "autocast needs its format"),
    ("tf32:on", "tf32 takes no argument"),
    ("compile:no such", "a torch.compile backend is a name"),
])
def test_a_wrong_switch_name_says_what_is_accepted(text: str, says: str) -> None:
    with pytest.raises(SwitchNameError) as info:
        parse_switch(text)
    assert says in str(info.value), str(info.value)


def test_formats_and_precision() -> None:
    assert parse_switch("autocast:bfloat16").format is DType.BFLOAT16
    assert parse_switch("autocast:float16").format is DType.FLOAT16
    assert parse_switch("compile").format is None
    assert [parse_switch(n).precision for n in ("tf32", "autocast:float16", "compile",
                                               "device:cuda")] == [True, True, False, False]


def test_merge_keeps_the_first_of_each_name_in_order() -> None:
    spec = (parse_switch("compile"), parse_switch("tf32"))
    cli = (parse_switch("compile:inductor"), parse_switch("autocast:float16"))
    assert [s.name for s in merge(spec, cli)] == ["compile:inductor", "tf32",
                                                   "autocast:float16"]


def test_expectations_per_switch_and_per_side() -> None:
    switches = (parse_switch("compile"), parse_switch("autocast:float16"))
    pair, per = expectations({"pair": "parameterization", "compile": "round-off",
                              "autocast:float16": {"a": "non-finite", "b": "agree"}},
                             switches, single=False)
    assert pair is Verdict.PARAMETERIZATION
    assert per == {("compile:inductor", SideName.A): Verdict.ROUND_OFF,
                   ("compile:inductor", SideName.B): Verdict.ROUND_OFF,
                   ("autocast:float16", SideName.A): Verdict.NON_FINITE,
                   ("autocast:float16", SideName.B): Verdict.AGREE}
    plan = SwitchPlan(switches, per)
    assert plan.expected(switches[1], SideName.B) is Verdict.AGREE
    assert SwitchPlan(switches, {}, Verdict.AGREE, single=True).expected(
        switches[0], SideName.A) is Verdict.AGREE
    assert SwitchPlan(single=True).sides == (SideName.A,)


@pytest.mark.parametrize(("given", "single", "keys", "says"), [
    ({"tf32": "agree"}, False, ("tf32",), "not among the switches"),
    ({"compil": "agree"}, False, ("compil",), "did you mean 'compile'?"),
    ({"compile": "agre"}, False, ("compile",), "did you mean 'agree'?"),
    ({"compile": {"c": "agree"}}, False, ("compile", "c"), "expected a side (a, b)"),
    ({"compile": {"b": "agree"}}, True, ("compile", "b"), "there is no side b"),
    ({"pair": "agree"}, True, ("pair",), "no pair verdict"),
])
def test_a_wrong_expectation_names_its_key(given: dict[str, object], single: bool,
                                           keys: tuple[str, ...], says: str) -> None:
    with pytest.raises(ExpectError) as info:
        expectations(given, (parse_switch("compile"),), single=single)
    assert info.value.keys == keys and says in info.value.message, str(info.value)


def test_the_names_need_no_torch() -> None:
    code = ("import sys; from gaussdiag.engine.switch import parse_switch; "
            "parse_switch('compile'); sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_a_switch_is_frozen_data() -> None:
    s = Switch(SwitchKind.TF32)
    with pytest.raises(AttributeError):
        s.arg = "x"  # type: ignore[misc]
