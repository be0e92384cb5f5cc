"""Pydantic errors as located, plain messages (`gaussdiag.frontends.yaml.spec.messages`)."""

from __future__ import annotations

from gaussdiag.frontends.yaml.spec import (
    load_spec_text,
)
from tests.frontends.yaml.spec.helpers import (
    BASE,
    load_error,
)


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
    assert str(err) == "t.yaml:2:1: version: unsupported spec version 3 (this gaussdiag reads " \
                       "version 1)"
    assert load_error("version: '1'\n" + BASE).message == "expected the number 1, found '1'"
    assert "unsupported spec version 1.5 " in load_error("version: 1.5\n" + BASE).message
    assert load_spec_text("version: 1\n" + BASE, "t.yaml").spec.version == 1


def test_unknown_key_without_close_match_lists_fields() -> None:
    err = load_error(BASE.replace("x: {shape: [3]}", "x: {shape: [3], zzzz: 1}"))
    assert err.message == "unknown key (expected one of: shape, init, grad)"


def test_args_written_as_a_list_suggests_a_mapping_that_loads() -> None:
    """The suggested `args:` is the list's items under the distribution's own argument names,
    in torch's positional order; put in place of the list, the spec loads."""
    import re
    from pathlib import Path

    from gaussdiag.errors import SpecError
    from gaussdiag.frontends.yaml.spec.names import ARGUMENTS

    path = Path(__file__).parents[3] / "specs" / "invalid" / "args_positional.yaml"
    text = path.read_text()
    try:
        load_spec_text(text, "t.yaml")
    except SpecError as err:
        problems = err.problems
    else:
        raise AssertionError("args: [...] loaded")
    fixed = text
    for p in problems:
        side = p.key.split(".")[0] if p.key else ""
        suggested = re.search(r"write `args: (\{.*?\})` \(", p.message)
        assert suggested, p.message
        written = re.search(rf"^{side}: .*args: (\[.*\])}}$", text, flags=re.M)
        assert written, side
        fixed = fixed.replace(written[1], suggested[1])
        dist = re.search(rf"^{side}: {{dist: (\w+)", text, flags=re.M)[1]  # type: ignore[index]
        assert f"arguments: {', '.join(ARGUMENTS[dist])})" in p.message
    spec = load_spec_text(fixed, "t.yaml").spec
    assert dict(spec.a.args) == {"loc": "mean", "covariance_matrix": "cov"}
    assert dict(spec.b.args) == {"loc": "mean", "scale": "clamp(mean, min=1.0)"}
