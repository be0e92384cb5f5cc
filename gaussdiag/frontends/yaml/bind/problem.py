"""The YAML front end's `BoundSpec` (the engine's `Problem`, on `ProblemBase`): a loaded spec
bound to torch. The point is generated once in float64 from the seed; either side is built in
any dtype, at the point or the jittered one, with a param overridden or not.

torch is imported inside functions: spec errors and `--help` answer without importing it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from gaussdiag.engine.arguments import Site
from gaussdiag.engine.base import ProblemBase
from gaussdiag.engine.built import BuiltSide, Env, Overrides
from gaussdiag.engine.device import resolve_device
from gaussdiag.engine.failures import first_line
from gaussdiag.engine.phrases import Phrases
from gaussdiag.errors import SpecError
from gaussdiag.frontends.yaml.bind import dry_run, point, sides
from gaussdiag.frontends.yaml.bind.exprs import SpecExprs, Stage
from gaussdiag.frontends.yaml.bind.wording import (
    SPEC_PHRASES,
    argument_source,
    params_used,
    spec_argument_fix,
    spec_fix,
)
from gaussdiag.frontends.yaml.spec import (
    DEFAULT_MAX_ELEMENTS,
    ExprTensor,
    InitTensor,
    LoadedSpec,
    SampleInput,
    TrainSpec,
    ValuesTensor,
)
from gaussdiag.vocab import DType, Method, Mode, SideKind, SideName, Verdict

if TYPE_CHECKING:
    import torch


class BoundSpec(ProblemBase, SpecExprs):
    """A loaded spec bound to torch: generates the point once (float64, from the seed) and
    builds either side in any dtype, optionally at a jittered point or with a param overridden.
    """

    def __init__(self, loaded: LoadedSpec, *, device: str | None = None,
                 max_elements: int = DEFAULT_MAX_ELEMENTS) -> None:
        import torch

        ProblemBase.__init__(self)
        SpecExprs.__init__(self, loaded, max_elements)
        requested = device or self.spec.device
        self.device = resolve_device(requested)
        self.side_devices = {s: self._side_device(s) for s in SideName}
        self.leaf_names = [n for n, p in self.spec.params.items() if not isinstance(p, ExprTensor)]
        self.grad_names = [n for n in self.leaf_names if self.spec.params[n].grad]
        # Memory and work are checked on shapes alone before the point is generated
        dry_run.check_budget(self)
        gen = torch.Generator().manual_seed(self.spec.seed)
        # The point: every leaf param and literal input, generated once in float64 on the CPU so
        # that every dtype evaluates the same point.
        self.base = self._point(lambda key, p: point.generate(self.loaded, key, p, gen,
                                                              self.max_elements))

    def on_meta(self, stages: Stage) -> BoundSpec:
        """The same problem on torch's meta device, for the dry run: a copy whose point holds
        shapes alone (`point.empty`), whose sides and sample inputs are built there without
        torch's validation, and whose every step runs under `stages(its spec key)`."""
        import torch

        meta = torch.device("meta")
        out: BoundSpec = self.copied()
        out.stages = stages
        out.point_device = meta.type
        out.side_devices = dict.fromkeys(SideName, meta)
        out._sample_inputs = {}
        out.jittered = None
        out.base = out._point(lambda key, p: point.empty(self.loaded, key, p, self.max_elements))
        return out

    def _point(self, make: Callable[[tuple[str, str], ValuesTensor | InitTensor], torch.Tensor]
               ) -> dict[str, torch.Tensor]:
        """Every leaf param, then every literal input, as `make(key, declared)` makes it."""
        base: dict[str, torch.Tensor] = {}
        for name, p in self.spec.params.items():
            if not isinstance(p, ExprTensor):
                with self.stage(f"params.{name}"):
                    base[name] = make(("params", name), p)
        for name, i in self.spec.inputs.items():
            if isinstance(i, (ValuesTensor, InitTensor)):
                with self.stage(f"inputs.{name}"):
                    base[name] = make(("inputs", name), i)
        return base

    def _side_device(self, side: SideName) -> torch.device:
        pinned = self.spec.side(side).device
        return resolve_device(pinned) if pinned else self.device

    # ---- the point and the environments (ProblemBase's hooks) ------------------------------

    def _params(self, point: Mapping[str, torch.Tensor], tdt: torch.dtype,
                device: torch.device, side: SideName | None, *, with_grad: bool,
                overrides: Overrides, leaf_values: Mapping[str, torch.Tensor]) -> Env:
        """Every param in declaration order: leaves from `point` (or `leaf_values`), derived
        ones evaluated from those above them; `side` is charged with linear-algebra failures."""
        values: dict[str, torch.Tensor] = {}
        leaves: dict[str, torch.Tensor] = {}
        for name, p in self.spec.params.items():
            with self.stage(f"params.{name}"):
                if isinstance(p, ExprTensor):
                    t = self.eval_expr(("params", name, "expr"), p.expr, values, tdt, device,
                                       side)
                    if not p.grad:
                        t = t.detach()
                elif name in leaf_values:
                    t = leaf_values[name]
                    leaves[name] = t
                else:
                    # a copy: .to() returns the point itself when nothing changes, and the
                    # point must never become part of a graph
                    t = point[name].to(device=device, dtype=tdt, copy=True)
                    if p.grad and with_grad:
                        t.requires_grad_(True)
                        leaves[name] = t
                if name in overrides:
                    t = overrides[name](t)
            values[name] = t
        return Env(values=values, leaves=leaves)

    def _inputs(self, point: Mapping[str, torch.Tensor], tdt: torch.dtype,
                device: torch.device) -> dict[str, torch.Tensor]:
        """The inputs (no grad) in one dtype: literal ones cast from float64, `sample:` ones
        drawn once in float64 from their side and cast, `expr` ones computed in this dtype."""
        out: dict[str, torch.Tensor] = {}
        params: dict[str, torch.Tensor] | None = None
        for name, i in self.spec.inputs.items():
            with self.stage(f"inputs.{name}"):
                if isinstance(i, SampleInput):
                    out[name] = self.sample_input(name).to(device=device, dtype=tdt)
                elif isinstance(i, ExprTensor):
                    if params is None:
                        params = self._params(point, tdt, device, None, with_grad=False,
                                              overrides={}, leaf_values={}).values
                    env = {**params, **out}
                    out[name] = self.eval_expr(("inputs", name, "expr"), i.expr, env, tdt,
                                               device, None).detach()
                else:
                    out[name] = point[name].to(device=device, dtype=tdt)
        return out

    def _input_names(self) -> list[str]:
        return list(self.spec.inputs)

    def _sample_names(self) -> list[str]:
        return [n for n, i in self.spec.inputs.items() if isinstance(i, SampleInput)]

    def _sample_request(self, name: str) -> tuple[SideName, tuple[int, ...]]:
        """`{sample: b, sample_shape: [..]}`: drawn from side b."""
        i = self.spec.inputs[name]
        assert isinstance(i, SampleInput)
        point.check_size(self.loaded, ("inputs", name, "sample_shape"),
                         math.prod(i.sample_shape), self.max_elements)
        return i.sample, tuple(i.sample_shape)

    def _sample_source(self, name: str, side: SideName, values: dict[str, torch.Tensor]
                       ) -> Any:
        import torch

        del name
        device = torch.device(self.point_device)
        return sides.build_dist_side(self, side, values, torch.float64, device,
                                     validate=device.type != "meta").dist

    def _draw_failed(self, name: str, side: SideName, shape: tuple[int, ...],
                     err: Exception) -> Exception:
        return self.loaded.error(("inputs", name, "sample"), f"drawing {list(shape)} from "
                                 f"side {side.value} failed: {first_line(err)}")

    def _sample_drawn(self, name: str, draw: torch.Tensor) -> None:
        point.check_size(self.loaded, ("inputs", name), draw.numel(), self.max_elements)

    # ---- sides ---------------------------------------------------------------------------

    def build(self, side: SideName, env: Env, dtype: DType, *, validate: bool = True
              ) -> BuiltSide:
        """The side as a distribution (dist sides) or a log-density expression; validate=False
        skips torch's argument checks (the search's re-runs of an already validated spec)."""
        return sides.build_side(self, side, env, dtype, self.side_devices[side],
                                validate=validate)

    def traced(self, side: SideName, env: Env, dtype: DType) -> BuiltSide:
        return sides.build_side(self, side, env, dtype, self.side_devices[side],
                                validate=False, traced=True)

    # ---- the engine's interface (gaussdiag.engine.problem.Problem) ------------------------

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def file(self) -> str:
        return self.loaded.file

    @property
    def expect(self) -> Verdict | None:
        return self.spec.pair_expect

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

    def kind(self, side: SideName) -> SideKind:
        return self.spec.side(side).kind

    def method(self, side: SideName) -> Method:
        return self.spec.side(side).method or Method.RSAMPLE

    def params_used(self, side: SideName, *, leaves_only: bool = False) -> list[str]:
        return params_used(self, side, leaves_only=leaves_only)

    def search_params(self, side: SideName) -> list[str]:
        return self.params_used(side)

    @property
    def phrases(self) -> Phrases:
        return SPEC_PHRASES

    def fix(self, side: SideName, param: str, template: str, transform: str) -> str:
        return spec_fix(self, side, param, template, transform)

    def argument_fix(self, side: SideName, site: Site, template: str, transform: str, *,
                     on_diagonal: bool) -> str:
        return spec_argument_fix(self, side, site, template, transform,
                                 on_diagonal=on_diagonal)

    def argument_origin(self, side: SideName, site: Site) -> str:
        src = argument_source(self, side, site)
        return f"computed as `{src}`" if src else f"computed inside side {side.value}"

    @property
    def reference_side(self) -> SideName | None:
        return self.spec.reference

    def shape_hint(self, side: SideName, k: int) -> str:
        return (f"add `event_dims: {k}` to {side.value}" if self.kind(side) is SideKind.DIST
                else f"sum the last {k} dim(s) of {side.value}'s log_prob expression")

    def error(self, side: SideName, message: str) -> SpecError:
        return self.loaded.error((side.value,), message)

    def at_name(self, side: SideName) -> str:
        name = self.spec.at_for(side)
        if name is None:
            raise self.loaded.error((side.value,), "no input to evaluate log_prob at: declare one "
                                    "under `inputs:` and name it in `at:`")
        return name
