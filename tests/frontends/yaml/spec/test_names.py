"""What a spec may name (`spec.names`), against the models and torch itself."""

from __future__ import annotations

import importlib.metadata
from typing import get_args

import pytest

from gaussdiag.errors import SpecError
from gaussdiag.frontends.yaml.spec import checks, load_spec_text
from gaussdiag.frontends.yaml.spec.models import TransformName
from gaussdiag.frontends.yaml.spec.names import DISTRIBUTIONS, TRANSFORMS


def test_transform_names_match_the_models_literal() -> None:
    assert get_args(TransformName) == TRANSFORMS


def test_every_distribution_is_a_torch_distribution_class() -> None:
    import torch.distributions as td

    assert len(set(DISTRIBUTIONS)) == len(DISTRIBUTIONS)
    for name in DISTRIBUTIONS:
        cls = getattr(td, name, None)
        assert isinstance(cls, type) and issubclass(cls, td.Distribution), name


def test_argument_table_is_the_installed_torch_signatures() -> None:
    """The spec checks `args:` keys against ARGUMENTS without torch; torch's own constructor
    keywords (validate_args aside) are the reference."""
    import inspect

    import torch.distributions as td

    from gaussdiag.frontends.yaml.spec.names import ARGUMENTS

    assert tuple(ARGUMENTS) == DISTRIBUTIONS
    for name, keywords in ARGUMENTS.items():
        params = inspect.signature(getattr(td, name).__init__).parameters.values()
        expected = tuple(p.name for p in params if p.name not in ("self", "validate_args")
                         and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        assert keywords == expected, name


def test_a_newer_torch_leaves_argument_names_to_the_build(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A torch newer than the table's may take more keywords: the spec then loads, and the
    build checks the names against the installed signatures."""
    text = ("params: {s: {values: [1.0]}}\ninputs: {x: {values: [0.0]}}\n"
            "a: {dist: Normal, args: {loc: 0.0, sd: s}}\n"
            "b: {dist: Normal, args: {loc: 0.0, scale: s}}\n")
    for torch_version, refused in (("2.13.0+cpu", True), ("2.9.1", True), ("2.14.0", False),
                                   ("3.0.0", False), ("nightly", False)):
        monkeypatch.setattr(importlib.metadata, "version", lambda _name, v=torch_version: v)
        checks._table_applies.cache_clear()
        if refused:
            with pytest.raises(SpecError, match="a.args.sd: unknown argument"):
                load_spec_text(text, "x.yaml")
        else:
            assert load_spec_text(text, "x.yaml").spec.a.args["sd"] == "s"
    checks._table_applies.cache_clear()
