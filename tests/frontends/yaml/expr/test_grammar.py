"""Tests for expr.grammar: the whitelist is the spec's list, the limits are sane."""

from __future__ import annotations

from gaussdiag.frontends.yaml import expr as ex
from tests.frontends.yaml.expr.common import SPEC_FUNCTIONS

# ---- the whitelist ---------------------------------------------------------------------------

def test_whitelist_is_the_spec_list() -> None:
    assert list(ex.FUNCTIONS) == SPEC_FUNCTIONS


def test_limits_are_sane() -> None:
    assert 100 <= ex.MAX_LENGTH <= 10_000
    assert 8 <= ex.MAX_DEPTH <= 100  # far below the interpreter's recursion limit
    assert ex.MAX_NODES >= 100
    assert ex.MAX_EXPONENT >= 4
