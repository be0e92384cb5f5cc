"""torch.compile backends that plant a known change, registered under their names for the
switch tests (and for the reproducers those tests write, which import this file): one changes
the math (one exp becomes exp(x)·(1 + 1e-3)), one only the order of a sum, one cuts the
outputs from autograd, one fails. Dynamo-level
backends: they rewrite the FX graph dynamo captured and run it eagerly, so autograd
differentiates what they planted."""

from __future__ import annotations

import operator
from typing import Any

import torch
from torch._dynamo import list_backends, register_backend

EXP_DRIFT = "gaussdiag_planted_exp_drift"
REORDERED_SUM = "gaussdiag_planted_reordered_sum"
DETACHED = "gaussdiag_planted_detached"
BROKEN = "gaussdiag_planted_broken"
DRIFT = 1e-3


def _is(node: Any, name: str) -> bool:
    return ((node.op == "call_method" and node.target == name)
            or (node.op == "call_function" and node.target is getattr(torch, name)))


def exp_drift(gm: torch.fx.GraphModule, example_inputs: list[Any]) -> Any:
    """The first exp of the graph times (1 + DRIFT)."""
    del example_inputs
    for node in gm.graph.nodes:
        if _is(node, "exp"):
            with gm.graph.inserting_after(node):
                drifted = gm.graph.call_function(operator.mul, (node, 1 + DRIFT))
            node.replace_all_uses_with(drifted, delete_user_cb=lambda u, d=drifted: u is not d)
            break
    gm.recompile()
    return gm.forward


def split_sum(x: torch.Tensor, dim: int) -> torch.Tensor:
    """x.sum(dim), summing the even and the odd entries apart and then adding the two."""
    n = x.shape[dim]
    even = torch.arange(0, n, 2, device=x.device)
    odd = torch.arange(1, n, 2, device=x.device)
    return x.index_select(dim, even).sum(dim) + x.index_select(dim, odd).sum(dim)


def reordered_sum(gm: torch.fx.GraphModule, example_inputs: list[Any]) -> Any:
    """Every `x.sum(dim)` summed in another order (the same sum, other roundings)."""
    del example_inputs
    for node in list(gm.graph.nodes):
        if _is(node, "sum") and len(node.args) == 2 and isinstance(node.args[1], int) \
                and not node.kwargs:
            with gm.graph.inserting_after(node):
                other = gm.graph.call_function(split_sum, node.args)
            node.replace_all_uses_with(other)
            gm.graph.erase_node(node)
    gm.recompile()
    return gm.forward


def detached(gm: torch.fx.GraphModule, example_inputs: list[Any]) -> Any:
    """The graph's outputs cut from autograd (as a compiler that dropped the backward)."""
    del example_inputs

    def run(*args: Any) -> Any:
        return tuple(o.detach() if isinstance(o, torch.Tensor) else o for o in gm(*args))

    return run


def broken(gm: torch.fx.GraphModule, example_inputs: list[Any]) -> Any:
    """A compiler that fails on every graph."""
    del gm, example_inputs
    raise RuntimeError("planted compiler failure")


for _name, _fn in ((EXP_DRIFT, exp_drift), (REORDERED_SUM, reordered_sum),
                   (DETACHED, detached), (BROKEN, broken)):
    if _name not in list_backends(exclude_tags=()):
        register_backend(_fn, name=_name)
