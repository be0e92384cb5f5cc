"""YAML text to values (`spec.document`): YAML 1.2 scalars, aliases, hostile
YAML, and characters that cannot reach a message raw."""

from __future__ import annotations

import time

import pytest

from gaussdiag.frontends.yaml.spec import (
    ValuesTensor,
    load_spec_text,
)
from tests.frontends.yaml.spec.helpers import (
    BASE,
    load_error,
)

# ---- YAML ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [
    ("1e-6", 1e-6), ("1E6", 1e6), ("-2.5e+3", -2500.0), (".5", 0.5), ("+3.", 3.0),
    ("1.5e3", 1500.0), ("3", 3), ("-7", -7), ("0x1f", 31), ("0o17", 15),
])
def test_yaml_12_numbers(text: str, value: float) -> None:
    spec = load_spec_text(BASE.replace("scale: 1.0}}\nb", f"scale: {text}}}}}\nb"), "t.yaml").spec
    got = spec.a.args["scale"]
    assert not isinstance(got, str) and got == value, (text, got)


@pytest.mark.parametrize("text", ["'1e-6'", '"1E6"', "'3'", "1_000", "0b101", "yes", "2001-12-14"])
def test_quoted_and_yaml_11_forms_stay_strings(text: str) -> None:
    spec = load_spec_text(f"description: {text}\n" + BASE, "t.yaml").spec
    assert isinstance(spec.description, str)
    assert spec.description == text.strip("'\"")


def test_numbers_in_values_and_floats() -> None:
    text = BASE.replace("mean: {shape: [3]}", "mean: {values: [1e-6, 1E6, -2.5e+3, .5]}") \
        .replace("x: {shape: [3]}", "x: {values: [0, 0, 0, 0]}")
    mean = load_spec_text(text, "t.yaml").spec.params["mean"]
    assert isinstance(mean, ValuesTensor) and mean.values == [1e-6, 1e6, -2500.0, 0.5]
    spec = load_spec_text("train: {lr: 1e-3}\nmode: train\n" + BASE, "t.yaml").spec
    assert spec.train_settings.lr == 1e-3


def test_nan_and_inf_are_yaml_floats_and_refused_where_numbers_are_written() -> None:
    """`.nan` and `.inf` are YAML 1.2 floats (not strings), and a spec may not write them:
    every number outside an expression must be finite."""
    err = load_error(BASE.replace("mean: {shape: [3]}", "mean: {shape: [3], init: {full: .nan}}"))
    assert err.key == "params.mean.init.full" and "finite" in err.message
    err = load_error(BASE.replace("scale: 1.0}}\nb", "scale: -.Inf}}\nb"))
    assert err.key == "a.args.scale" and "finite" in err.message
    err = load_error(BASE.replace("x: {shape: [3]}", "x: {values: [[1, 2], [3, .inf]]}"))
    assert err.key == "inputs.x.values[1][1]" and "found .inf" in err.message


def test_true_false_null_are_yaml_12() -> None:
    spec = load_spec_text(BASE.replace("mean: {shape: [3]}", "mean: {shape: [3], grad: False}")
                          + "expect: ~\ndescription: null\n", "t.yaml").spec
    assert spec.params["mean"].grad is False and spec.expect is None and spec.description is None
    assert load_error(BASE.replace("mean: {shape: [3]}", "mean: {shape: [3], grad: no}")) \
        .message == "expected true or false, found 'no'"


def test_duplicate_keys_name_both_lines() -> None:
    err = load_error(BASE + "at: x\nseed: 1\nat: x\n")
    assert str(err) == "t.yaml:9:1: at: duplicate key 'at' (first on line 7, again on line 9)"
    nested = load_error(BASE.replace("loc: mean, scale", "loc: mean, loc"))
    assert nested.key == "a.args.loc" and "first on line 5, again on line 5" in nested.message


def test_aliases_are_allowed() -> None:
    text = BASE.replace("a: {dist: Normal, args: {loc: mean, scale: 1.0}}",
                        "a: {dist: Normal, args: &args {loc: mean, scale: 1.0}}") \
        .replace("b: {dist: Normal, args: {loc: mean, scale: 1.0}}",
                 "b: {dist: Normal, args: *args}")
    spec = load_spec_text(text, "t.yaml").spec
    assert spec.b.args == spec.a.args == {"loc": "mean", "scale": 1.0}


def test_billion_laughs_fails_fast() -> None:
    rows = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    rows += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)]
    start = time.perf_counter()
    err = load_error("\n".join(rows) + "\n")
    assert time.perf_counter() - start < 2.0
    assert "expands to more than 100,000 values" in err.message


