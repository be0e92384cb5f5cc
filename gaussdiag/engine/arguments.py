"""The arguments a side computes: every torch distribution a side constructs, seen as it is
constructed, so the search can reach a tensor the side computes (a network head's std, an
expression's covariance) and not only the leaves.

While a `watching` block is open in a thread, each distribution constructed in that thread is
recorded as a `Site` (its class, which construction of that class it is, the argument), and
an argument named in the block's plan is replaced by f(argument) before the constructor sees
it, so the distribution is rebuilt with that one argument transformed and gradients still
flow to the leaves. Both front ends build distributions through their constructors, so this
knows neither. Outside a block (and in other threads) constructors run untouched; the hook is
installed on the distribution classes only while some block is open.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

Fn = Callable[["torch.Tensor"], "torch.Tensor"]


@dataclass(frozen=True)
class Site:
    """One tensor argument of one distribution a side constructs: the `occurrence`-th
    construction (from 0) of class `dist` during one evaluation of the side."""

    dist: str
    occurrence: int
    argument: str

    @property
    def distribution(self) -> str:
        """`MultivariateNormal`, or `the second Normal` for a later construction."""
        if self.occurrence == 0:
            return self.dist
        nth = _ORDINALS.get(self.occurrence, f"#{self.occurrence + 1}")
        return f"the {nth} {self.dist}"


@dataclass(frozen=True)
class Seen:
    """An argument as a run saw it: its value (detached), whether it carries a gradient to a
    param, and whether it is a param or input passed as it is (the leaf search covers those)."""

    value: torch.Tensor
    computed_from_params: bool
    passed_as_is: bool


_ORDINALS = {1: "second", 2: "third", 3: "fourth"}


@dataclass
class _Watch:
    plan: Mapping[Site, Fn]
    seen: dict[Site, torch.Tensor] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    building: set[int] = field(default_factory=set)


_local = threading.local()
_lock = threading.Lock()
_open = 0  # blocks open now, in any thread
_saved: dict[type, Any] = {}  # class -> its own __init__, while the hook is installed


@contextmanager
def watching(plan: Mapping[Site, Fn] | None = None) -> Iterator[dict[Site, torch.Tensor]]:
    """Record every tensor argument of every distribution constructed in this thread inside
    the block (yielded: Site -> the argument as given, before any plan is applied), and apply
    `plan` to the arguments it names."""
    state = _Watch(dict(plan or {}))
    outer = getattr(_local, "watch", None)
    _install()
    _local.watch = state
    try:
        yield state.seen
    finally:
        _local.watch = outer
        _uninstall()


def _install() -> None:
    global _open
    with _lock:
        _open += 1
        if _open > 1:
            return
        from torch.distributions import Distribution

        stack = list(Distribution.__subclasses__())
        while stack:
            cls = stack.pop()
            stack.extend(cls.__subclasses__())
            own = cls.__dict__.get("__init__")
            if own is not None and cls not in _saved:
                _saved[cls] = own
                cls.__init__ = _hook(own)  # type: ignore[method-assign]


def _uninstall() -> None:
    global _open
    with _lock:
        _open -= 1
        if _open:
            return
        for cls, own in _saved.items():
            cls.__init__ = own  # type: ignore[misc]
        _saved.clear()


_SIGNATURES: dict[Any, inspect.Signature] = {}


def _hook(init: Any) -> Any:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        state: _Watch | None = getattr(_local, "watch", None)
        if state is None or id(self) in state.building:  # untouched, or a super().__init__
            init(self, *args, **kwargs)
            return
        import torch

        name = type(self).__name__
        occurrence = state.counts.get(name, 0)
        state.counts[name] = occurrence + 1
        sig = _SIGNATURES.get(init)
        if sig is None:
            sig = _SIGNATURES[init] = inspect.signature(init)
        try:
            bound = sig.bind(self, *args, **kwargs)
        except TypeError:  # torch raises its own error for a wrong call
            init(self, *args, **kwargs)
            return
        for arg, value in list(bound.arguments.items()):
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                site = Site(name, occurrence, arg)
                state.seen.setdefault(site, value)
                fn = state.plan.get(site)
                if fn is not None:
                    bound.arguments[arg] = fn(value)
        state.building.add(id(self))
        try:
            init(*bound.args, **bound.kwargs)
        finally:
            state.building.discard(id(self))

    __init__.__wrapped__ = init  # type: ignore[attr-defined]
    return __init__
