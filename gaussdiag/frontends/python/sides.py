"""One side written in Python: which keywords it takes, calling it, and turning what it
returns (a Distribution or a tensor) into a `BuiltSide`. Errors name the side."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from gaussdiag.engine.built import BuiltSide
from gaussdiag.engine.device import seeded
from gaussdiag.engine.failures import ConstraintFailure, constraint_failure
from gaussdiag.errors import GaussdiagError
from gaussdiag.frontends.python.guard import described, first_line, stops
from gaussdiag.frontends.python.run_dtype import Leak, default_dtype, watch
from gaussdiag.suggest import hint
from gaussdiag.vocab import Mode, SideName

if TYPE_CHECKING:
    import torch

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
            sig = inspect.signature(_entry(fn))
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
        self.leaks: dict[torch.dtype, Leak] = {}  # the first one seen (float64 run)
        self._watched: set[str] = set()

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
            with seeded(seed), (nullcontext() if validate else _default_validation_off()), \
                    self.in_run(tdt, "call", watched=validate):
                return self.fn(**kwargs)
        except ValueError as err:
            if str(err).startswith("Expected parameter"):
                raise _constraint(self.side, err) from None
            raise self.raised(err) from None
        except torch.linalg.LinAlgError as err:  # type: ignore[attr-defined]
            from gaussdiag.engine.failures import LINALG_FIX

            raise ConstraintFailure(self.side, first_line(err), fix=LINALG_FIX) from None
        except GaussdiagError:
            raise
        except Exception as err:  # noqa: BLE001 - the user's own code: report, do not crash
            failure = self.raised(err)
            if isinstance(err, RuntimeError) and _DTYPE_CLASH in first_line(err):
                failure = GaussdiagError(f"{failure}; in the {_dt(tdt)} run it mixes dtypes: "
                                         f"it ignores the run's dtype, {self._why_dtype(tdt)}")
            raise failure from None
        except BaseException as err:  # sys.exit(), GeneratorExit ...: the side's error too
            if stops(err):
                raise
            raise self.raised(err) from None

    def traced(self, values: Mapping[str, Any], mode: Mode, sample_shape: tuple[int, ...]
               ) -> BuiltSide:
        """The side's own code and what it returns, as torch.compile should see it: none of
        `call`'s and `result`'s checks and contexts, which dynamo cannot trace (each cut the
        graph and left the side's math eager). The caller sets the run's default dtype and
        the seed around the compiled call (`LiveProblem.tracing`); the eager runs checked
        these very values."""
        import torch

        out = self.fn(**{n: values[n] for n in self.takes if n in values})
        if isinstance(out, torch.Tensor):
            return _tensor_side(self.side, out, mode)
        shape = torch.Size(sample_shape)
        return BuiltSide(self.side, out, out.log_prob, draw=lambda: out.rsample(shape))

    @contextmanager
    def in_run(self, tdt: torch.dtype, what: str, *, watched: bool) -> Iterator[None]:
        """torch's default dtype is the run's while the side's code runs (run_dtype.py).
        `watched`: keep the first less precise tensor it hands into the float64 run (the
        reference every other run is judged against), watching the first such run of `what`
        (the call, log_prob, the draw): the side's code is the same in every run, and
        watching costs a Python call per torch op. The search's re-runs are never watched."""
        import torch

        found: list[Leak] = []
        first = watched and tdt == torch.float64 and what not in self._watched
        if first:
            self._watched.add(what)
        with default_dtype(tdt), (watch(tdt, found) if first else nullcontext()):
            yield
        if found:
            self.leaks.setdefault(tdt, found[0])

    def raised(self, err: BaseException, what: str = "raised") -> GaussdiagError:
        return GaussdiagError(f"side {self.side.value}: {self.label} {what} {described(err)}")

    def result(self, out: Any, mode: Mode, tdt: torch.dtype, sample_shape: tuple[int, ...],
               at: str | None, *, watched: bool = True) -> BuiltSide:
        """What the side returned, ready to evaluate; checks it follows the run's dtype. A
        tensor in log_prob mode is a value of its own: it needs no point (a KL term, a
        log-prior, a loss)."""
        import torch
        from torch.distributions import Distribution

        if isinstance(out, Distribution):
            args = _given_args(out)
            for t in args.values():
                self._check_dtype(t, tdt)
            return BuiltSide(self.side, out, self._log_prob(out, tdt, at, watched), args,
                             self._draw(out, sample_shape, tdt, watched))
        if isinstance(out, torch.Tensor):
            if not out.is_floating_point():
                raise GaussdiagError(
                    f"side {self.side.value}: {self.label} returned a {_dt(out.dtype)} tensor; "
                    f"a side's tensor is the log-density (log_prob mode) or the draws (rsample "
                    f"mode), in the run's floating dtype ({_dt(tdt)} here)")
            self._check_dtype(out, tdt)
            return _tensor_side(self.side, out, mode)
        raise GaussdiagError(
            f"side {self.side.value}: {self.label} returned {type(out).__name__}; a side "
            "returns a torch.distributions.Distribution, or a tensor (the log-density in "
            "log_prob mode, the draws in rsample mode)")

    def _log_prob(self, dist: Any, tdt: torch.dtype, at: str | None, watched: bool
                  ) -> Callable[[torch.Tensor], torch.Tensor]:
        def log_prob(x: torch.Tensor) -> torch.Tensor:
            try:
                with self.in_run(tdt, "log_prob", watched=watched):  # a custom Distribution's
                    out: torch.Tensor = dist.log_prob(x)
            except ValueError as err:
                if "within the support" in str(err):
                    raise ConstraintFailure(
                        self.side, f"the evaluation point is outside the support of "
                        f"{type(dist).__name__}: {first_line(err)}", constraint="support",
                        support=True, fix="evaluate at points inside the support (check `at` "
                        "and the input)") from None
                raise self._at_failed(err, at, x) from None
            except RuntimeError as err:
                raise self._at_failed(err, at, x) from None
            except BaseException as err:  # a Distribution of the user's own, say
                if stops(err):
                    raise
                raise self.raised(err, "returned a distribution whose log_prob raised") \
                    from None
            self._check_tensor(out, f"{type(dist).__name__}.log_prob")
            self._check_dtype(out, tdt)
            return out

        return log_prob

    def _at_failed(self, err: Exception, at: str | None, x: torch.Tensor) -> GaussdiagError:
        return GaussdiagError(
            f"side {self.side.value}: log_prob at `{at}` (shape {list(x.shape)}) failed: "
            f"{first_line(err)}; the input must end in the distribution's event shape (wrap a "
            "batch of independent dims in Independent(dist, k))")

    def _draw(self, dist: Any, sample_shape: tuple[int, ...], tdt: torch.dtype, watched: bool
              ) -> Callable[[], torch.Tensor]:
        def draw() -> torch.Tensor:
            import torch

            if not dist.has_rsample:
                raise GaussdiagError(
                    f"side {self.side.value}: {type(dist).__name__} has no rsample() "
                    "(has_rsample is False in torch): return the draws yourself, e.g. "
                    "dist.sample(shape), to compare them anyway")
            try:
                with self.in_run(tdt, "draw", watched=watched):
                    out: torch.Tensor = dist.rsample(torch.Size(sample_shape))
            except BaseException as err:
                if stops(err):
                    raise
                raise self.raised(err, "failed to draw:") from None
            self._check_tensor(out, f"{type(dist).__name__}.rsample")
            return out

        return draw

    def _check_tensor(self, out: Any, what: str) -> None:
        import torch

        if not isinstance(out, torch.Tensor):
            raise GaussdiagError(f"side {self.side.value}: {self.label} returned a distribution "
                                 f"whose {what} returned {type(out).__name__}, not a tensor")
        if not out.is_floating_point():
            raise GaussdiagError(f"side {self.side.value}: {self.label} returned a distribution "
                                 f"whose {what} returned a {_dt(out.dtype)} tensor, not a "
                                 "floating one")

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


def _entry(fn: Any) -> Any:
    """What the side's signature is read from: a module's `forward` (its `__call__` takes
    `*args, **kwargs`), else the callable itself."""
    import torch

    return fn.forward if isinstance(fn, torch.nn.Module) else fn


def _tensor_side(side: SideName, out: torch.Tensor, mode: Mode) -> BuiltSide:
    """A side that returned a tensor: its draws in rsample mode, else a value of its own."""
    if mode is Mode.RSAMPLE:
        return BuiltSide(side, None, None, draw=lambda: out)
    return BuiltSide(side, None, lambda x: out, value=lambda: out)


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
    return constraint_failure(side, name, cls, args, err)


def _dt(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


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
