"""Loading specs (`gaussdiag.spec`): the contract's example, golden messages for bad specs,
YAML 1.2 scalars, hostile YAML, and a property that nothing but `SpecError` escapes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gaussdiag.errors import SpecError
from gaussdiag.spec import (
    DEFAULT_MAX_ELEMENTS,
    MAX_FILE_BYTES,
    AffineTransform,
    ExprTensor,
    EyeInit,
    InitTensor,
    LoadedSpec,
    NormalInit,
    PowerTransform,
    SampleInput,
    UniformInit,
    ValuesTensor,
    format_path,
    load_spec,
    load_spec_text,
)
from gaussdiag.vocab import DType, Method, Mode, Optimizer, SideName, Verdict

ROOT = Path(__file__).resolve().parent.parent
SPECS = Path(__file__).resolve().parent / "specs"
INVALID = sorted((SPECS / "invalid").glob("*.yaml"))
VALID = sorted((SPECS / "valid").glob("*.yaml"))
EXAMPLE = (SPECS / "valid" / "mvn_diag_vs_normal.yaml").read_text(encoding="utf-8")

# Derandomized: the same examples on every machine, so a CI failure reproduces locally.
PROPERTY = settings(max_examples=150, deadline=None, derandomize=True)

# A small valid spec used as the base of the tests that vary one thing.
BASE = """\
params:
  mean: {shape: [3]}
inputs:
  x: {shape: [3]}
