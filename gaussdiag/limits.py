"""Bounds on what an untrusted spec may make the process do (no heavy imports: the CLI reads
them to build its options)."""

from __future__ import annotations

# Largest tensor a spec may create, per tensor: 512 MiB in float64, room for a 4096 x 4096
# covariance. `--max-elements` overrides it.
DEFAULT_MAX_ELEMENTS = 2**26

# Most optimizer steps a `train:` block may ask for: each step rebuilds and differentiates both
# sides in every dtype, so the count bounds the run's time (the work budget bounds the rest).
MAX_TRAIN_STEPS = 100_000
