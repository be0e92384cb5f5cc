"""One side written in Python: which keywords it takes, calling it, and turning what it
returns (a Distribution or a tensor) into a `BuiltSide`. Errors name the side."""

from __future__ import annotations

import inspect
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from types import TracebackType
from typing import TYPE_CHECKING, Any

from gaussdiag.engine.built import BuiltSide
from gaussdiag.engine.device import seeded
from gaussdiag.engine.failures import ConstraintFailure, constraint_failure
from gaussdiag.errors import GaussdiagError
from gaussdiag.suggest import hint
from gaussdiag.vocab import Mode, SideName

if TYPE_CHECKING:
    import torch

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # gaussdiag/


def _label(fn: Callable[..., Any], takes: list[str]) -> str:
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    return f"{name}({', '.join(takes)})"


class LiveSide:
    """A callable that takes params and inputs by keyword (only the names in its signature)."""

    def __init__(self, side: SideName, fn: Any, params: list[str], inputs: list[str]) -> None:
        self.side = side
        self.fn = fn
        if not callable(fn):
            raise GaussdiagError(f"side {side.value} must be a callable (a function or an "
                                 f"nn.Module), found {type(fn).__name__}")
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError) as err:
            raise GaussdiagError(f"side {side.value}: cannot read its signature ({err}); "
                                 "wrap it in a function with named arguments") from None
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        known = params + inputs
        self.var_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD
                               for p in sig.parameters.values())
        self.takes: list[str] = []
        for name, p in sig.parameters.items():
            if p.kind is inspect.Parameter.POSITIONAL_ONLY and p.default is p.empty:
                raise GaussdiagError(f"side {side.value}: argument `{name}` is positional-only; "
                                     "sides receive params and inputs by keyword")
            if p.kind not in kinds:
                continue
            if name in known:
                self.takes.append(name)
            elif p.default is p.empty:
                raise GaussdiagError(
                    f"side {side.value} takes `{name}`, which is neither a param nor an input"
                    f"{hint(name, params, inputs)}; params: {', '.join(params) or '(none)'}; "
                    f"inputs: {', '.join(inputs) or '(none)'}")
        if self.var_keyword:
            self.takes = list(known)
        self.label = _label(fn, [n for n in sig.parameters if n in self.takes or
                                 sig.parameters[n].default is sig.parameters[n].empty])

    # ---- calling -------------------------------------------------------------------------

    def call(self, values: Mapping[str, Any], seed: int, tdt: torch.dtype, *,
             validate: bool = True) -> Any:
        """The side's result, called under the seed (dropout and draws repeat across dtypes).
        A broken constraint becomes ConstraintFailure, anything else it raises a
        GaussdiagError with its type and message. validate=False turns torch's default
        argument checks off for the call (a distribution built with validate_args=True
        still checks)."""
        import torch

        kwargs = {n: values[n] for n in self.takes if n in values}
        try:
            with seeded(seed), (nullcontext() if validate else _default_validation_off()):
                return self.fn(**kwargs)
        except ValueError as err:
            if str(err).startswith("Expected parameter"):
                raise _constraint(self.side, err) from None
            raise self.raised(err) from None
        except torch.linalg.LinAlgError as err:  # type: ignore[attr-defined]
            from gaussdiag.engine.failures import LINALG_FIX

            raise ConstraintFailure(self.side, f"side {self.side.value}: {_first(err)}",
                                    detail=_first(err), fix=LINALG_FIX) from None
        except GaussdiagError:
            raise
        except Exception as err:  # noqa: BLE001 - the user's own code: report, do not crash
            failure = self.raised(err)
            if isinstance(err, RuntimeError) and _DTYPE_CLASH in str(err):
                failure = GaussdiagError(f"{failure}; in the {_dt(tdt)} run it mixes dtypes: "
                                         f"it ignores the run's dtype, {self._why_dtype(tdt)}")
            raise failure from None

    def raised(self, err: BaseException, what: str = "raised") -> GaussdiagError:
        where = _user_frame(err.__traceback__)
        at = f" (at {where})" if where else ""
        return GaussdiagError(f"side {self.side.value}: {self.label} {what} "
                              f"{type(err).__name__}: {_first(err)}{at}")

    def result(self, out: Any, mode: Mode, tdt: torch.dtype, sample_shape: tuple[int, ...],
               at: str | None) -> BuiltSide:
        """What the side returned, ready to evaluate; checks it follows the run's dtype."""
        import torch
        from torch.distributions import Distribution

        if isinstance(out, Distribution):
            args = _given_args(out)
            for t in args.values():
                self._check_dtype(t, tdt)
            return BuiltSide(self.side, out, self._log_prob(out, tdt, at), args,
                             self._draw(out, sample_shape))
        if isinstance(out, torch.Tensor):
            self._check_dtype(out, tdt)
            if mode is Mode.RSAMPLE:
                return BuiltSide(self.side, None, None, draw=lambda: out)
            return BuiltSide(self.side, None, lambda x: out)
        raise GaussdiagError(
            f"side {self.side.value}: {self.label} returned {type(out).__name__}; a side "
            "returns a torch.distributions.Distribution, or a tensor (the log-density in "
            "log_prob mode, the draws in rsample mode)")

    def _log_prob(self, dist: Any, tdt: torch.dtype, at: str | None
                  ) -> Callable[[torch.Tensor], torch.Tensor]:
        def log_prob(x: torch.Tensor) -> torch.Tensor:
            try:
                out: torch.Tensor = dist.log_prob(x)
            except ValueError as err:
                if "within the support" in str(err):
                    raise ConstraintFailure(
                        self.side, f"the evaluation point is outside the support of "
                        f"{type(dist).__name__}: {_first(err)}", constraint="support",
                        support=True, fix="evaluate at points inside the support (check `at` "
                        "and the input)") from None
                raise self._at_failed(err, at, x) from None
            except RuntimeError as err:
                raise self._at_failed(err, at, x) from None
            self._check_dtype(out, tdt)
            return out

        return log_prob

    def _at_failed(self, err: Exception, at: str | None, x: torch.Tensor) -> GaussdiagError:
        return GaussdiagError(
            f"side {self.side.value}: log_prob at `{at}` (shape {list(x.shape)}) failed: "
            f"{_first(err)}; the input must end in the distribution's event shape (wrap a "
            "batch of independent dims in Independent(dist, k))")

    def _draw(self, dist: Any, sample_shape: tuple[int, ...]) -> Callable[[], torch.Tensor]:
        def draw() -> torch.Tensor:
            import torch

            if not dist.has_rsample:
                raise GaussdiagError(
                    f"side {self.side.value}: {type(dist).__name__} has no rsample() "
                    "(has_rsample is False in torch): return the draws yourself, e.g. "
                    "dist.sample(shape), to compare them anyway")
            try:
                out: torch.Tensor = dist.rsample(torch.Size(sample_shape))
            except RuntimeError as err:
                raise self.raised(err, "failed to draw:") from None
            return out

        return draw

    def _check_dtype(self, t: torch.Tensor, tdt: torch.dtype) -> None:
        import torch

        if torch.is_autocast_enabled(t.device.type):
            return  # an autocast switch's run: lower precision is the point of it
        if t.is_floating_point() and t.dtype != tdt:
            raise GaussdiagError(
                f"side {self.side.value}: {self.label} returns {_dt(t.dtype)} in the "
                f"{_dt(tdt)} run: it ignores the run's dtype, {self._why_dtype(tdt)}")

    def _why_dtype(self, tdt: torch.dtype) -> str:
        """Where a fixed dtype comes from: a module or a tensor the side reads from its
        closure or globals instead of from params."""
        import torch

        fn = self.fn
        if isinstance(fn, torch.nn.Module):
            if any(p.is_floating_point() for p in fn.parameters()):
                return ("through its own parameters: a module passed as a side is not copied "
                        "per dtype; pass it in params (params={'net': net}) and call it from "
                        "the side")
            fn = fn.forward
        try:
            found = inspect.getclosurevars(fn)
            seen = {**found.globals, **found.nonlocals}
        except (TypeError, ValueError):
            seen = {}
        for name, v in seen.items():
            if isinstance(v, torch.nn.Module):
                return (f"through `{name}`, a module it reads from its closure, not passed in "
                        f"params: pass params={{'{name}': {name}}} and take `{name}` as an "
                        "argument")
        for name, v in seen.items():
            if isinstance(v, torch.Tensor) and v.is_floating_point() and v.dtype != tdt:
                return (f"through `{name}`, a {_dt(v.dtype)} tensor it reads from its closure: "
                        "pass it in params or inputs, so each run gets it in its own dtype")
        return ("probably through a tensor it creates with a fixed dtype: create it with "
                "dtype=x.dtype of an argument x, or pass it in params or inputs")


