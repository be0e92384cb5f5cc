"""`Phrases`: the few words the engine's messages borrow from a front end, so that a fix for
a YAML spec names its keys and a fix for Python callables names Python calls. Each front end
has one (`gaussdiag.frontends.yaml.bind.wording.SPEC_PHRASES`,
`gaussdiag.frontends.python.problem.LIVE_PHRASES`), exposed as `Problem.phrases`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Phrases:
    """Clauses slotted into the engine's sentences (rules.py, explain.py).

    `point`: the point the sides are compared at ("the spec's point").
    `constant`: how to declare a param a constant, after "or" in the no-gradient fix.
    `use_rsample`: how to make side `{side}` draw with rsample() instead of sample().
    `structure`: an example of deriving a structured param (`L`) from a free one (`raw`).
    `bisect`: how to compare the sides term by term, starting from a hand-written log-density.
    """

    point: str
    constant: str
    use_rsample: str
    structure: str
    bisect: str
