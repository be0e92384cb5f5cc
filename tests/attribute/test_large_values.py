"""A large value or gradient is described by its own sign and size: log N(-10; 0, 0.01) is
about -5e5 (not "1e6"), d/dloc there about -1e5, d/dscale about +1e8."""

from __future__ import annotations

import math

import pytest
import torch

from gaussdiag.attribute.accuracy import quantity_accuracy
from gaussdiag.vocab import DType
from tests.conftest import run

SPEC = """
    version: 1
    params:
      loc:   {values: [0.0]}
      scale: {values: [0.01]}
    inputs:
      x: {values: [-10.0]}
    a: {dist: Normal, args: {loc: loc, scale: scale}}
    b: {log_prob: "-0.5 * ((x - loc) / scale)**2 - log(scale) - 0.9189385332046727"}
"""


def _closed_forms(loc: float, scale: float, x: float) -> dict[str, float]:
    z = (x - loc) / scale
    return {"log_prob": -0.5 * z * z - math.log(scale) - 0.5 * math.log(2 * math.pi),
            "grad[loc]": (x - loc) / scale ** 2,
            "grad[scale]": ((x - loc) ** 2 - scale ** 2) / scale ** 3}


def _one_digit(x: float) -> str:
    """x as a sign and one significant digit: -5e5."""
    mantissa, exponent = f"{x:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


@pytest.mark.parametrize("quantity", ["log_prob", "grad[loc]", "grad[scale]"])
def test_note_gives_the_number_s_own_sign_and_size(quantity: str) -> None:
    exact = _closed_forms(0.0, 0.01, -10.0)[quantity]
    expected = {"log_prob": "-5e5", "grad[loc]": "-1e5", "grad[scale]": "1e8"}[quantity]
    assert _one_digit(exact) == expected  # the closed form, independently rounded
    notes = run(SPEC).notes
    note = next((n for n in notes if n.startswith(f"{quantity} is about ")), None)
    assert note is not None, notes
    assert note.startswith(f"{quantity} is about {expected}, large but correct"), note


def test_extreme_is_the_element_of_largest_magnitude_with_its_sign() -> None:
    ref = torch.tensor([3.0, -7.0, 5.0], dtype=torch.float64)
    q = quantity_accuracy("v", ref.float(), ref, DType.FLOAT32)
    assert (q.magnitude, q.extreme) == (7.0, -7.0)