# torch's words for an operation on two dtypes (a float32 weight meeting a float64 input)
_DTYPE_CLASH = "must have the same dtype"


def _given_args(dist: Any) -> dict[str, torch.Tensor]:
    """The constructor arguments the distribution was given (innermost one, through
    Independent and TransformedDistribution): what the conditioning estimate reads."""
    import torch

    while hasattr(dist, "base_dist"):
        dist = dist.base_dist
    names = getattr(dist, "arg_constraints", {}) or {}
    return {k: v for k, v in vars(dist).items() if k in names and isinstance(v, torch.Tensor)}


def _constraint(side: SideName, err: ValueError) -> ConstraintFailure:
    """torch's validation error as a ConstraintFailure: the distribution and the failing
    value are read from the frame of torch's check."""
    from torch.distributions import Distribution

    tb = err.__traceback__
    cls: Any = None
    args: dict[str, Any] = {}
    while tb is not None:
        local = tb.tb_frame.f_locals
        if isinstance(local.get("self"), Distribution) and "param" in local and "value" in local:
            cls = type(local["self"])
            args = {str(local["param"]): local["value"]}
        tb = tb.tb_next
    name = cls.__name__ if cls is not None else "the distribution"
    failure = constraint_failure(side, name, cls, args, err)
    failure.message = f"side {side.value}: {failure.message}"
    return failure


