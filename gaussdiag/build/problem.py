"""The YAML front end's `BoundSpec` (the interface in `gaussdiag.problem`): a loaded spec bound
to torch. The point is generated once in float64 from the seed; either side is built in any
dtype, at the point or the jittered one, with a param overridden or not.

torch is imported inside functions: spec errors and `--help` answer without importing it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gaussdiag import expr as ex
from gaussdiag.build import dry_run, point, sides
from gaussdiag.build.built import BuiltSide, Env, Overrides
from gaussdiag.build.device import resolve_device, seeded, torch_dtype
from gaussdiag.build.failures import LINALG_FIX, ConstraintFailure, first_line
from gaussdiag.build.torch_warnings import WarningLog
from gaussdiag.build.wording import SPEC_PHRASES, params_used, spec_fix
from gaussdiag.errors import ExprError, SpecError
from gaussdiag.phrases import Phrases
from gaussdiag.spec import (
    DEFAULT_MAX_ELEMENTS,
    ExprTensor,
    InitTensor,
    LoadedSpec,
    SampleInput,
    TrainSpec,
    ValuesTensor,
)
from gaussdiag.vocab import DType, Method, Mode, SideName, Verdict

if TYPE_CHECKING:
    import torch


class BoundSpec:
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
        # Memory and work are checked on shapes alone before the point is generated
        dry_run.check_budget(self)
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
        return point.generate(self.loaded, key, p, gen, self.max_elements)

    def _check_size(self, key: tuple[str, ...], numel: int) -> None:
        point.check_size(self.loaded, key, numel, self.max_elements)

    def jitter(self) -> dict[str, torch.Tensor]:
        """A second point near the spec's (`jitter_point`): only params that get gradients
        move; constants (`grad: false`) and literal inputs stay as written."""
        if self.jittered is None:
            self.jittered = point.jitter_point(self.base, self.grad_names, self.spec.seed)
        return self.jittered

    def sliced(self, keep: int = 16) -> BoundSpec | None:
        """`point.sliced`: this problem cut to `keep` along its largest repeated dimension."""
        return point.sliced(self, keep)

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
                arg=str(key[-1]), detail=str(err), fix=LINALG_FIX) from None
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            raise self.loaded.error(
                key, f"`{source}` failed to evaluate: {first_line(err)}") from None
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
                    try:
                        draw = built.dist.sample(torch.Size(i.sample_shape))
                    except (RuntimeError, ValueError) as err:  # Multinomial of 0 trials ...
                        raise self.loaded.error(
                            ("inputs", name, "sample"), f"drawing {list(i.sample_shape)} from "
                            f"side {side.value} failed: {first_line(err)}") from None
            self._check_size(("inputs", name), draw.numel())
            self._sample_inputs[name] = draw.detach()
        return self._sample_inputs[name]

    # ---- sides ---------------------------------------------------------------------------

    def build(self, side: SideName, env: Env, dtype: DType, *, validate: bool = True
              ) -> BuiltSide:
        """The side as a distribution (dist sides) or a log-density expression; validate=False
        skips torch's argument checks (the search's re-runs of an already validated spec)."""
        return sides.build_side(self, side, env, dtype, validate=validate)

    def _build_dist_side(self, side: SideName, values: Mapping[str, torch.Tensor],
                         tdt: torch.dtype, device: torch.device) -> BuiltSide:
        return sides.build_dist_side(self, side, values, tdt, device)

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
        return params_used(self, side, leaves_only=leaves_only)

    @property
    def phrases(self) -> Phrases:
        return SPEC_PHRASES

    def fix(self, side: SideName, param: str, template: str, transform: str) -> str:
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
