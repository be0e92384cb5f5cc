"""Cross-field rules (`gaussdiag.frontends.yaml.spec.checks`)."""

from __future__ import annotations

import pytest

from gaussdiag.frontends.yaml.spec import (
    DEFAULT_MAX_ELEMENTS,
    load_spec_text,
)
from tests.frontends.yaml.spec.helpers import (
    BASE,
    load_error,
)


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



def test_three_mistakes_report_three_lines_in_document_order() -> None:
    # Model stage: a bad bool, a negative size, a misspelt key.
    text = BASE.replace("mean: {shape: [3]}", "mean: {shape: [3], grad: yes}").replace(
        "x: {shape: [3]}", "x: {shape: [-3]}").replace(
        "b: {dist: Normal, args: {loc: mean, scale: 1.0}}",
        "b: {dist: Normal, args: {loc: mean, scale: 1.0}, evnt_dims: 1}")
    err = load_error(text)
    assert str(err).splitlines() == [
        "t.yaml:2:22: params.mean.grad: expected true or false, found 'yes'",
        "t.yaml:4:15: inputs.x.shape[0]: expected a number >= 0, found -3",
        "t.yaml:6:50: b.evnt_dims: unknown key (did you mean 'event_dims'?)",
    ]
    assert [p.key for p in err.problems] == ["params.mean.grad", "inputs.x.shape[0]",
                                             "b.evnt_dims"]
    assert (err.key, err.line, err.col) == ("params.mean.grad", 2, 22)  # the first


def test_three_cross_field_mistakes_report_three_lines() -> None:
    # Cross-field stage: an unknown input, a misspelt distribution, an undeclared name.
    text = BASE.replace("a: {dist: Normal,", "a: {dist: Normall,").replace(
        "scale: 1.0}}\nb", "scale: exp(nope)}}\nb").replace("inputs:", "at: y\ninputs:")
    assert str(load_error(text)).splitlines() == [
        "t.yaml:3:1: at: unknown input 'y' (declared inputs: x)",
        "t.yaml:6:5: a.dist: unknown distribution 'Normall' (did you mean 'Normal'?)",
        "t.yaml:6:38: a.args.scale: rejected expression: unknown name 'nope': `nope`",
    ]


@pytest.mark.parametrize(("text", "line"), [
    (BASE, 1),
    ("# a comment first\n\n" + BASE, 3),
], ids=["at-top", "after-comments"])
def test_missing_side_names_the_line_of_the_top_level_mapping(text: str, line: int) -> None:
    err = load_error(text.replace("b: {dist: Normal, args: {loc: mean, scale: 1.0}}\n", ""))
    assert str(err) == (f"t.yaml:{line}:1: missing required key 'b': a spec compares two "
                        "sides, a and b; side a alone is checked only under a switch "
                        "(`switches: [compile]`, or --switch)")
