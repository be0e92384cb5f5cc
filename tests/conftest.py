"""Shared helpers: build and diagnose specs written inline in tests."""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path

import pytest

from gaussdiag.frontends.yaml.run import diagnose, diagnose_file
from gaussdiag.frontends.yaml.spec import LoadedSpec, load_spec_text
from gaussdiag.pipeline import Options
from gaussdiag.results import SpecReport


def loaded(text: str, file: str = "test.yaml") -> LoadedSpec:
    return load_spec_text(textwrap.dedent(text), file)


def run(text: str, **options: object) -> SpecReport:
    """Diagnose an inline spec with default options (CPU)."""
    return diagnose(loaded(text), Options(**options))  # type: ignore[arg-type]


@functools.cache
def config_report(name: str) -> SpecReport:
    """A shipped config's diagnosis, once per test session: several modules check the same
    configs, and a train config takes seconds."""
    root = Path(__file__).parent.parent
    return diagnose_file(str(root / "configs" / f"{name}.yaml"), Options())


def has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


cuda_only = pytest.mark.skipif("not __import__('torch').cuda.is_available()",
                               reason="needs a CUDA device")
