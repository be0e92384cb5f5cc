"""Two Python sides bound for the engine: `LiveProblem`, the engine's `Problem` on `ProblemBase`.

The point is the user's own params and inputs, copied once to float64 on the CPU; the user's
tensors and modules are never changed (each run gets copies in its dtype and on its device).
A module param's leaves are its parameters, named `net.fc.weight`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gaussdiag.engine.alternatives import ALTERNATIVES
from gaussdiag.engine.arguments import Site
from gaussdiag.engine.base import ProblemBase
from gaussdiag.engine.built import BuiltSide, Env, Overrides
from gaussdiag.engine.device import resolve_device, torch_dtype
from gaussdiag.engine.failures import ConstraintFailure
from gaussdiag.engine.phrases import Phrases
from gaussdiag.errors import GaussdiagError
from gaussdiag.frontends.python.guard import check_input, check_param, user_code
from gaussdiag.frontends.python.run_dtype import RunNotes, traced_run
from gaussdiag.frontends.python.settings import Sample, Settings
from gaussdiag.frontends.python.sides import LiveSide
from gaussdiag.vocab import DType, Method, Mode, SideKind, SideName, Verdict

if TYPE_CHECKING:
    import torch

# The engine's messages in Python terms: a param is a leaf because it is in `params`, a side
# draws with whatever it calls, and the point is the tensors the caller passed.
LIVE_PHRASES = Phrases(
    point="the given point",
    constant="leave it out of params (or pass it as an input) if it is a constant",
    use_rsample="call rsample() instead of sample() on side {side}",
    structure="pass a free tensor raw in params and use torch.tril(raw) in the side",
    bisect="return a hand-written log-density from one side and bisect",
)


@dataclass(frozen=True)
class _ModuleParam:
    module: Any  # torch.nn.Module, the user's own (read, never changed)
    leaves: tuple[tuple[str, str], ...]  # (leaf name `net.fc.weight`, path `fc.weight`)


class LiveProblem(ProblemBase):
    """Callables `a` and `b` with their params and inputs, as the engine's `Problem`."""

    # Not under the memory and work budget (the YAML front end's dry run): the callables are
    # the caller's own code, and a meta-device rerun of them needs their params and inputs
    # rebuilt on meta, which modules (`net.fc.weight`) do not offer without copying the module.

    def __init__(self, a: Any, b: Any, settings: Settings) -> None:
        import torch

        super().__init__()
        self.settings = settings
        self.base = {}
        self.leaf_names = []
        self.grad_names = []
        self._modules: dict[str, _ModuleParam] = {}
        self._templates: dict[tuple[str, torch.dtype, str], Any] = {}
        devices: set[torch.device] = set()
        for name, value in settings.params.items():
            if isinstance(value, torch.nn.Module):
                leaves = []
                for path, p in value.named_parameters():
                    leaf = f"{name}.{path}"
                    check_param(leaf, p)
                    self._add_leaf(leaf, p, p.requires_grad)
                    leaves.append((leaf, path))
                    devices.add(p.device)
                self._modules[name] = _ModuleParam(value, tuple(leaves))
            elif isinstance(value, torch.Tensor):
                check_param(name, value)
                self._add_leaf(name, value, True)
                devices.add(value.device)
            else:
                raise GaussdiagError(f"params['{name}'] must be a tensor or an nn.Module, "
                                     f"found {type(value).__name__}")
        for name, value in settings.inputs.items():
            if isinstance(value, torch.Tensor):
                check_input(name, value)
                self.base[name] = _point(value)
            elif not isinstance(value, Sample):
                raise GaussdiagError(f"inputs['{name}'] must be a tensor or gaussdiag.sample("
                                     f"side, shape), found {type(value).__name__}")
        requested = settings.device
        if requested is None:  # the user's own device when every tensor is on one
            requested = str(devices.pop()) if len(devices) == 1 else "cpu"
        self.device = resolve_device(requested)
        self.side_devices = {s: self.device for s in SideName}
        names, inputs = list(settings.params), list(settings.inputs)
        self.sides = {SideName.A: LiveSide(SideName.A, a, names, inputs),
                      SideName.B: LiveSide(SideName.B, b, names, inputs)}
        self.warnings = RunNotes(lambda: {s.value: live.leaks for s, live in self.sides.items()})
        self._kinds: dict[SideName, SideKind] = {}

    def _add_leaf(self, name: str, value: torch.Tensor, grad: bool) -> None:
        self.base[name] = _point(value)
        self.leaf_names.append(name)
        if grad:
            self.grad_names.append(name)

    # ---- identity and settings -----------------------------------------------------------

    @property
    def name(self) -> str:
        if self.settings.single:
            return self.settings.name or self.sides[SideName.A].label
        return self.settings.name or f"{self.sides[SideName.A].label} vs " \
            f"{self.sides[SideName.B].label}"

    @property
    def file(self) -> str:
        return self.settings.file

    @property
    def expect(self) -> Verdict | None:
        return self.settings.expect

    @property
    def mode(self) -> Mode:
        return self.settings.mode

    @property
    def seed(self) -> int:
        return self.settings.seed

    @property
    def run_dtypes(self) -> list[DType]:
        return sorted(set(self.settings.dtypes) | {DType.FLOAT64}, key=lambda d: d.rank)

    @property
    def train_settings(self) -> Any:
        return self.settings.train

    @property
    def labels(self) -> dict[SideName, str]:
        return {s: self.sides[s].label for s in SideName}

    # ---- the point and the environments (ProblemBase's hooks) ------------------------------

    def _can_slice(self) -> bool:
        """A side's code may depend on its shapes (a `view(-1, 3, 3)`): the screen keeps a
        slice only where both sides run on it and differ as at full size, and confirms every
        candidate at full size. Never with an nn.Module param: its layers fix the shapes."""
        return not self._modules

    def _after_cut(self) -> None:
        self._kinds = {}  # what each side returned, found again on the slice

    def _params(self, point: Mapping[str, torch.Tensor], tdt: torch.dtype,
                device: torch.device, side: SideName | None, *, with_grad: bool,
                overrides: Overrides, leaf_values: Mapping[str, torch.Tensor]) -> Env:
        del side  # a Python side's failures are its own errors
        values: dict[str, Any] = {}
        leaves: dict[str, torch.Tensor] = {}
        for name in self.leaf_names:
            if name in leaf_values:
                t = leaf_values[name]
                leaves[name] = t
            else:
                t = point[name].to(device=device, dtype=_dtype(point[name], tdt), copy=True)
                if with_grad and name in self.grad_names:
                    t.requires_grad_(True)
                    leaves[name] = t
            if name in overrides:
                t = overrides[name](t)
            # the side's own copy: an in-place change (`s.clamp_(min=0.1)`) stays in this run
            # and reaches the leaf's gradient as the side's code means (torch refuses in-place
            # changes of a leaf that requires grad)
            values[name] = t.clone() if t.is_leaf and t.requires_grad else t
        for name, mp in self._modules.items():
            values[name] = self._module_copy(name, mp, tdt, device, values)
        return Env(values=values, leaves=leaves)

    def _module_copy(self, name: str, mp: _ModuleParam, tdt: torch.dtype,
                     device: torch.device, values: Mapping[str, torch.Tensor]) -> Any:
        """A copy of the user's module in this dtype on this device whose parameters are
        this environment's leaves (plain tensors, so an override can replace them)."""
        key = (name, tdt, str(device))
        if key not in self._templates:
            template = copy.deepcopy(mp.module).to(device=device, dtype=tdt)
            for _, path in mp.leaves:
                owner, attr = _owner(template, path)
                del owner._parameters[attr]
            self._templates[key] = template
        module = copy.deepcopy(self._templates[key])
        for leaf, path in mp.leaves:
            owner, attr = _owner(module, path)
            setattr(owner, attr, values[leaf])
        return module

    def _inputs(self, point: Mapping[str, torch.Tensor], tdt: torch.dtype,
                device: torch.device) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for name, value in self.settings.inputs.items():
            t = self.sample_input(name) if isinstance(value, Sample) else point[name]
            # a copy even in float64 on the CPU: an in-place change stays in this run
            out[name] = t.to(device=device, dtype=_dtype(t, tdt), copy=True)
        return out

    def _input_names(self) -> list[str]:
        return list(self.settings.inputs)

    def _sample_names(self) -> list[str]:
        return [n for n, v in self.settings.inputs.items() if isinstance(v, Sample)]

    def _draw_guard(self, name: str, side: SideName) -> AbstractContextManager[object]:
        return user_code(f"inputs['{name}']: sample('{side.value}', ...) failed to draw from "
                         f"side {side.value}")

    def _sample_request(self, name: str) -> tuple[SideName, tuple[int, ...]]:
        """`gaussdiag.sample(side, shape)`."""
        spec = self.settings.inputs[name]
        assert isinstance(spec, Sample)
        return SideName(spec.side), tuple(spec.shape)

    def _sample_source(self, name: str, side: SideName, values: dict[str, torch.Tensor]
                       ) -> Any:
        import torch

        # the inputs here are the cached ones: the side gets its own copies
        own = {k: values[k].clone() for k in self._input_names() if k in values}
        out = self.sides[side].call({**values, **own}, self.seed, torch.float64)
        if not isinstance(out, torch.distributions.Distribution):
            raise GaussdiagError(
                f"inputs['{name}']: sample('{side.value}', ...) draws from side "
                f"{side.value}, which returned {type(out).__name__}, not a "
                "Distribution: pass the input as a tensor instead")
        return out

    # ---- sides ---------------------------------------------------------------------------

    def build(self, side: SideName, env: Env, dtype: DType, *, validate: bool = True
              ) -> BuiltSide:
        live = self.sides[side]
        # validate=False: the search's re-runs (the side's own runs did torch's checks)
        out = live.call(env.values, self.seed, torch_dtype(dtype), validate=validate)
        at = self.settings.at if self.mode is not Mode.RSAMPLE else None
        built = live.result(out, self.mode, torch_dtype(dtype), self.settings.sample_shape, at,
                            watched=validate)
        self._kinds[side] = (SideKind.DIST if built.dist is not None else
                             SideKind.EXPR if self.mode is Mode.RSAMPLE else SideKind.LOG_PROB)
        return built

    def traced(self, side: SideName, env: Env, dtype: DType) -> BuiltSide:
        del dtype  # the run's dtype is set around the compiled call (tracing)
        return self.sides[side].traced(env.values, self.mode, self.settings.sample_shape)

    def tracing(self, dtype: DType) -> AbstractContextManager[None]:
        return traced_run(torch_dtype(dtype), self.seed)

    def at_name(self, side: SideName) -> str:
        if self.settings.at is None:
            if self.mode is Mode.TRAIN:
                raise self.error(side, "train mode maximizes the mean log_prob at an input: "
                                 + _no_at(list(self.settings.inputs)))
            inputs = list(self.settings.inputs)
            tensor_side = "" if inputs else (" (a side that returns a tensor, such as a KL "
                                             "term, needs no input in log_prob mode)")
            raise self.error(side, _no_at(inputs) + tensor_side)
        return self.settings.at

    # ---- what a side is and uses ---------------------------------------------------------

    def kind(self, side: SideName) -> SideKind:
        if side not in self._kinds:
            try:
                self.reference(side)
            except (ConstraintFailure, GaussdiagError):
                return SideKind.UNKNOWN  # it never built: nothing reads it as a distribution
        return self._kinds[side]

    def method(self, side: SideName) -> Method:
        del side
        return Method.RSAMPLE  # a side that draws with sample() returns its draws itself

    def params_used(self, side: SideName, *, leaves_only: bool = False) -> list[str]:
        """The leaves of every param in the side's signature (a module's: all of its)."""
        del leaves_only  # every name here is a leaf
        takes = set(self.sides[side].takes)
        used = {leaf for name, mp in self._modules.items() if name in takes
                for leaf, _ in mp.leaves}
        return [n for n in self.leaf_names if n in takes or n in used]

    def search_params(self, side: SideName) -> list[str]:
        """The params passed as tensors: a module's parameters are weights, and a transform
        of a weight is never the bug; what the module outputs is reached as arguments."""
        weights = {leaf for mp in self._modules.values() for leaf, _ in mp.leaves}
        return [n for n in self.params_used(side) if n not in weights]

    # ---- words ---------------------------------------------------------------------------

    @property
    def phrases(self) -> Phrases:
        return LIVE_PHRASES

    def fix(self, side: SideName, param: str, template: str, transform: str) -> str:
        text = f"on side {side.value}, pass {template.format(param)} where {param} is used"
        for arg in self._args_reached(side, param):
            alt = ALTERNATIVES.get((arg, transform))
            if alt:
                text += (f" (it reaches {arg}=); or pass the same value as {alt}= instead of "
                         f"{arg}=")
        return text

    def argument_fix(self, side: SideName, site: Site, template: str, transform: str, *,
                     on_diagonal: bool) -> str:
        arg = site.argument
        new = (f"diag_embed({template.format(f'diagonal({arg})')})" if on_diagonal
               else template.format(arg))
        text = f"on side {side.value}, pass {arg}={new} to {site.distribution}"
        alt = ALTERNATIVES.get((arg, transform))
        if alt:
            text += f", or pass the same {arg} as {alt}= instead of {arg}="
        return text

    def argument_origin(self, side: SideName, site: Site) -> str:
        del site
        return f"computed inside `{self.sides[side].label}`"

    @property
    def reference_side(self) -> SideName | None:
        return self.settings.reference

    def _args_reached(self, side: SideName, param: str) -> list[str]:
        """The distribution's constructor keywords whose value depends on `param`."""
        import torch

        try:
            env = self.env(DType.FLOAT64, side)
            built = self.build(side, env, DType.FLOAT64, validate=False)  # checked before
            leaf = env.leaves[param]
            out = []
            for arg, value in built.args.items():
                if value.requires_grad:
                    g = torch.autograd.grad(value.sum(), leaf, allow_unused=True,
                                            retain_graph=True)[0]
                    if g is not None:
                        out.append(arg)
            return out
        except (GaussdiagError, KeyError, RuntimeError, ValueError):
            return []

    def shape_hint(self, side: SideName, k: int) -> str:
        if self.kind(side) is SideKind.DIST:
            return (f"wrap side {side.value}'s distribution in Independent(dist, {k}) so its "
                    f"log_prob sums the last {k} dim(s)")
        return f"sum the last {k} dim(s) of the log-density side {side.value} returns"

    def error(self, side: SideName, message: str) -> GaussdiagError:
        return GaussdiagError(f"side {side.value}: {message}")


def _point(t: torch.Tensor) -> torch.Tensor:
    """A float64 CPU copy, detached: the user's tensor is never part of a graph here."""
    import torch

    dtype = torch.float64 if t.is_floating_point() else t.dtype
    return t.detach().to(device="cpu", dtype=dtype, copy=True)


def _dtype(t: torch.Tensor, tdt: torch.dtype) -> torch.dtype:
    return tdt if t.is_floating_point() else t.dtype


def _owner(module: Any, path: str) -> tuple[Any, str]:
    owner_path, _, attr = path.rpartition(".")
    return (module.get_submodule(owner_path) if owner_path else module), attr


def _no_at(inputs: list[str]) -> str:
    """Why a side returning a distribution has no point for log_prob: no input, or several
    and no `at=` to choose."""
    if not inputs:
        return "no input to evaluate log_prob at: pass inputs={'x': ...}"
    names = ", ".join(f"`{n}`" for n in inputs)
    choices = " or ".join(f"at='{n}'" for n in inputs)
    return (f"{len(inputs)} inputs ({names}) and no at= to say which one log_prob is "
            f"evaluated at: pass {choices}")
