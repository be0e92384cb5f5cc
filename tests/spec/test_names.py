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
