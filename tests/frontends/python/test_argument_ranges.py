"""gaussdiag.compare's keywords are range-checked, each naming its keyword, before any of the
caller's code runs: a seed beyond torch's range was reported as the side raising."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch.distributions import Normal

import gaussdiag

CALLS: list[str] = []


def side(m: torch.Tensor) -> Normal:
    CALLS.append("called")
    return Normal(m, 1.0)


X = {"x": torch.zeros(3)}
BAD: dict[str, tuple[dict[str, Any], str]] = {
    "seed_2_80": ({"seed": 2**80}, "seed must be between 0 and 2**64 - 1"),
    "seed_negative": ({"seed": -1}, "seed must be between 0 and 2**64 - 1"),
    "sample_shape_2_70": ({"mode": "rsample", "sample_shape": (2**70,)},
                          "sample_shape: a shape is a tuple of sizes from 0 to 2**63 - 1"),
    "lr_1e39": ({"mode": "train", "inputs": X, "train": {"lr": 1e39}},
                "train: lr 1e+39 is too large for the float32 run"),
    "lr_float16_sgd": ({"mode": "train", "inputs": X, "dtypes": ["float16"],
                        "train": {"lr": 1e5, "optimizer": "sgd"}},
                       "train: lr 100000 is too large for the float16 run"),
    "steps_beyond_the_cap": ({"mode": "train", "inputs": X, "train": {"steps": 10**6}},
                             "train: steps must be an integer from 1 to 100,000"),
    "dtypes_a_string": ({"dtypes": "float32"}, "dtypes must be a list of dtype names"),
    "dtypes_empty": ({"dtypes": []}, "dtypes: list at least one dtype"),
    "device_not_a_string": ({"device": 0}, "device must be a string"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_an_argument_out_of_range_is_refused_by_name_before_any_side_runs(case: str) -> None:
    keywords, message = BAD[case]
    CALLS.clear()
    with pytest.raises(gaussdiag.GaussdiagError) as info:
        gaussdiag.compare(side, side, params={"m": torch.zeros(3)}, **keywords)
    assert str(info.value).startswith(message), str(info.value)
    assert CALLS == []
    with pytest.raises(gaussdiag.GaussdiagError):  # a Pair says so at its own line
        gaussdiag.Pair(side, side, params={"m": torch.zeros(3)}, **keywords)


def test_the_largest_seed_is_taken() -> None:
    report = gaussdiag.compare(side, side, params={"m": torch.zeros(3)}, inputs=X,
                               seed=2**64 - 1)
    assert report.verdict == "agree"
