"""What a spec may name (`gaussdiag.spec.names`), against the models and torch itself."""

from __future__ import annotations

from typing import get_args

from gaussdiag.spec.models import TransformName
from gaussdiag.spec.names import DISTRIBUTIONS, TRANSFORMS


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

    from gaussdiag.spec.names import ARGUMENTS

    assert tuple(ARGUMENTS) == DISTRIBUTIONS
    for name, keywords in ARGUMENTS.items():
        params = inspect.signature(getattr(td, name).__init__).parameters.values()
        expected = tuple(p.name for p in params if p.name not in ("self", "validate_args")
                         and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        assert keywords == expected, name