def _user_frame(tb: TracebackType | None) -> str | None:
    """file:line of the deepest frame outside gaussdiag and torch: where the user's code
    failed."""
    import torch

    torch_dir = os.path.dirname(os.path.abspath(torch.__file__))
    where = None
    while tb is not None:
        path = os.path.abspath(tb.tb_frame.f_code.co_filename)
        if not path.startswith((_HERE, torch_dir)):
            where = f"{os.path.relpath(path) if not path.startswith('<') else path}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _dt(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _first(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


_VALIDATION_LOCK = threading.Lock()
_open_blocks = 0          # `_default_validation_off` blocks open now, in any thread
_saved_default = True     # torch's default when the first of them opened


@contextmanager
def _default_validation_off() -> Iterator[None]:
    """torch.distributions' default `validate_args` off for the block (at n = 1024 a
    MultivariateNormal's symmetry and positive-definiteness checks cost about as much as its
    Cholesky factor), then as it was once the last such block in any thread ends. The default
    is process-wide: while a search runs, other threads' distributions built without
    `validate_args=` skip their checks too."""
    global _open_blocks, _saved_default
    from torch.distributions import Distribution

    with _VALIDATION_LOCK:
        if _open_blocks == 0:
            _saved_default = Distribution._validate_args
        _open_blocks += 1
        Distribution.set_default_validate_args(False)
    try:
        yield
    finally:
        with _VALIDATION_LOCK:
            _open_blocks -= 1
            if _open_blocks == 0:
                Distribution.set_default_validate_args(_saved_default)
