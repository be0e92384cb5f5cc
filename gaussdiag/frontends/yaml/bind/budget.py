"""Memory and work bounds, checked before anything is allocated.

A side's whole computation (creating its params and inputs, constructing the distribution,
`log_prob`, `backward`, `rsample` draws) is first run on torch's `meta` device, where tensors
have shapes but no storage, under a `Meter` (a `TorchDispatchMode`) that sees every aten op,
those of autograd's backward included. For each op it checks:

- **elements**: every tensor an op creates (not a view: `expand` of a broadcast allocates
  nothing, the `sub` that consumes it does) holds at most `max_elements`;
- **live**: the elements of all tensors alive at once (freed when Python drops them; a view
  keeps its base alive) stay within `max_live`, the peak memory of the real run;
- **work**: the running total of multiply-adds stays within `max_work`: matmul-like ops cost
  `output elements x inner dim` (n x n @ n x n costs n^3), factorizations and solves
  `batch x n^3`, every other op its largest tensor.

The first op over a bound raises `BudgetExceeded`, located by the label of the current stage.

Defaults, relative to `limits.DEFAULT_MAX_ELEMENTS` (2**26, one 8192 x 8192 matrix):
`max_elements` = the limit itself; `max_live` = 4x the limit (2 GiB in float64: a 4096 x 4096
covariance with its Cholesky factor, solves and gradients fits, ten copies of a tensor at the
limit do not); `max_work` = 2**40 multiply-adds (16 products of 4096 x 4096 matrices, about
half a minute on one core in float64), scaled by `(max_elements / 2**26) ** 1.5` when
`--max-elements` changes it, so the largest allowed matrix keeps the same number of products.

Validation (`validate_args=True`) calls `bool()` on a tensor, which meta tensors refuse: build
the dry-run distribution with `validate_args=False` (the real run validates).
"""

from __future__ import annotations

import math
import sys
import types
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from gaussdiag.errors import GaussdiagError
from gaussdiag.limits import DEFAULT_MAX_ELEMENTS

DEFAULT_MAX_WORK = 2**40

# Ops whose cost is output elements x the inner dimension of the named argument.
_PRODUCTS = {"mm": 0, "bmm": 0, "mv": 0, "addmm": 1, "addmv": 1, "baddbmm": 1, "addbmm": 1,
             "dot": 0, "vdot": 0, "linalg_solve_triangular": 0, "triangular_solve": 1,
             "cholesky_solve": 1, "linalg_solve_ex": 0, "_linalg_solve_ex": 0, "linalg_solve": 0,
             "cholesky_inverse": 0}
# Factorizations of the square matrices in argument 0: batch x n^3.
_FACTORIZATIONS = {"linalg_cholesky_ex", "cholesky", "linalg_eigh", "_linalg_eigh",
                   "linalg_eig", "linalg_inv_ex", "linalg_lu_factor_ex", "linalg_lu",
                   "linalg_qr", "_linalg_svd", "_linalg_det", "_linalg_slogdet", "linalg_eigvals",
                   "linalg_matrix_exp"}


class BudgetExceeded(GaussdiagError):
    """A dry run went over a bound: `label` is the stage (the spec key) at fault."""

    def __init__(self, label: str, message: str) -> None:
        self.label = label
        self.message = message
        super().__init__(f"{label}: {message}")


@dataclass(frozen=True)
class Limits:
    """The bounds a `Meter` checks (see the module docstring for the defaults)."""

    max_elements: int = DEFAULT_MAX_ELEMENTS
    max_live: int = 4 * DEFAULT_MAX_ELEMENTS
    max_work: int = DEFAULT_MAX_WORK

    @classmethod
    def for_max_elements(cls, max_elements: int) -> Limits:
        """The defaults scaled to a `--max-elements` other than the default."""
        scale = max_elements / DEFAULT_MAX_ELEMENTS
        return cls(max_elements, 4 * max_elements,
                   max(1, math.ceil(DEFAULT_MAX_WORK * scale**1.5)))


@dataclass(frozen=True)
class Usage:
    """What a dry run used: the largest tensor, the peak of live elements, all elements
    created, and multiply-adds."""

    largest: int
    peak_live: int
    created: int
    work: int


@contextmanager
def dynamo_free() -> Iterator[None]:
    """Run meta-device code without importing torch._dynamo (about 2 s, more than a whole
    small diagnosis).

    torch's Python reference kernels, which the meta device runs for ops with no C++ meta
    kernel (diag_embed, tril, normal, ...), are wrapped so that their first call imports
    torch._dynamo just to mark them "never compile". Nothing here compiles, so while this is
    open a stand-in answers that mark with the function itself; a process that has already
    imported torch._dynamo keeps the real one.
    """
    if "torch._dynamo" in sys.modules:
        yield
        return
    stub = types.ModuleType("torch._dynamo")
    stub.disable = lambda fn=None, recursive=True, **_: fn  # type: ignore[attr-defined]
    sys.modules["torch._dynamo"] = stub
    setattr(torch, "_dynamo", stub)  # noqa: B010 - `import torch._dynamo` reads it here
    try:
        yield
    finally:
        if sys.modules.get("torch._dynamo") is stub:
            del sys.modules["torch._dynamo"]
        if torch.__dict__.get("_dynamo") is stub:
            delattr(torch, "_dynamo")


