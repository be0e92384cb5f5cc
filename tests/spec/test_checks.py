"""Cross-field rules (`gaussdiag.spec.checks`)."""

from __future__ import annotations

from gaussdiag.spec import (
    DEFAULT_MAX_ELEMENTS,
    load_spec_text,
)
from tests.spec.helpers import (
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
