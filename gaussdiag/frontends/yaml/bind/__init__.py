"""A loaded spec bound to torch: its point, params, inputs and both sides as torch objects.

`problem` is `BoundSpec` (the engine's `Problem`); `exprs` the spec's expressions evaluated
with located failures; `point` the seeded point; `sides` a side's distribution or
expression; `dist_args` and `singular` the per-distribution argument rules and the
singular-matrix rule; `wording` the spec's own words (params a side uses, its fix, its
`Phrases`); `dry_run` checks a spec's memory and work on the meta device before anything is
allocated, with `budget`'s meter.
"""

from gaussdiag.frontends.yaml.bind.problem import BoundSpec

__all__ = ["BoundSpec"]