def test_recursive_alias() -> None:
    err = load_error("params: &p\n  mean: {shape: [3]}\n  again: *p\n")
    assert err.message == "recursive alias: a node contains itself"
    assert (err.key, err.line) == ("params.again", 3)
    assert "recursive alias" in load_error("a: &x [1, *x]\n").message


@pytest.mark.parametrize("text", [
    "params:\n  x: " + "[" * 150 + "]" * 150 + "\n",
    "params:\n  x: " + "{a: " * 150 + "1" + "}" * 150 + "\n",
    "".join("  " * i + f"k{i}:\n" for i in range(150)) + "  " * 150 + "v\n",
    "[" * 100_000,  # past any recursion limit
])
def test_deep_nesting(text: str) -> None:
    assert "nested deeper than 100 levels" in load_error(text).message


def test_deep_nesting_through_aliases() -> None:
    deep = "[" * 90 + "1" + "]" * 90
    text = f"a: &a {deep}\nb: &b {'[' * 20}*a{']' * 20}\n"
    assert "nested deeper than 100 levels" in load_error(text).message


@pytest.mark.parametrize(("text", "message"), [
    ("p: !!python/object/apply:os.system [ls]\n", "unsupported tag '!!python/object/apply:"),
    ("p: !!python/name:os.system ''\n", "unsupported tag '!!python/name:os.system'"),
    ("p: !local 1\n", "unsupported tag '!local'"),
    ("p: !!binary aGk=\n", "unsupported tag '!!binary'"),
    ("p: !!set {a: null}\n", "unsupported tag '!!set'"),
    ("a: &b {x: 1}\nc:\n  <<: *b\n", "merge keys (`<<`) are not supported"),
    ("1: x\n", "keys must be strings, found 1"),
    ("? [a]\n: x\n", "keys must be strings, found a list"),
    ("null: x\n", "keys must be strings, found null"),
])
def test_unsafe_or_unsupported_yaml(text: str, message: str) -> None:
    assert message in load_error(text).message


def test_explicit_standard_tags() -> None:
    spec = load_spec_text(BASE.replace("scale: 1.0", "scale: !!str 1.0"), "t.yaml").spec
    assert spec.a.args["scale"] == "1.0"
    spec = load_spec_text(BASE.replace("scale: 1.0", "scale: !!float 2"), "t.yaml").spec
    assert spec.a.args["scale"] == 2.0
    assert load_error("seed: !!int abc\n").message == "'abc' is not a valid !!int"


def test_line_breaks_in_keys_and_values_are_escaped() -> None:
    err = load_error('version: {"a\\nb": 1}\n')
    assert err.message == "expected the number 1, found a mapping with key a\\nb"
    err = load_error(BASE + '"odd\\u2028key": 1\n')
    assert err.key == "odd\\u2028key" and len(str(err).splitlines()) == 1


def test_control_characters() -> None:
    err = load_error("params:\n  m: \x00\n")
    assert err.line == 2 and "U+0000" in err.message


@pytest.mark.parametrize(("args", "col", "quoted"), [
    ("{loc: mean, scale: clamp(mean, min=0.1)}", 37, "clamp(mean, min=0.1)"),
    ("{loc: mean, scale: softplus(mean, beta=2, threshold=20)}", 37,
     "softplus(mean, beta=2, threshold=20)"),
    ("{scale: clamp(mean, min=0.1), loc: mean}", 26, "clamp(mean, min=0.1)"),
], ids=["last", "two-commas", "first"])
def test_flow_mapping_split_at_a_comma_says_quote_it(args: str, col: int, quoted: str) -> None:
    text = BASE.replace("a: {dist: Normal, args: {loc: mean, scale: 1.0}}",
                        f"a: {{dist: Normal, args: {args}}}")
    err = load_error(text)
    assert str(err) == (f"t.yaml:5:{col}: a.args.scale: YAML split this expression at a comma "
                        f'inside {{...}}: quote the expression, e.g. scale: "{quoted}"')


def test_quoted_or_block_expressions_with_commas_load() -> None:
    for args in ('{loc: mean, scale: "clamp(mean, min=0.1)"}',
                 "\n    loc: mean\n    scale: clamp(mean, min=0.1)"):
        text = BASE.replace("a: {dist: Normal, args: {loc: mean, scale: 1.0}}",
                            f"a:\n  dist: Normal\n  args: {args}")
        assert load_spec_text(text, "t.yaml").spec.a.args["scale"] == "clamp(mean, min=0.1)"
