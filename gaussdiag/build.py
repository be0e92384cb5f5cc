"""Build each side of a spec as torch objects: leaf tensors, derived params, inputs, and the
distribution (or hand-written log-density / sampling expression) for each side.

torch is imported inside functions: the name tables at the top are read by spec validation,
which must answer without importing torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gaussdiag import dist_args, singular
from gaussdiag import expr as ex
from gaussdiag.errors import DeviceError, ExprError, SpecError
from gaussdiag.spec import (
    DEFAULT_MAX_ELEMENTS,
    AffineTransform,
    ExprTensor,
    EyeInit,
    FullInit,
    InitTensor,
    LoadedSpec,
    NormalInit,
    PowerTransform,
    SampleInput,
    Side,
    TrainSpec,
    UniformInit,
    ValuesTensor,
)
from gaussdiag.torch_warnings import WarningLog
from gaussdiag.vocab import DType, Method, Mode, SideName, Verdict

if TYPE_CHECKING:
    import torch

# Overrides replace a named param's value on one side by a function of it (the
# reparameterization search's hook): name -> f(tensor) -> tensor.
Overrides = Mapping[str, Callable[["torch.Tensor"], "torch.Tensor"]]


class ConstraintFailure(Exception):
    """A side's arguments (or the evaluation point) break a distribution constraint, or a
    linear-algebra step on them fails. Becomes the `invalid-parameters` verdict."""

    def __init__(self, side: SideName, message: str, *, arg: str | None = None,
                 constraint: str | None = None, index: tuple[int, ...] | None = None,
                 detail: str | None = None, fix: str | None = None,
                 support: bool = False) -> None:
        self.side = side
        self.message = message
        self.arg = arg
        self.constraint = constraint
        self.index = index
        self.detail = detail
        self.fix = fix
        self.support = support
        super().__init__(message)


def torch_dtype(dtype: DType) -> torch.dtype:
    import torch

    return {DType.FLOAT16: torch.float16, DType.BFLOAT16: torch.bfloat16,
            DType.FLOAT32: torch.float32, DType.FLOAT64: torch.float64}[dtype]


def resolve_device(requested: str) -> torch.device:
    """`cpu`, `cuda`, `cuda:N`, `mps` or `auto` -> a torch.device that exists, else DeviceError."""
    import torch

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cpu":
        return torch.device("cpu")
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device '{requested}' requested but CUDA is not available "
                f"(torch {torch.__version__}, built with CUDA: {torch.version.cuda or 'no'}); "
                "use --device cpu, or --device auto to fall back to the CPU"
            )
        index = int(requested.split(":", 1)[1]) if ":" in requested else 0
        count = torch.cuda.device_count()
        if index >= count:
            raise DeviceError(
                f"device '{requested}' requested but only {count} CUDA device(s) are visible "
                f"(cuda:0..cuda:{count - 1})"
            )
        return torch.device("cuda", index)
    if requested == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise DeviceError("device 'mps' requested but MPS is not available on this machine; "
                              "use --device cpu")
        return torch.device("mps")
    raise DeviceError(f"unknown device '{requested}': use cpu, cuda, cuda:N, mps or auto")


@dataclass
class Env:
    """The named tensors one side is evaluated with, in one dtype, on one device."""

    values: dict[str, torch.Tensor]
    leaves: dict[str, torch.Tensor]  # the leaf params that require grad


@dataclass
class BuiltSide:
    """One side ready to evaluate: a distribution, or a hand-written log-density/draw."""

    name: SideName
    dist: Any  # torch.distributions.Distribution | None
    log_prob: Callable[[torch.Tensor], torch.Tensor] | None
    args: dict[str, torch.Tensor] = field(default_factory=dict)
    draw: Callable[[], torch.Tensor] | None = None  # rsample mode: one draw of sample_shape


class Problem:
    """A loaded spec bound to torch: generates the point once (float64, from the seed) and
    builds either side in any dtype, optionally at a jittered point or with a param overridden.
    """

    def __init__(self, loaded: LoadedSpec, *, device: str | None = None,
                 max_elements: int = DEFAULT_MAX_ELEMENTS) -> None:
        import torch

        self.loaded = loaded
        self.spec = loaded.spec
        self.max_elements = max_elements
        requested = device or self.spec.device
        self.device = resolve_device(requested)
        self.side_devices = {s: self._side_device(s) for s in SideName}
        self._exprs: dict[str, ex.Expr] = {}
        self._functions = ex.torch_functions(max_elements=max_elements)
        gen = torch.Generator().manual_seed(self.spec.seed)
        self.leaf_names = [n for n, p in self.spec.params.items() if not isinstance(p, ExprTensor)]
        self.grad_names = [n for n in self.leaf_names if self.spec.params[n].grad]
        # The point: every leaf param and literal input, generated once in float64 on the CPU so
        # that every dtype evaluates the same point.
        self.base: dict[str, torch.Tensor] = {}
        for name, p in self.spec.params.items():
            if not isinstance(p, ExprTensor):
                self.base[name] = self._generate(("params", name), p, gen)
        self._sample_inputs: dict[str, torch.Tensor] = {}
        for name, i in self.spec.inputs.items():
            if isinstance(i, (ValuesTensor, InitTensor)):
                self.base[name] = self._generate(("inputs", name), i, gen)
        self.jittered: dict[str, torch.Tensor] | None = None
        self._reference: dict[SideName, BuiltSide] = {}
        self.warnings = WarningLog()  # torch's warnings while sides run, for the report

    def _side_device(self, side: SideName) -> torch.device:
        pinned = self.spec.side(side).device
        return resolve_device(pinned) if pinned else self.device

    # ---- the point -----------------------------------------------------------------------

    def _generate(self, key: tuple[str, ...], p: ValuesTensor | InitTensor,
                  gen: torch.Generator) -> torch.Tensor:
        import torch

        f64 = torch.float64
        if isinstance(p, ValuesTensor):
            try:
                t = torch.tensor(p.values, dtype=f64)
                finite = t.ndim <= 64 and bool(torch.isfinite(t).all())
            except (OverflowError, RuntimeError, ValueError, TypeError):
                finite = False  # a 400-digit integer, or nesting beyond torch's 64 dimensions
            if not finite:
                raise self.loaded.error((*key, "values"),
                                        "values must be finite numbers in at most 64 dimensions")
            return t
        shape = tuple(p.shape)
        self._check_size(key + ("shape",), math.prod(shape))
        init = p.init
        if init == "zeros":
            return torch.zeros(shape, dtype=f64)
        if init == "ones":
            return torch.ones(shape, dtype=f64)
        if init == "normal":
            return torch.randn(shape, dtype=f64, generator=gen)
        if init == "uniform":
            return torch.rand(shape, dtype=f64, generator=gen)
        if isinstance(init, FullInit):
            return torch.full(shape, float(init.full), dtype=f64)
        if isinstance(init, NormalInit):
            return torch.randn(shape, dtype=f64, generator=gen) * init.normal.std + init.normal.mean
        if isinstance(init, UniformInit):
            lo, hi = init.uniform
            return torch.rand(shape, dtype=f64, generator=gen) * (hi - lo) + lo
        if isinstance(init, EyeInit):
            if len(shape) < 2 or shape[-1] != shape[-2]:
                raise self.loaded.error((*key, "init"),
                                        "eye needs a shape ending in two equal sizes, "
                                        f"found {list(shape)}")
            return torch.eye(shape[-1], dtype=f64).expand(shape).clone()
        raise AssertionError(f"unhandled init {init!r}")

    def _check_size(self, key: tuple[str, ...], numel: int) -> None:
        if numel > self.max_elements:
            raise self.loaded.error(
                key, f"{numel:,} elements exceeds the limit of {self.max_elements:,} "
                "(raise it with --max-elements)")

    def jitter(self) -> dict[str, torch.Tensor]:
        """A second point near the spec's (`jitter_point`): only params that get gradients
        move; constants (`grad: false`) and literal inputs stay as written."""
        if self.jittered is None:
            self.jittered = jitter_point(self.base, self.grad_names, self.spec.seed)
        return self.jittered

    def sliced(self, keep: int = 16) -> Problem | None:
        """The same problem on the first `keep` entries of its largest repeated dimension:
        every dim of that size, in every leaf, input and draw, is cut to `keep`. Cheap
        evidence for the reparameterization search at large n (a diagonal or elementwise
        structure survives slicing; anything else is caught by the caller's faithfulness
        check and the full-size confirmation). None when nothing is large enough to cut."""
        import copy
        from collections import Counter

        sizes = Counter(d for n in self.leaf_names for d in self.base[n].shape if d > 4 * keep)
        if not sizes:
            return None
        big = max(sizes)
        for name in self.spec.inputs:  # draw every sample input before cutting
            if isinstance(self.spec.inputs[name], SampleInput):
                self.sample_input(name)

        def cut(t: torch.Tensor) -> torch.Tensor:
            for dim, size in enumerate(t.shape):
                if size == big:
                    t = t.narrow(dim, 0, keep)
            return t.contiguous()

        out = copy.copy(self)
        out.base = {k: cut(v) for k, v in self.base.items()}
        out.jittered = {k: cut(v) for k, v in self.jitter().items()}
        out._sample_inputs = {k: cut(v) for k, v in self._sample_inputs.items()}
        out._reference = {}
        return out

    def keep_reference(self, side: SideName, built: BuiltSide) -> None:
        """Adopt a float64 build at the spec's point, unmodified, as the reference."""
        self._reference.setdefault(side, built)

    def release_references(self) -> None:
        """Drop the cached float64 builds (their matrices) once nothing reads them."""
        self._reference.clear()

    def reference(self, side: SideName) -> BuiltSide:
        """The side built once in float64 at the spec's point without gradients (cached):
        what the conditioning estimate and the moment evidence read."""
        import torch

        if side not in self._reference:
            with torch.no_grad():
                env = self.env(DType.FLOAT64, side, with_grad=False)
                self._reference[side] = self.build(side, env, DType.FLOAT64)
        return self._reference[side]

    # ---- expressions ---------------------------------------------------------------------

    def parsed(self, source: str, *, allow_randn: bool = False) -> ex.Expr:
        key = f"{allow_randn}:{source}"
        if key not in self._exprs:
            names = list(self.spec.params) + list(self.spec.inputs)
            self._exprs[key] = ex.parse(source, names=names, allow_randn=allow_randn)
        return self._exprs[key]

    def eval_expr(self, key: tuple[str | int, ...], source: str | float, env: Mapping[str, Any],
                  dtype: torch.dtype, device: torch.device, side: SideName | None,
                  functions: Mapping[str, Callable[..., Any]] | None = None,
                  allow_randn: bool = False) -> torch.Tensor:
        import torch

        def literal(v: float) -> torch.Tensor:
            return torch.tensor(v, dtype=dtype, device=device)

        def check(v: Any) -> None:
            if isinstance(v, torch.Tensor) and v.numel() > self.max_elements:
                raise ExprError(f"intermediate result of {v.numel():,} elements exceeds the limit "
                                f"of {self.max_elements:,} (raise it with --max-elements)")

        if not isinstance(source, str):
            return literal(float(source))
        try:
            e = self.parsed(source, allow_randn=allow_randn)
            out = ex.evaluate(e, env, functions or self._functions, literal=literal, check=check)
        except ExprError as err:
            raise self.loaded.error(key, f"{err}") from None
        except torch.linalg.LinAlgError as err:  # type: ignore[attr-defined]
            if side is None:
                raise self.loaded.error(key, f"{err}") from None
            raise ConstraintFailure(
                side, f"{'.'.join(map(str, key))} = `{source}` failed: {err}",
                arg=str(key[-1]), detail=str(err), fix=_LINALG_FIX) from None
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            raise self.loaded.error(
                key, f"`{source}` failed to evaluate: {_first_line(err)}") from None
        if not isinstance(out, torch.Tensor):
            out = literal(float(out))
        return out

    # ---- environments --------------------------------------------------------------------

    def env(self, dtype: DType, side: SideName, *, jittered: bool = False,
            overrides: Overrides | None = None, with_grad: bool = True,
            leaf_values: Mapping[str, torch.Tensor] | None = None) -> Env:
        """Fresh leaves (requiring grad) and every derived param and input, on the side's
        device. `overrides` replaces a param's value by f(value) for this side only;
        `leaf_values` supplies the leaves themselves (train mode steps them)."""

        device = self.side_devices[side]
        point = self.jitter() if jittered else self.base
        env = self._params(point, torch_dtype(dtype), device, side, with_grad=with_grad,
                           overrides=overrides, leaf_values=leaf_values)
        env.values.update(self.inputs(dtype, device, jittered=jittered))
        return env

    def _params(self, point: Mapping[str, torch.Tensor], tdt: torch.dtype,
                device: torch.device, side: SideName | None, *, with_grad: bool,
                overrides: Overrides | None = None,
                leaf_values: Mapping[str, torch.Tensor] | None = None) -> Env:
        """Every param in declaration order: leaves from `point` (or `leaf_values`), derived
        ones evaluated from those above them; `side` is charged with linear-algebra failures."""
        overrides = overrides or {}
        values: dict[str, torch.Tensor] = {}
        leaves: dict[str, torch.Tensor] = {}
        for name, p in self.spec.params.items():
            if isinstance(p, ExprTensor):
                t = self.eval_expr(("params", name, "expr"), p.expr, values, tdt, device, side)
                if not p.grad:
                    t = t.detach()
            elif leaf_values is not None and name in leaf_values:
                t = leaf_values[name]
                leaves[name] = t
            else:
                # a copy: .to() returns the point itself when nothing changes, and the point
                # must never become part of a graph
                t = point[name].to(device=device, dtype=tdt, copy=True)
                if p.grad and with_grad:
                    t.requires_grad_(True)
                    leaves[name] = t
            if name in overrides:
                t = overrides[name](t)
            values[name] = t
        return Env(values=values, leaves=leaves)

    def inputs(self, dtype: DType, device: torch.device, *, jittered: bool = False
               ) -> dict[str, torch.Tensor]:
        """The inputs (no grad) in one dtype: literal ones cast from float64, `sample:` ones
        drawn once in float64 from their side and cast, `expr` ones computed in this dtype."""

        tdt = torch_dtype(dtype)
        point = self.jitter() if jittered else self.base
        out: dict[str, torch.Tensor] = {}
        params: dict[str, torch.Tensor] | None = None
        for name, i in self.spec.inputs.items():
            if isinstance(i, SampleInput):
                out[name] = self.sample_input(name).to(device=device, dtype=tdt)
            elif isinstance(i, ExprTensor):
                if params is None:
                    params = self._params(point, tdt, device, None, with_grad=False).values
                env = {**params, **out}
                out[name] = self.eval_expr(("inputs", name, "expr"), i.expr, env, tdt, device,
                                           None).detach()
            else:
                out[name] = point[name].to(device=device, dtype=tdt)
        return out

    def sample_input(self, name: str) -> torch.Tensor:
        """`{sample: b, sample_shape: [..]}`: drawn from that side, built in float64 on the CPU
        at the spec's point, under the seed; detached."""
        import torch

        if name not in self._sample_inputs:
            i = self.spec.inputs[name]
            assert isinstance(i, SampleInput)
            side = i.sample
            self._check_size(("inputs", name, "sample_shape"), math.prod(i.sample_shape))
            with torch.no_grad():
                cpu, f64 = torch.device("cpu"), torch.float64
                values = self._params(self.base, f64, cpu, side, with_grad=False).values
                for iname, inp in self.spec.inputs.items():
                    if iname in self._sample_inputs:
                        values[iname] = self._sample_inputs[iname]
                    elif isinstance(inp, (ValuesTensor, InitTensor)):
                        values[iname] = self.base[iname]
                built = self._build_dist_side(side, values, f64, cpu)
                with seeded(self.spec.seed):
                    draw = built.dist.sample(torch.Size(i.sample_shape))
            self._check_size(("inputs", name), draw.numel())
            self._sample_inputs[name] = draw.detach()
        return self._sample_inputs[name]

    # ---- sides ---------------------------------------------------------------------------

    def build(self, side: SideName, env: Env, dtype: DType, *, validate: bool = True
              ) -> BuiltSide:
        """The side as a distribution (dist sides) or a log-density expression; validate=False
        skips torch's argument checks (the search's re-runs of an already validated spec)."""
        s = self.spec.side(side)
        tdt = torch_dtype(dtype)
        device = self.side_devices[side]
        if s.kind == "dist":
            return self._build_dist_side(side, env.values, tdt, device, validate=validate)
        if s.kind == "log_prob":
            assert s.log_prob is not None
            src = s.log_prob
            values = env.values

            def log_prob(x: torch.Tensor) -> torch.Tensor:
                del x  # the expression names its input itself
                return self.eval_expr((side.value, "log_prob"), src, values, tdt, device, side)

            return BuiltSide(side, None, log_prob)
        assert s.expr is not None
        src_draw = s.expr
        functions = ex.torch_functions(sample_shape=tuple(self.spec.sample_shape),
                                       max_elements=self.max_elements)
        values = env.values

        def draw() -> torch.Tensor:
            return self.eval_expr((side.value, "expr"), src_draw, values, tdt, device, side,
                                  functions=functions, allow_randn=True)

        return BuiltSide(side, None, None, draw=draw)

    def _build_dist_side(self, side: SideName, values: Mapping[str, torch.Tensor],
                         tdt: torch.dtype, device: torch.device, *, validate: bool = True
                         ) -> BuiltSide:
        import torch
        import torch.distributions as D

        s: Side = self.spec.side(side)
        assert s.dist is not None
        cls = dist_args.torch_class(s.dist)
        self._check_arg_names(side, s, cls)
        args = dist_args.arguments(
            s.dist, s.args,
            lambda k, v: self.eval_expr((side.value, "args", k), v, values, tdt, device, side),
            lambda k, message: self.loaded.error((side.value, "args", k), message))
        # Singular to working precision is invalid whatever torch's Cholesky does on this CPU:
        # decided before torch validates, from the eigenvalues of the matrix as this dtype
        # holds it (small matrices; large ones use the factor torch computes, below).
        pending = singular.check_args(side, s.dist, args)
        try:
            dist: Any = cls(**args, validate_args=validate)
            singular.check_factor(side, s.dist, args, dist, pending)
            if s.transforms:
                dist = D.TransformedDistribution(
                    dist, [self._transform(side, i, t, values, tdt, device)
                           for i, t in enumerate(s.transforms)], validate_args=validate)
            if s.event_dims:
                dist = D.Independent(dist, s.event_dims, validate_args=validate)
        except ValueError as err:
            if str(err).startswith("Expected parameter"):
                raise constraint_failure(side, s.dist, cls, args, err) from None
            raise self.loaded.error((side.value, "args"), f"{s.dist}: {_first_line(err)}") from None
        except TypeError as err:
            accepted = ", ".join(getattr(cls, "arg_constraints", {}) or ["?"])
            raise self.loaded.error((side.value, "args"),
                                    f"{s.dist} does not accept these arguments "
                                    f"({_first_line(err)}); "
                                    f"its arguments are: {accepted}") from None
        except torch.linalg.LinAlgError as err:  # type: ignore[attr-defined]
            raise ConstraintFailure(side, f"{s.dist}: {err}", detail=str(err),
                                    fix=_LINALG_FIX) from None
        except (RuntimeError, IndexError) as err:  # e.g. an empty (0 x 0) matrix
            raise self.loaded.error((side.value, "args"),
                                    f"{s.dist}: {_first_line(err)}") from None

        def log_prob(x: torch.Tensor) -> torch.Tensor:
            try:
                return dist.log_prob(x)  # type: ignore[no-any-return]
            except ValueError as err:
                if "within the support" in str(err):
                    raise ConstraintFailure(
                        side, f"the evaluation point is outside the support of {s.dist}: "
                        f"{_first_line(err)}", constraint="support", support=True,
                        fix="evaluate at points inside the support (check `at:` and the input)"
                    ) from None
                # the input's shape does not fit the distribution (event or batch shape)
                raise self.loaded.error(
                    (side.value,), f"log_prob at the input failed: {_first_line(err)}") from None
            except RuntimeError as err:
                raise self.loaded.error(
                    (side.value,), f"log_prob at the input failed: {_first_line(err)}") from None

        def draw() -> torch.Tensor:
            shape = torch.Size(self.spec.sample_shape)
            if s.method is not Method.SAMPLE and not dist.has_rsample:
                raise self.loaded.error(
                    (side.value, "dist"),
                    f"{s.dist} has no rsample() (has_rsample is False in torch): its draws "
                    "cannot carry gradients; use `method: sample` to compare them anyway")
            try:
                if s.method is Method.SAMPLE:
                    return dist.sample(shape)  # type: ignore[no-any-return]
                return dist.rsample(shape)  # type: ignore[no-any-return]
            except RuntimeError as err:  # e.g. more than torch's 64 dimensions
                raise self.loaded.error((side.value,), f"drawing {list(shape)} from {s.dist} "
                                        f"failed: {_first_line(err)}") from None

        tensors = {k: v for k, v in args.items() if isinstance(v, torch.Tensor)}  # no `dim`
        return BuiltSide(side, dist, log_prob, tensors, draw)

    def _check_arg_names(self, side: SideName, s: Side, cls: Any) -> None:
        """Every `args:` key must be a keyword of the distribution's constructor."""
        import difflib
        import inspect

        accepted = [n for n, p in inspect.signature(cls.__init__).parameters.items()
                    if n not in ("self", "validate_args")
                    and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        for key in s.args:
            if key not in accepted:
                close = difflib.get_close_matches(key, accepted, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise self.loaded.error(
                    (side.value, "args", key),
                    f"unknown argument for {s.dist}{hint}; its arguments are: "
                    f"{', '.join(accepted)}")

    def _transform(self, side: SideName, i: int, t: Any, values: Mapping[str, torch.Tensor],
                   tdt: torch.dtype, device: torch.device) -> Any:
        import torch.distributions.transforms as T

        if t == "exp":
            return T.ExpTransform()
        if t == "tanh":
            return T.TanhTransform()
        if t == "sigmoid":
            return T.SigmoidTransform()
        if t == "softplus":
            return T.SoftplusTransform()
        key = (side.value, "transforms", i)
        if isinstance(t, AffineTransform):
            loc = self.eval_expr((*key, "affine", "loc"), t.affine.loc, values, tdt, device, side)
            scale = self.eval_expr((*key, "affine", "scale"), t.affine.scale, values, tdt, device,
                                   side)
            return T.AffineTransform(loc, scale)
        if isinstance(t, PowerTransform):
            return T.PowerTransform(self.eval_expr((*key, "power"), t.power, values, tdt, device,
                                                   side))
        raise AssertionError(f"unhandled transform {t!r}")

    # ---- the engine's interface (gaussdiag.problem.Problem) -------------------------------

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def file(self) -> str:
        return self.loaded.file

    @property
    def expect(self) -> Verdict | None:
        return self.spec.expect

    @property
    def mode(self) -> Mode:
        return self.spec.mode

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def run_dtypes(self) -> list[DType]:
        return self.spec.run_dtypes

    @property
    def train_settings(self) -> TrainSpec:
        return self.spec.train_settings

    @property
    def labels(self) -> dict[SideName, str]:
        return {s: self.spec.side(s).display(s) for s in SideName}

    def kind(self, side: SideName) -> str:
        return self.spec.side(side).kind

    def method(self, side: SideName) -> Method:
        return self.spec.side(side).method or Method.RSAMPLE

    def params_used(self, side: SideName, *, leaves_only: bool = False) -> list[str]:
        from gaussdiag.attribute import params_used

        return params_used(self, side, leaves_only=leaves_only)

    def fix(self, side: SideName, param: str, template: str, transform: str) -> str:
        from gaussdiag.attribute import spec_fix

        return spec_fix(self, side, param, template, transform)

    def shape_hint(self, side: SideName, k: int) -> str:
        return (f"add `event_dims: {k}` to {side.value}" if self.kind(side) == "dist"
                else f"sum the last {k} dim(s) of {side.value}'s log_prob expression")

    def error(self, side: SideName, message: str) -> SpecError:
        return self.loaded.error((side.value,), message)

    def at_name(self, side: SideName) -> str:
        name = self.spec.at_for(side)
        if name is None:
            raise self.loaded.error((side.value,), "no input to evaluate log_prob at: declare one "
                                    "under `inputs:` and name it in `at:`")
        return name


_LINALG_FIX = ("build the matrix so it is positive definite by construction: a `scale_tril` "
               "from a free matrix with a positive diagonal, e.g. "
               "tril(M, -1) + diag_embed(softplus(diagonal(M))), or "
               "torch.distributions.transform_to(constraints.lower_cholesky)(M)")

# Fixes for broken constraints, keyed by the constraint's class name.
_CONSTRAINT_FIX: dict[str, str] = {
    "_GreaterThan": "keep it positive by construction: softplus(raw) or exp(log_value), "
                    "plus a small floor such as clamp(softplus(raw), min=1e-4)",
    "_GreaterThanEq": "keep it non-negative by construction: softplus(raw) or exp(raw)",
    "_PositiveDefinite": _LINALG_FIX,
    "_LowerCholesky": "a scale_tril needs a lower triangle with a positive diagonal: "
                      "tril(M, -1) + diag_embed(softplus(diagonal(M)))",
    "_LowerTriangular": "zero the upper triangle: tril(M)",
    "_Interval": "map an unconstrained value into the interval, e.g. sigmoid(raw)",
    "_HalfOpenInterval": "map an unconstrained value into the interval, e.g. sigmoid(raw)",
    "_Simplex": "normalise with softmax (logsumexp-based) so entries are positive and sum to 1",
    "_CorrCholesky": "use torch.distributions.transform_to(constraints.corr_cholesky)(raw)",
}


def constraint_failure(side: SideName, dist_name: str, cls: Any, args: Mapping[str, Any],
                       err: ValueError) -> ConstraintFailure:
    """Turn torch's validation error into a failure naming the argument, the constraint, the
    first failing batch index and a fix (torch's own first line is kept)."""
    import torch

    text = str(err)
    arg = text.split("Expected parameter ", 1)[1].split(" ", 1)[0]
    constraint = getattr(cls, "arg_constraints", {}).get(arg)
    index: tuple[int, ...] | None = None
    detail: str | None = None
    value = args.get(arg)
    if constraint is not None and isinstance(value, torch.Tensor):
        try:
            ok = constraint.check(value)
            bad = (~ok).nonzero()
            if len(bad):
                index = tuple(int(i) for i in bad[0])
            if type(constraint).__name__ == "_PositiveDefinite":
                m = value.detach().double()
                m = m[index] if index else m
                eig = torch.linalg.eigvalsh(m)
                detail = (f"smallest eigenvalue {float(eig.min()):.4g} "
                          f"(largest {float(eig.max()):.4g})")
            elif index is not None and value.ndim - len(index) == 0:
                detail = f"value {float(value.detach()[index]):.4g} at index {list(index)}"
            elif index is not None:
                detail = f"first failing batch index {list(index)}"
        except Exception:  # noqa: BLE001 - the detail is a courtesy; torch's message stands
            pass
    cname = type(constraint).__name__ if constraint is not None else None
    return ConstraintFailure(
        side, _first_line(err), arg=arg,
        constraint=repr(constraint) if constraint is not None else None,
        index=index, detail=detail,
        fix=_CONSTRAINT_FIX.get(cname or "", "reparameterize so the constraint holds by "
                                "construction (torch.distributions.transform_to)"),
    )


def jitter_point(base: Mapping[str, torch.Tensor], grad_names: Iterable[str], seed: int
                 ) -> dict[str, torch.Tensor]:
    """A second point near `base`: each leaf that gets gradients scaled elementwise by
    exp(0.1 u), zeros of vector leaves moved by 0.1 u (matrix zeros stay zero: structure such
    as a triangle is kept). Constants and data stay as written: they are structure (an
    identity, a mask) or observations. Used to tell real equalities from coincidences such as
    std == 1."""
    import torch

    gen = torch.Generator().manual_seed(seed + 7919)
    out = dict(base)
    for name in grad_names:
        t = base[name]
        u = torch.randn(t.shape, dtype=torch.float64, generator=gen)
        if t.ndim >= 2 and t.shape[-1] == t.shape[-2]:
            u = 0.5 * (u + u.transpose(-1, -2))  # keep symmetric matrices symmetric
        moved = t * torch.exp(0.1 * u)
        if t.ndim < 2:
            moved = torch.where(t == 0, 0.1 * u, moved)
        out[name] = moved
    return out


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's global generator for a draw without disturbing the caller's stream.
    torch.distributions draws from the global generator, so both sides (and `randn_like`)
    see the same noise when each is drawn under the same seed."""
    import torch

    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.random.set_rng_state(state)
