"""gaussdiag: says whether two ways of writing the same PyTorch distribution differ by a
parameterization bug or by floating-point round-off."""

from __future__ import annotations

__version__ = "0.1.0"
