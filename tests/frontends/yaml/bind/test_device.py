"""Devices: an absent one is a clear error; a side pinned to CUDA matches the CPU side."""

from __future__ import annotations

import pytest
import torch

from gaussdiag.engine.device import resolve_device
from gaussdiag.engine.evaluate import run_side
from gaussdiag.errors import DeviceError
from gaussdiag.frontends.yaml.bind import BoundSpec
from gaussdiag.vocab import DType, SideName
from tests.conftest import cuda_only, loaded
from tests.frontends.yaml.bind.common import SPEC


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_absent_cuda_is_a_clear_device_error(device: str) -> None:
    with pytest.raises(DeviceError) as info:
        resolve_device(device)
    assert "CUDA is not available" in str(info.value)


def test_unknown_device_and_auto() -> None:
    with pytest.raises(DeviceError):
        resolve_device("tpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@cuda_only
def test_cuda_side_matches_cpu_side() -> None:
    text = SPEC.replace("a: {dist: Normal,", "a: {device: cuda, dist: Normal,")
    p = BoundSpec(loaded(text))
    ra = run_side(p, SideName.A, DType.FLOAT64)
    rb = run_side(p, SideName.B, DType.FLOAT64)
    assert torch.allclose(ra.value, rb.value)
    assert ra.memory_kind == "peak allocated"
