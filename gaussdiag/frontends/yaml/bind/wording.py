"""Words and lookups that only a YAML spec has: the expressions a side evaluates, the params
they use, a found reparameterization written back into the side's expressions, and the
spec's `Phrases` (its keys, `grad: false`, `method: rsample`, in the engine's messages).

They serve the YAML front end's `BoundSpec` (`params_used`, `fix`, `phrases`); the engine never
calls them directly, it asks the `BoundSpec` interface (gaussdiag/engine/problem.py)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from gaussdiag.engine.alternatives import ALTERNATIVES
from gaussdiag.engine.arguments import Site
from gaussdiag.engine.phrases import Phrases
from gaussdiag.frontends.yaml import expr as ex
from gaussdiag.frontends.yaml.spec import AffineTransform, ExprTensor, PowerTransform
from gaussdiag.vocab import Mode, SideName

if TYPE_CHECKING:
    from gaussdiag.frontends.yaml.bind.exprs import SpecExprs

SPEC_PHRASES = Phrases(
    point="the spec's point",
    constant="set `grad: false` on it if it is meant to be a constant",
    use_rsample="draw with rsample() on side {side} (`method: rsample`)",
    structure='`{expr: "tril(raw)"}`',
    bisect="write one side as a hand-written `log_prob:` expression and bisect",
)


def side_sources(problem: SpecExprs, side: SideName) -> list[tuple[tuple[str | int, ...], str]]:
    """(key path, expression) for every expression a side evaluates itself."""
    s = problem.spec.side(side)
    out: list[tuple[tuple[str | int, ...], str]] = []
    for k, v in s.args.items():
        if isinstance(v, str):
            out.append(((side.value, "args", k), v))
    for i, t in enumerate(s.transforms):
        if isinstance(t, AffineTransform):
            for k in ("loc", "scale"):
                v = getattr(t.affine, k)
                if isinstance(v, str):
                    out.append(((side.value, "transforms", i, "affine", k), v))
        elif isinstance(t, PowerTransform) and isinstance(t.power, str):
            out.append(((side.value, "transforms", i, "power"), t.power))
    for key in ("log_prob", "expr"):
        v = getattr(s, key)
        if isinstance(v, str):
            out.append(((side.value, key), v))
    return out


def params_used(problem: SpecExprs, side: SideName, *, leaves_only: bool = False
                ) -> list[str]:
    """A spec's params the side depends on (directly or through derived params), in
    declaration order."""
    spec = problem.spec
    allow = spec.mode is Mode.RSAMPLE
    names: set[str] = set()
    for _, src in side_sources(problem, side):
        names |= problem.parsed(src, allow_randn=allow).names
    at = spec.at_for(side)
    if at is not None:
        names.add(at)
    # close over derived params and expr inputs, latest first
    for name in reversed(list(spec.params) + list(spec.inputs)):
        entry = spec.params.get(name) or spec.inputs.get(name)
        if name in names and isinstance(entry, ExprTensor):
            names |= problem.parsed(entry.expr).names
    ordered = [n for n in spec.params if n in names]
    if leaves_only:
        ordered = [n for n in ordered if not isinstance(spec.params[n], ExprTensor)]
    return ordered


def spec_fix(problem: SpecExprs, side_name: SideName, p: str, template: str,
             transform: str) -> str:
    """A spec's fix: the side's expressions with `p` rewritten by `template`."""
    side = side_name.value
    fixes: list[str] = []
    for key, src in side_sources(problem, side_name):
        e = problem.parsed(src, allow_randn=problem.spec.mode is Mode.RSAMPLE)
        if p not in e.names:
            continue
        new = ex.substitute(e, p, template)
        argname = str(key[-1])
        fixes.append(f"{argname}={new}")
        alt = ALTERNATIVES.get((argname, transform))
        if alt:
            fixes.append(f"or {alt}={src}")
    if not fixes:  # p reaches the side only through a derived param or an input
        fixes.append(f"use {template.format(p=p)} wherever side {side} uses `{p}`")
    return f"on side {side}, pass " + ", ".join(fixes)


def argument_source(problem: SpecExprs, side: SideName, site: Site) -> str | None:
    """The expression the spec writes for `site`, when the site is the side's own `dist:`."""
    s = problem.spec.side(side)
    if s.dist != site.dist or site.occurrence != 0:
        return None
    v = s.args.get(site.argument)
    return None if v is None else str(v)


def spec_argument_fix(problem: SpecExprs, side_name: SideName, site: Site, template: str,
                      transform: str, *, on_diagonal: bool) -> str:
    """A spec's fix for an argument: its expression rewritten by `template` (inside
    `diag_embed(...)` when the transform acts on a diagonal)."""
    side, arg = side_name.value, site.argument
    src = argument_source(problem, side_name, site)
    if src is None:
        return (f"on side {side}, use {template.format(arg)} where {site.distribution}'s {arg} "
                "is computed")
    inner = _diag_embed_of(src)
    if on_diagonal:
        new = (f"diag_embed({template.format(_operand(inner))})" if inner is not None
               else f"diag_embed({template.format(f'diagonal({src})')})")
    else:
        new = template.format(_operand(src))
    text = f"on side {side}, pass {arg}={new}"
    alt = ALTERNATIVES.get((arg, transform))
    if alt:
        text += f", or {alt}={src}"
    return text


def _diag_embed_of(src: str) -> str | None:
    """`v` when `src` is `diag_embed(v)` as a whole."""
    text = src.strip()
    return text[len("diag_embed("):-1] if _call_name(text) == "diag_embed" else None


def _operand(src: str) -> str:
    """`src` as an operand: a name or a whole call as it is, anything else parenthesized."""
    text = src.strip()
    return text if re.fullmatch(r"[\w.]+", text) or _call_name(text) else f"({text})"


def _call_name(text: str) -> str | None:
    """`f` when `text` is one call `f(...)` whose parenthesis closes at the end."""
    head = re.match(r"[\w.]+\(", text)
    if head is None or not text.endswith(")"):
        return None
    depth = 0
    for i, ch in enumerate(text[head.end() - 1:], start=head.end() - 1):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return head.group(0)[:-1] if i == len(text) - 1 else None
    return None
