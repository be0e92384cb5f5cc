"""The words a mismatch's relation (relations.py) comes with: what relates the sides, where
that typically comes from, and the fix. One function per kind, dispatched by RelationKind."""

from __future__ import annotations

from collections.abc import Callable

from gaussdiag.attribute.closed_forms import Form, Why
from gaussdiag.attribute.relations import Relation
from gaussdiag.engine.problem import Problem
from gaussdiag.numbers import sentence
from gaussdiag.vocab import Mode, Optimizer, RelationKind, SideName

# How many elements the words list (the JSON lists up to relations.MAX_ELEMENTS).
SHOWN_ELEMENTS = 6

# Where a constant typically comes from, by the catalog entry's origin.
_CONSTANT_HINTS = {
    Why.HALF: "a half-distribution against its full counterpart (HalfCauchy has twice "
              "Cauchy's density on x > 0), or a factor 2 inside a density",
    Why.PI: "a squared error against a Gaussian log-likelihood: -(x - μ)² is the log-density "
            "of a Gaussian with variance ½ up to ½·log π per coordinate",
    Why.GAUSS: "the Gaussian normalizing constant, ½·log 2π per coordinate, missing or counted "
               "twice on one side",
    Why.COUNT: "a log of a count: a mean where a sum is taken inside a log (log-mean-exp "
               "against logsumexp), or weights normalized by n on one side only",
}


def words(problem: Problem, r: Relation) -> tuple[str, str]:
    """The relation's sentence and its fix."""
    return _BY_KIND[r.kind](problem, r)


def _value(problem: Problem) -> str:
    return "draws" if problem.mode is Mode.RSAMPLE else "log_prob"


def _number(x: float, form: Form | None) -> str:
    """`1/784 (1/784 = 1 / the event size)`, `0.6931 = log 2`, or the plain number."""
    if form is None:
        return sentence(x)
    return f"{sentence(x)} = {form.text}" + (f" ({form.meaning})" if form.meaning else "")


def _names(names: tuple[str, ...]) -> str:
    quoted = [f"`{n}`" for n in names]
    return ", ".join(quoted[:-1]) + f" and {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def _elements(r: Relation) -> str:
    shown = ", ".join(f"{e.quantity}[{', '.join(map(str, e.index))}]"
                      for e in r.elements[:SHOWN_ELEMENTS])
    more = len(r.elements) - SHOWN_ELEMENTS
    return shown + (f" and {more} more" if more > 0 else "")


def _factor(problem: Problem, r: Relation) -> tuple[str, str]:
    assert r.value is not None
    c, form, value = r.value, r.form, _value(problem)
    shown = form.text if form is not None else sentence(c)
    text = (f"side a's {value} and gradients are side b's × {shown}"
            + (f" ({form.meaning})" if form is not None and form.meaning else ""))
    if form is not None and form.why in (Why.MEAN, Why.SUM) and form.size is not None:
        means = "a" if form.why is Why.MEAN else "b"
        over = "the event" if form.size.event else "the batch"
        text += (f": side {means} takes a mean over {over} where "
                 + ("a log-density is a sum" if form.size.event else "the other side sums"))
        fix = (f"sum instead of averaging on side {means}; if the mean is meant (a loss per "
               f"element), it scales every gradient by 1/{form.size.n}, as a learning rate "
               "would")
    elif form is not None and form.why is Why.NEGATED:
        text += ": one side is negated (a loss, the negative log-likelihood, against a log-density)"
        fix = "negate one side: a loss is minus the log-density"
    else:
        text += ": one side is scaled (a weight, a temperature or a reduction differs)"
        fix = (f"find the factor {shown} on one side (a division by a size, a weight, a "
               "temperature) and remove it, or scale the other side if it is meant")
    if problem.mode is Mode.TRAIN:
        text += ". " + _step_size(problem, c, shown)
    return text, fix


def _step_size(problem: Problem, c: float, shown: str) -> str:
    """Train mode: a factor in the gradients is a change of step size."""
    plan = problem.train_settings
    if c < 0:
        return ("In training, negated gradients make side a step the other way: it "
                "minimizes the log-density side b maximizes")
    if plan.optimizer is Optimizer.SGD:
        return (f"In training a factor in the gradients is a change of step size: side a "
                f"trains like side b with the learning rate × {shown} "
                f"({sentence(plan.lr)} -> {sentence(plan.lr * c)})")
    return ("In training a factor in the gradients is a change of step size, which adam "
            f"divides out except through its eps: side a trains like side b with eps ÷ {shown}")