class Meter(TorchDispatchMode):  # type: ignore[no-untyped-call,unused-ignore]
    """Counts and checks every op run inside it; `stage(label)` names the key to blame."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # torch wraps a mode's __torch_dispatch__ in a dynamo guard unless this says no; the
        # guard's first call imports torch._dynamo, 1.5 s on every run, for a mode that is
        # never compiled (torch < 2.6 has no such hook and ignores this)
        return False

    def __init__(self, limits: Limits | None = None, label: str = "spec") -> None:
        super().__init__()  # type: ignore[no-untyped-call,unused-ignore]
        self.limits = limits or Limits()
        self.label = label
        self._live = 0
        self._peak = self._largest = self._created = self._work = 0

    def __enter__(self) -> Meter:
        self._no_dynamo = dynamo_free()
        self._no_dynamo.__enter__()
        return super().__enter__()  # type: ignore[no-any-return,no-untyped-call,unused-ignore]

    def __exit__(self, *exc: Any) -> None:
        try:
            super().__exit__(*exc)  # type: ignore[no-untyped-call,unused-ignore]
        finally:
            self._no_dynamo.__exit__(None, None, None)

    @contextmanager
    def stage(self, label: str) -> Iterator[None]:
        """Blame `label` for what runs inside (e.g. `a.args.loc`, `b.log_prob`)."""
        outer, self.label = self.label, label
        try:
            yield
        finally:
            self.label = outer

    @property
    def usage(self) -> Usage:
        return Usage(self._largest, self._peak, self._created, self._work)

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        tensors_in = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        # Shapes are known before the op runs only from its result, so run it on meta first:
        # a meta op allocates nothing, and on a real device the check then precedes the next op
        out = func(*args, **kwargs)
        outs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        self._charge(func, args, tensors_in, outs)
        aliases = [r.alias_info is not None for r in func._schema.returns]
        for i, t in enumerate(outs):
            if i < len(aliases) and aliases[i]:
                # a view or an in-place result: no new storage, but it keeps its inputs alive
                weakref.finalize(t, _keep, tensors_in)
            else:
                self._allocate(func, t)
        return out

    def _allocate(self, func: Any, t: torch.Tensor) -> None:
        n = t.numel()
        if n > self.limits.max_elements:
            raise BudgetExceeded(self.label, f"{_name(func)} would create a tensor of shape "
                                 f"{list(t.shape)} ({n:,} elements), over the limit of "
                                 f"{self.limits.max_elements:,} (--max-elements)")
        self._live += n
        self._created += n
        self._largest = max(self._largest, n)
        self._peak = max(self._peak, self._live)
        weakref.finalize(t, self._free, n)
        if self._live > self.limits.max_live:
            raise BudgetExceeded(self.label, f"tensors alive at once would hold {self._live:,} "
                                 f"elements, over the limit of {self.limits.max_live:,} "
                                 "(4 x --max-elements)")

    def _free(self, n: int) -> None:
        self._live -= n

    def _charge(self, func: Any, args: Any, tensors_in: list[torch.Tensor],
                outs: list[torch.Tensor]) -> None:
        self._work += _work(func, args, tensors_in, outs)
        if self._work > self.limits.max_work:
            raise BudgetExceeded(self.label, f"the computation would take over "
                                 f"{self.limits.max_work:,} multiply-adds (at {_name(func)}); "
                                 "use smaller shapes or fewer repeated products")


def dry_run(fn: Callable[[], object], limits: Limits | None = None,
            label: str = "spec") -> Usage:
    """Run `fn` (which creates its tensors on `device="meta"`) under a `Meter`; return what it
    used, or raise `BudgetExceeded` at the first op over a bound."""
    meter = Meter(limits, label)
    with meter:
        fn()
    return meter.usage


def check_repeats(usage: Usage, repeats: int, limits: Limits | None = None,
                  label: str = "spec") -> None:
    """Refuse a computation whose one pass fits but whose `repeats` passes (dtypes x training
    steps x attribution passes) exceed the work budget."""
    limits = limits or Limits()
    if usage.work * repeats > limits.max_work:
        raise BudgetExceeded(label, f"{repeats:,} passes of {usage.work:,} multiply-adds each "
                             f"exceed the budget of {limits.max_work:,}")


def _work(func: Any, args: Any, tensors_in: list[torch.Tensor],
          outs: list[torch.Tensor]) -> int:
    name = func._schema.name.split("::")[-1]
    if name in _PRODUCTS and outs:
        a = args[_PRODUCTS[name]]
        inner = a.shape[-1] if a.dim() else 1
        return outs[0].numel() * inner if name not in ("dot", "vdot") else a.numel()
    if name in _FACTORIZATIONS and tensors_in:
        a = tensors_in[0]
        n = a.shape[-1] if a.dim() else 1
        return max(1, a.numel() // max(1, n * n)) * n**3
    return max((t.numel() for t in (*tensors_in, *outs)), default=0)


def _name(func: Any) -> str:
    return str(func._schema.name).replace("aten::", "torch.")


def _keep(_: object) -> None:
    """A finalizer that only holds its argument alive until its owner dies."""
