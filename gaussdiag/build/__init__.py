"""The build stage: a spec's point, params, inputs and both sides as torch objects.

`problem` is the YAML front end's `BoundSpec`; `point` the seeded point, its jitter and slicing;
`sides` a side's distribution or expression; `failures` constraint breaks and their fixes;
`device` devices, dtypes and seeded draws; `dist_args`, `singular` and `torch_warnings` the
per-distribution argument rules, the singular-matrix rule and torch's warnings as notes;
`wording` the spec's own words (params a side uses, its fix, its `Phrases`); `alternatives`
the argument swaps a fix may offer, in both front ends' words; `dry_run` checks a spec's
memory and work on the meta device before anything is allocated, with `budget`'s meter.
"""

from gaussdiag.build.built import BuiltSide, Env, Overrides
from gaussdiag.build.device import resolve_device, seeded, torch_dtype
from gaussdiag.build.failures import LINALG_FIX, ConstraintFailure, constraint_failure
from gaussdiag.build.point import cut_copy, jitter_point, largest
from gaussdiag.build.problem import BoundSpec

__all__ = [
    "LINALG_FIX",
    "BuiltSide",
    "ConstraintFailure",
    "Env",
    "Overrides",
    "BoundSpec",
    "constraint_failure",
    "cut_copy",
    "jitter_point",
    "largest",
    "resolve_device",
    "seeded",
    "torch_dtype",
]