def _offset(problem: Problem, r: Relation) -> tuple[str, str]:
    assert r.value is not None
    value = _value(problem)
    text = (f"side a's {value} is side b's + {_number(r.value, r.form)} at every point, and "
            "every gradient agrees: a normalizing constant differs")
    hint = _CONSTANT_HINTS.get(r.form.why) if r.form is not None else None
    if hint:
        text += f", as with {hint}"
    shown = r.form.text if r.form is not None else sentence(r.value)
    more, less = ("a", "b") if r.value > 0 else ("b", "a")
    fix = ("training is unaffected (the gradients agree); where the values themselves matter "
           f"(a reported likelihood, model comparison), side {more} has {shown.lstrip('-')} "
           f"more than side {less}: drop it from side {more} or add it to side {less}, "
           "whichever density is meant")
    return text, fix


def _point_term(problem: Problem, r: Relation) -> tuple[str, str]:
    assert r.at is not None
    x0, d0 = r.at
    name = problem.at_name(SideName.A)
    where = (f"at {name} = {sentence(x0)}: {sentence(d0)}" if x0 is not None
             else f"at the first point: {sentence(d0)}")
    term = r.term
    if term is not None:
        where += f"; matches {term.text}"
    text = (f"every gradient agrees, and side a's {_value(problem)} - side b's is a term of the "
            f"point alone ({where}): a Jacobian or data term; a missing log_abs_det_jacobian is "
            "typical")
    if term is not None and term.why is Why.TWICE:
        text += (" (twice a Jacobian: a custom Transform's log_abs_det_jacobian with the wrong "
                 "sign counts it twice)")
    fix = (f"training on the params is unaffected (their gradients agree), but one side is not "
           f"a density of `{name}`: add the missing log_abs_det_jacobian (a LogNormal written as "
           f"Normal at log {name} lacks -log {name}), check the sign of a custom Transform's "
           "log_abs_det_jacobian, or restore a data term dropped as a constant")
    return text, fix


def _affine(problem: Problem, r: Relation) -> tuple[str, str]:
    assert r.value is not None and r.constant is not None
    c = r.form.text if r.form is not None else sentence(r.value)
    k = _number(r.constant, r.constant_form)
    text = (f"side a's {_value(problem)} is side b's × {c} + {k} at every point, and its "
            f"gradients are side b's × {c}"
            + (f" ({r.form.meaning})" if r.form is not None and r.form.meaning else "")
            + ": a mean-reduced loss without its constant, or a scaled log-density that "
            "drops a constant")
    fix = (f"sum instead of averaging and keep the constant on side a, or compare side b × {c} "
           "if the reduction is meant")
    return text, fix


def _gradients_only(problem: Problem, r: Relation) -> tuple[str, str]:
    del problem
    where = f" (only at {_elements(r)})" if r.elements else ""
    text = (f"the values agree at both points and only the gradients of {_names(r.params)} "
            f"differ{where}: a detach, clamp or stop-gradient on the path to "
            f"{_names(r.params)} on one side")
    fix = (f"find where one side cuts or bends the gradient of {_names(r.params)} (detach(), a "
           "clamp, torch.no_grad(), a straight-through estimator) and do the same on both sides")
    return text, fix


def _params(problem: Problem, r: Relation) -> tuple[str, str]:
    del problem
    of = "alone" if r.same_everywhere else "and the point alone"
    text = (f"the gradients of {_names(r.agreeing)} agree at both points and those of "
            f"{_names(r.params)} differ: the difference between the sides is a function of "
            f"{_names(r.params)} {of}")
    fix = (f"compare how the sides use {_names(r.params)} only (everything else agrees): "
           "logits used without normalization (log_softmax) or a term of those params on "
           "one side are typical")
    return text, fix


def _swap(problem: Problem, r: Relation) -> tuple[str, str]:
    del problem
    first, second = r.params
    text = (f"with `{first}` and `{second}` exchanged on side a, every value and gradient "
            "matches side b in float64, at both points: the two are passed in the wrong order "
            "(Beta's concentration1 and concentration0 are an easy pair to swap)")
    return text, f"exchange `{first}` and `{second}` on one side"


def _elements_words(problem: Problem, r: Relation) -> tuple[str, str]:
    if r.params:
        text = (f"the gradients of {_names(r.params)} differ only at {_elements(r)}, at both "
                "points: a mask, clamp or branch that treats those entries differently")
    else:
        text = (f"the differences sit in {_elements(r)} only ({len(r.elements)} of the "
                f"{r.of} {_value(problem)} elements), at both points: a mask, clamp or branch "
                "(where) that treats those elements differently")
    return text, ("look at what is special about those elements on each side (clamped or "
                  "masked entries, a where branch, an index off by one)")


_Words = Callable[[Problem, Relation], tuple[str, str]]
_BY_KIND: dict[RelationKind, _Words] = {
    RelationKind.FACTOR: _factor,
    RelationKind.OFFSET: _offset,
    RelationKind.POINT_TERM: _point_term,
    RelationKind.AFFINE: _affine,
    RelationKind.GRADIENTS_ONLY: _gradients_only,
    RelationKind.PARAMS: _params,
    RelationKind.SWAP: _swap,
    RelationKind.ELEMENTS: _elements_words,
}
