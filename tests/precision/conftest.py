"""Module-wide results the precision tests share (each computed once per session)."""

from __future__ import annotations

import pytest

from gaussdiag.precision import (
    MvnSweep,
    NormalSweep,
    ScaleParam,
    SpecPrecision,
    sweep_mvn,
    sweep_normal,
)

from .refs import COND, F32, ILL, SIGMA, TRIL, Z, spec_check


@pytest.fixture(scope="session")
def sweep32() -> NormalSweep:
    return sweep_normal(F32, ScaleParam.SCALE, SIGMA, Z)


@pytest.fixture(scope="session")
def mvn32() -> MvnSweep:
    return sweep_mvn(F32, 4, COND)


@pytest.fixture(scope="session")
def ill32() -> SpecPrecision:
    return spec_check(ILL)


@pytest.fixture(scope="session")
def tril32() -> SpecPrecision:
    return spec_check(TRIL)
