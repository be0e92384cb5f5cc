"""Cell classes, the low dtypes, the axes and the core's input errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gaussdiag.precision import (
    LOW_DTYPES,
    InputError,
    ScaleParam,
    accurate_digits,
    make_axis,
    precision_digits,
    sweep_normal,
)
from gaussdiag.tolerance import cell_tol
from gaussdiag.vocab import DType

from .refs import (
    SIGMA,
    Z,
)


def test_float64_is_not_a_low_dtype() -> None:
    assert DType.FLOAT64 not in LOW_DTYPES
    assert set(LOW_DTYPES) == set(DType) - {DType.FLOAT64}
    with pytest.raises(InputError, match="the reference is float64") as info:
        sweep_normal(DType.FLOAT64, ScaleParam.SCALE, SIGMA, Z)
    assert "--" not in str(info.value)       # the core names no option


@pytest.mark.parametrize(("args", "fields", "message"), [
    pytest.param(("sigma", 0.0, 1.0, 5), ("sigma_lo",), "sigma_lo must be > 0", id="lo"),
    pytest.param(("z", 2.0, 1.0, 5), ("z_lo", "z_hi"), "z_lo must be below z_hi", id="order"),
    pytest.param(("cond", 1.0, 1e3, 1), ("cond_n",), "cond_n must be between 2", id="n"),
    pytest.param(("sigma", 1.0, math.inf, 5), ("sigma_lo", "sigma_hi"),
                 "sigma_lo/sigma_hi must be finite", id="finite"),
])
def test_axis_errors_name_the_axis_inputs(args: tuple[str, float, float, int],
                                          fields: tuple[str, ...], message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        make_axis(*args)
    assert info.value.fields == fields
    worded = info.value.worded(lambda f: f"<{f}>")
    assert all(f"<{f}>" in worded for f in fields) and "--" not in str(info.value)


def test_axis_values_are_log_spaced_with_exact_ends() -> None:
    ax = make_axis("z", 1e-4, 1e20, 25, zero=True)
    vals = ax.values()
    assert vals[0] == 0.0 and vals[1] == 1e-4 and vals[-1] == 1e20 and len(vals) == 26
    steps = np.diff(np.log10(vals[1:]))
    assert np.allclose(steps, 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", LOW_DTYPES, ids=lambda d: d.value)
def test_accurate_digits_is_the_tolerance_in_digits(dtype: DType) -> None:
    eps = torch.finfo({DType.FLOAT32: torch.float32, DType.FLOAT16: torch.float16,
                       DType.BFLOAT16: torch.bfloat16}[dtype]).eps
    assert accurate_digits(dtype) == pytest.approx(-math.log10(cell_tol(dtype)))
    assert precision_digits(dtype) == pytest.approx(-math.log10(eps / 2))
