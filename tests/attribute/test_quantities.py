"""normwise, judge and growth_rate against closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from gaussdiag import tolerance as tl
from gaussdiag.attribute.quantities import growth_rate, judge, normwise
from gaussdiag.vocab import DType, Verdict


def test_normwise_definition() -> None:
    a = torch.tensor([1.0, -4.0])
    b = torch.tensor([1.5, -4.0])
    assert normwise(a, b) == pytest.approx(0.5 / 4.0)
    assert normwise(torch.zeros(3), torch.zeros(3)) == 0.0
    assert math.isinf(normwise(torch.tensor([1.0]), torch.tensor([math.inf])))
    assert normwise(torch.tensor([math.inf]), torch.tensor([math.inf])) == 0.0


def test_judge_agree_round_off_and_mismatch() -> None:
    t32, t64 = tl.tol(DType.FLOAT32), tl.tol(DType.FLOAT64)
    agree = judge("q", {DType.FLOAT32: t32 / 2, DType.FLOAT64: t64 / 2}, 1.0)
    assert agree.verdict is Verdict.AGREE and not agree.persists
    shrinks = judge("q", {DType.FLOAT32: 1e-4, DType.FLOAT64: 1e-13}, 1.0)
    assert shrinks.verdict is Verdict.ROUND_OFF and shrinks.shrink == pytest.approx(1e9)
    stays = judge("q", {DType.FLOAT32: 0.5, DType.FLOAT64: 0.5}, 1.0)
    assert stays.verdict is Verdict.MISMATCH and stays.persists


def test_growth_rate_recovers_a_geometric_gap() -> None:
    gaps = [1e-8 * 1.5 ** i for i in range(10)]
    rate = growth_rate(gaps)
    assert rate is not None and rate == pytest.approx(1.5, rel=1e-9)
    assert growth_rate([1e-8, 0.0]) is None  # too few non-zero gaps
    assert growth_rate([math.nan, math.inf, 1.0]) is None