a: {dist: Normal, args: {loc: mean, scale: 1.0}}
b: {dist: Normal, args: {loc: mean, scale: 1.0}}
"""


def load_error(text: str, file: str = "t.yaml", **kwargs: Any) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_spec_text(text, file, **kwargs)
    return info.value


# ---- the contract's example ----------------------------------------------------------------


def test_contract_example_loads_with_its_values() -> None:
    loaded = load_spec(SPECS / "valid" / "mvn_diag_vs_normal.yaml")
    spec = loaded.spec
    assert spec.version == 1
    assert spec.name == "mvn-diag-vs-normal"
    assert spec.description is not None and spec.description.startswith("MultivariateNormal")
    assert spec.seed == 0
    assert spec.dtypes == [DType.FLOAT32, DType.FLOAT64]
    assert spec.device == "cpu"
    assert spec.mode is Mode.LOG_PROB
    assert spec.expect is Verdict.PARAMETERIZATION
    assert spec.at == "x"

    mean, std = spec.params["mean"], spec.params["std"]
    assert isinstance(mean, InitTensor) and mean.shape == [10] and mean.init == "zeros"
    assert isinstance(std, InitTensor) and std.shape == [10]
    assert isinstance(std.init, UniformInit) and std.init.uniform == (0.5, 2.0)
    x = spec.inputs["x"]
    assert isinstance(x, SampleInput) and x.sample is SideName.B and x.sample_shape == [64]

    assert spec.a.dist == "MultivariateNormal"
    assert spec.a.args == {"loc": "mean", "covariance_matrix": "diag_embed(std)"}
    assert spec.a.event_dims is None
    assert spec.b.dist == "Normal" and spec.b.args == {"loc": "mean", "scale": "std"}
    assert spec.b.event_dims == 1
    assert spec.b.label == "Normal(mean, std) summed over the last dim"
    assert spec.at_for(SideName.A) == spec.at_for(SideName.B) == "x"

    # Lines of keys (1-based), for the errors of later stages.
    assert loaded.line_of(("params", "std")) == 10
    assert loaded.line_of(("b", "event_dims")) == 23
    assert loaded.line_of(("a", "args", "covariance_matrix")) == 18
    assert loaded.line_of(("a", "args", "no-such-arg")) == 18  # nearest ancestor
    assert loaded.line_of(("dtypes", 1)) == 5
    assert loaded.line_of(()) is None


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_specs_load(path: Path) -> None:
    loaded = load_spec(path)
    assert loaded.file == str(path)
    assert loaded.spec.name


def test_valid_spec_values() -> None:
    rs = load_spec(SPECS / "valid" / "rsample_expr.yaml").spec
    assert rs.mode is Mode.RSAMPLE and rs.sample_shape == [16] and rs.a.method is Method.RSAMPLE
    assert rs.b.kind == "expr" and rs.expect is Verdict.AGREE
    log_std = rs.params["log_std"]
    assert isinstance(log_std, InitTensor) and isinstance(log_std.init, NormalInit)
    assert log_std.init.normal.std == 0.1
    assert isinstance(rs.params["std"], ExprTensor)

    tr = load_spec(SPECS / "valid" / "train_log_prob.yaml").spec
    assert tr.train_settings.steps == 20 and tr.train_settings.optimizer is Optimizer.SGD
    assert tr.train_settings.lr == 0.01 and tr.device == "auto" and tr.b.device == "cpu"
    assert tr.run_dtypes == [DType.FLOAT32, DType.FLOAT64]

    many = load_spec(SPECS / "valid" / "transforms_two_inputs.yaml").spec
    assert isinstance(many.params["loc"], ValuesTensor) and many.params["loc"].values == 0.5
    assert many.params["scale"].grad is False
    eye2 = many.params["eye2"]
    assert isinstance(eye2, InitTensor) and isinstance(eye2.init, EyeInit)
    assert many.a.transforms[0] == "sigmoid"
    affine, power = many.a.transforms[1], many.a.transforms[2]
    assert isinstance(affine, AffineTransform) and affine.affine.loc == "shift"
    assert affine.affine.scale == 2.0 and not isinstance(affine.affine.scale, str)
    assert isinstance(power, PowerTransform) and power.power == 1.0
    assert many.at_for(SideName.A) == "x" and many.at_for(SideName.B) == "y"


def test_name_defaults_to_file_stem() -> None:
    assert load_spec_text(BASE, "configs/my_spec.yaml").spec.name == "my_spec"
    assert load_spec_text("name: given\n" + BASE, "configs/my_spec.yaml").spec.name == "given"


def test_defaults() -> None:
    spec = load_spec_text(BASE, "t.yaml").spec
    assert spec.version == 1 and spec.seed == 0 and spec.device == "cpu"
    assert spec.dtypes == [DType.FLOAT32, DType.FLOAT64] and spec.mode is Mode.LOG_PROB
    assert spec.sample_shape == [] and spec.train is None and spec.expect is None
    assert spec.at_for(SideName.A) == "x"


# ---- golden messages -----------------------------------------------------------------------


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_spec_message(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = path.with_suffix(".expected").read_text(encoding="utf-8").rstrip("\n")
    monkeypatch.chdir(path.parent)
    with pytest.raises(SpecError) as info:
        load_spec(path.name)
    message = str(info.value)
    assert message == expected, f"{path.name}:\n  got:      {message}\n  expected: {expected}"
    assert "\n" not in message
    for jargon in ("pydantic", "Input should", "errors.pydantic.dev", "InitTensor",
                   "function-after", "literal[", "Traceback", "Field required"):
        assert jargon not in message, f"{path.name}: {jargon!r} in {message!r}"


def test_golden_cases_are_complete() -> None:
    assert len(INVALID) >= 25
    for path in INVALID:
        assert path.with_suffix(".expected").is_file(), f"no .expected for {path.name}"
    expected = {p.stem for p in (SPECS / "invalid").glob("*.expected")}
    assert expected == {p.stem for p in INVALID}, "an .expected file without its .yaml"


def test_error_carries_file_key_and_line() -> None:
    err = load_error(BASE.replace("scale: 1.0}}\nb", "scael: 1.0}, evnt_dims: 1}\nb"),
                     "configs/x.yaml")
    assert (err.file, err.key, err.line) == ("configs/x.yaml", "a.evnt_dims", 5)
    assert err.message == "unknown key (did you mean 'event_dims'?)"
    assert str(err) == "configs/x.yaml:5: a.evnt_dims: unknown key (did you mean 'event_dims'?)"


def test_first_problem_in_document_order() -> None:
    # pydantic reports `dtypes` before `expect` (field order); the file has `expect` first.
    err = load_error("expect: bogus\ndtypes: [float8]\n" + BASE)
    assert err.key == "expect" and err.line == 1
    # Same line: the column decides (the model declares `event_dims` before `method`).
    err = load_error(BASE.replace("scale: 1.0}}\nb", "scale: 1.0}, method: bogus, "
                                                      "event_dims: -1}\nb"))
    assert err.key == "a.method" and err.line == 5


def test_version_is_checked_first() -> None:
    err = load_error("params: 5\nversion: 3\nfoo: bar\n")
    assert str(err) == "t.yaml:2: version: unsupported spec version 3 (this gaussdiag reads " \
                       "version 1)"
    assert load_error("version: '1'\n" + BASE).message == "expected the number 1, found '1'"
    assert "unsupported spec version 1.5 " in load_error("version: 1.5\n" + BASE).message
    assert load_spec_text("version: 1\n" + BASE, "t.yaml").spec.version == 1


def test_unknown_key_without_close_match_lists_fields() -> None:
    err = load_error(BASE.replace("x: {shape: [3]}", "x: {shape: [3], zzzz: 1}"))
    assert err.message == "unknown key (expected one of: shape, init, grad)"


def test_max_elements_is_overridable() -> None:
    text = BASE.replace("x: {shape: [3]}", "x: {shape: [1000, 1000]}")
    load_spec_text(text, "t.yaml")  # 1e6 <= the default
    err = load_error(text, max_elements=999_999)
    assert err.key == "inputs.x.shape" and "--max-elements" in err.message
    assert "1,000,000 elements" in err.message and "999,999" in err.message
    assert DEFAULT_MAX_ELEMENTS == 2**26
    rs = "mode: rsample\nsample_shape: [10000, 10000]\n" + BASE.replace(
        "inputs:\n  x: {shape: [3]}\n", "")
    assert load_error(rs).key == "sample_shape"


def test_located_errors_for_later_stages() -> None:
    loaded = load_spec_text(EXAMPLE, "configs/mvn.yaml")
    err = loaded.error(("a", "args", "covariance_matrix"), "not positive definite")
    assert str(err) == "configs/mvn.yaml:18: a.args.covariance_matrix: not positive definite"
    assert str(loaded.error("b.args.scale", "bad")) == "configs/mvn.yaml:22: b.args.scale: bad"
    assert loaded.error("b.event_dims", "x").line == 23
    assert loaded.error((), "whole spec").render() == "configs/mvn.yaml: whole spec"

    many = load_spec(SPECS / "valid" / "transforms_two_inputs.yaml")
    for dotted in ("a.transforms[1].affine.loc", "a.transforms.1.affine.loc"):
        err = many.error(dotted, "m")
        assert (err.key, err.line) == ("a.transforms[1].affine.loc", 17)
    assert format_path(("a", "transforms", 0, "power")) == "a.transforms[0].power"


def test_loaded_spec_is_frozen() -> None:
    loaded = load_spec_text(BASE, "t.yaml")
    assert isinstance(loaded, LoadedSpec)
    with pytest.raises(AttributeError):
        loaded.file = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        loaded.lines[("a",)] = 1  # type: ignore[index]


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
    assert str(err) == "t.yaml:9: at: duplicate key 'at' (first on line 7, again on line 9)"
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


# ---- files ---------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    err = load_error_file(tmp_path / "nope.yaml")
    assert str(err) == f"{tmp_path / 'nope.yaml'}: file not found"


def test_directory(tmp_path: Path) -> None:
    assert load_error_file(tmp_path).message == "is a directory, expected a YAML spec file"


def test_empty_and_comment_only_files(tmp_path: Path) -> None:
    for text in ("", "\n\n", "# only a comment\n", "---\n"):
        path = tmp_path / "e.yaml"
        path.write_text(text, encoding="utf-8")
        assert load_error_file(path).message.startswith("empty file: expected a mapping with "
                                                        "keys version, params, a, b")


@pytest.mark.parametrize("text", ["- 1\n", "just text\n", "42\n", "1.5", "null\n"])
def test_top_level_not_a_mapping(text: str) -> None:
    assert load_error(text).message.startswith("expected a mapping with keys version, params")


def test_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"params:\n  mean: {shape: [3]}\n# caf\xe9\n")
    err = load_error_file(path)
    assert err.line == 3 and "not UTF-8" in err.message
    utf16 = tmp_path / "utf16.yaml"
    utf16.write_bytes(BASE.encode("utf-16"))
    assert "not UTF-8" in load_error_file(utf16).message


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert load_spec(path).spec.name == "bom"


def test_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    assert "larger than the 1 MiB limit" in load_error_file(path).message
    assert "larger than the 1 MiB limit" in load_error("#" * (MAX_FILE_BYTES + 1)).message


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "locked.yaml"
    path.write_text(BASE, encoding="utf-8")
    path.chmod(0)
    assert "permission denied" in load_error_file(path).message


def test_line_breaks_in_keys_and_values_are_escaped() -> None:
    err = load_error('version: {"a\\nb": 1}\n')
    assert err.message == "expected the number 1, found a mapping with key a\\nb"
    err = load_error(BASE + '"odd\\u2028key": 1\n')
    assert err.key == "odd\\u2028key" and len(str(err).splitlines()) == 1


def test_control_characters() -> None:
    err = load_error("params:\n  m: \x00\n")
    assert err.line == 2 and "U+0000" in err.message


def load_error_file(path: Path) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.file == str(path)
    return info.value


# ---- properties ----------------------------------------------------------------------------

_TOKENS = ["params", "inputs", "a", "b", "x", "mean", "dist", "Normal", "args", "values",
           "shape", "init", "expr", "sample", "version", "mode", "rsample", "at", ":", ": ",
           ",", "-", "- ", "[", "]", "{", "}", "\n", "  ", "\t", "'", '"', "&a", "*a", "!", "!!",
           "#", "|", ">", "?", "%", "@", "`", "<<", "1", "1e-6", ".nan", "---", "...", "~",
           "\\u", "\x00", "é", "\ufeff"]


def _check_only_spec_errors(text: str) -> None:
    try:
        loaded = load_spec_text(text, "h.yaml")
    except SpecError as err:
        assert err.file == "h.yaml" and len(str(err).splitlines()) == 1, repr(str(err))
    else:
        assert isinstance(loaded, LoadedSpec)


@PROPERTY
@given(st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join))
def test_yaml_ish_text_raises_only_spec_errors(text: str) -> None:
    _check_only_spec_errors(text)


@PROPERTY
@given(st.text(max_size=200))
def test_random_text_raises_only_spec_errors(text: str) -> None:
    _check_only_spec_errors(text)


_KEYS = st.sampled_from(["version", "name", "seed", "dtypes", "device", "params", "inputs",
                         "a", "b", "at", "mode", "sample_shape", "train", "expect", "dist",
                         "args", "transforms", "event_dims", "log_prob", "expr", "method",
                         "values", "shape", "init", "grad", "sample", "full", "normal",
                         "uniform", "eye", "affine", "power", "loc", "scale", "mean", "std",
                         "x", "steps", "lr", "optimizer", "label"]) | st.text(max_size=8)
_SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
            | st.sampled_from(["zeros", "normal", "Normal", "float32", "x", "mean", "a", "b",
                               "exp(mean)", "cuda:0", "train", "rsample", "agree", "1e-6"])
            | st.text(max_size=10))
_TREES = st.recursive(_SCALARS, lambda children: st.lists(children, max_size=4)
                      | st.dictionaries(_KEYS, children, max_size=5), max_leaves=25)


def _dump(tree: Any) -> str:
    return yaml.safe_dump(tree, allow_unicode=True, sort_keys=False)


@PROPERTY
@given(st.dictionaries(_KEYS, _TREES, max_size=8))
def test_random_trees_raise_only_spec_errors(tree: dict[str, Any]) -> None:
    _check_only_spec_errors(_dump(tree))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*prefix, index))
    return out


_EXAMPLE_TREE = yaml.safe_load(EXAMPLE)
_EXAMPLE_PATHS = _paths(_EXAMPLE_TREE)


@PROPERTY
@given(st.sampled_from(_EXAMPLE_PATHS), _TREES, st.booleans())
def test_mutated_example_raises_only_spec_errors(path: tuple[Any, ...], new: Any,
                                                 delete: bool) -> None:
    """One subtree of the contract's example replaced (or deleted): reaches every stage."""
    import copy

    tree = copy.deepcopy(_EXAMPLE_TREE)
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    _check_only_spec_errors(_dump(tree))


# ---- no torch ------------------------------------------------------------------------------


def test_loading_specs_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from gaussdiag.errors import SpecError\n"
        "from gaussdiag.spec import load_spec, load_spec_text\n"
        f"load_spec({str(SPECS / 'valid' / 'mvn_diag_vs_normal.yaml')!r})\n"
        f"for path in {[str(p) for p in INVALID]!r}:\n"
        "    try:\n"
        "        load_spec(path)\n"
        "    except SpecError:\n"
        "        pass\n"
        "loaded = sys.modules.keys()\n"
        "heavy = sorted(m for m in loaded if m.split('.')[0] == 'torch')\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")]
    assert "gaussdiag.spec" in imported
    assert not [m for m in imported if m.split(".")[0] == "torch"]
