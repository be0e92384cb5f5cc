"""The parameterization verdict in words: what the found transform says the side expects,
where the target was computed, and the fix in the front end's own words (`Problem.fix`,
`Problem.argument_fix`), with the other side's fix when its inverse explains too."""

from __future__ import annotations

from gaussdiag.attribute.candidates import template_of
from gaussdiag.attribute.facts import Facts
from gaussdiag.attribute.search import Explanation
from gaussdiag.results import Alternative


def describe(facts: Facts, found: Explanation) -> tuple[str, str, tuple[Alternative, ...]]:
    """The explanation, the fix (every side's), and the other sides' causes with their fixes."""
    text, fix = _one(facts, found)
    also = tuple(Alternative(e.cause, _one(facts, e)[1]) for e in found.also)
    for e, alt in zip(found.also, also, strict=True):
        other = alt.cause
        text += (f". Fixing side {other.side.value} instead works too: "
                 f"{_applied(e, _what(other.target, other.on))} there makes the sides "
                 "agree")
        fix += f"; or, {alt.fix}"
    return text, fix, also


def _one(facts: Facts, found: Explanation) -> tuple[str, str]:
    cause, target, problem = found.cause, found.target, facts.problem
    side, other = cause.side.value, cause.side.other.value
    name = cause.argument if target.site is not None else cause.param
    assert name is not None
    if len(found.steps) == 1:
        expects = found.steps[0].expects.format(p=name)
    else:
        expects = f"{cause.transform}(`{name}`)"
    point = problem.phrases.point
    where = f"at {point} and at a jittered point" if found.jitter_checked else (
        f"at {point} (the jittered point was not valid for the other side)")
    template = template_of(found.steps)
    on_diagonal = target.diagonal and not any(c.matrix for c in found.steps)
    applied = _applied(found, name)
    if target.site is None:
        text = (f"side {side} treats `{name}` differently from side {other}: side {side} "
                f"expects {expects}. With `{name}` replaced by {applied} on "
                f"side {side}, every value and gradient matches side {other} in float64, "
                f"{where}")
        return text, problem.fix(cause.side, name, template, cause.transform)
    site = target.site
    diagonal = " (on its diagonal)" if on_diagonal else ""
    text = (f"side {side}'s {site.distribution} gets `{name}` "
            f"({problem.argument_origin(cause.side, site)}) where it expects {expects}"
            f"{diagonal}. With its {name} replaced by {applied} on side "
            f"{side}, every value and gradient matches side {other} in float64, {where}")
    fix = problem.argument_fix(cause.side, site, template, cause.transform,
                               on_diagonal=on_diagonal)
    return text, fix


def _applied(found: Explanation, name: str) -> str:
    """The transform applied to `name`, as written: `square(std)`, or `h / 2` for a scale."""
    if found.cause.factor is not None:
        return template_of(found.steps).format(name)
    return f"{found.cause.transform}({name})"


def _what(target: str, on: str) -> str:
    return target if on == "param" else f"its {target}"
