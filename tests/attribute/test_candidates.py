"""CANDIDATES: each undoes its inverse; compositions skip a candidate followed by its inverse."""

from __future__ import annotations

import pytest
import torch

from gaussdiag.attribute.candidates import CANDIDATES, Candidate, compositions, template_of


@pytest.mark.parametrize("c", CANDIDATES, ids=lambda c: c.name)
def test_candidate_inverse_round_trips(c: Candidate) -> None:
    inverse = next(x for x in CANDIDATES if x.name == c.inverse)
    if c.matrix:
        a = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
        if c.name == "gram":  # gram takes a Cholesky factor, its inverse gives it back
            a = torch.linalg.cholesky(a)
    elif c.name == "logit":  # defined on probabilities
        a = torch.tensor([0.1, 0.45, 0.9], dtype=torch.float64)
    else:
        a = torch.tensor([0.3, 1.7, 2.5], dtype=torch.float64)
    back = inverse.fn(c.fn(a))
    assert torch.allclose(back, a, atol=1e-12), (c.name, a, back)


def test_compositions_never_pair_a_candidate_with_its_inverse() -> None:
    pairs = list(compositions())
    assert all(second.name != first.inverse for first, second in pairs)
    inverses = sum(1 for c in CANDIDATES for d in CANDIDATES if d.name == c.inverse)
    assert len(pairs) == len(CANDIDATES) ** 2 - inverses


def test_template_of_a_composition_nests_the_first_step_inside() -> None:
    by = {c.name: c for c in CANDIDATES}
    assert template_of((by["exp"], by["square"])) == "(exp({0}))**2"
    # a template that names the param twice formats with one name (logit's)
    assert template_of((by["logit"],)).format("p") == "log(p) - log1p(-p)"
    assert template_of((by["sqrt"],)).format("v") == "sqrt(v)"
