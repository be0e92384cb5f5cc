"""`ProblemBase`: what every front end's problem shares, so that a front end writes only what
is its own (how a side is built and named, how a param is made in a dtype).

It holds the point and the caches around it: the jittered point, the float64 reference
builds, the draws of sample inputs (one algorithm for every front end), and the sliced copy
the search screens on. A front end sets the attributes in `__init__` and implements the
hooks below `# ---- hooks`; the rest of `Problem` (gaussdiag/engine/problem.py) is its own.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from gaussdiag.engine.device import seeded, torch_dtype
from gaussdiag.engine.failures import first_line
from gaussdiag.engine.point import cut, jitter_point, largest
from gaussdiag.engine.torch_warnings import WarningLog
from gaussdiag.errors import GaussdiagError
from gaussdiag.vocab import DType, SideName

if TYPE_CHECKING:
    import torch

    from gaussdiag.engine.built import BuiltSide, Env, Overrides


class ProblemBase:
    """The shared half of a `Problem`: the point, its caches and the environments built
    from it. Subclasses set `base`, `leaf_names`, `grad_names` and `side_devices` and
    implement the hooks."""

    base: dict[str, torch.Tensor]  # every leaf and literal input, float64 on the CPU
    # where `base` lives and sample inputs are drawn: the CPU, or torch's meta device in a
    # front end's dry run (shapes only)
    point_device = "cpu"
    leaf_names: list[str]
    grad_names: list[str]
    side_devices: dict[SideName, torch.device]

    def __init__(self) -> None:
        self.warnings = WarningLog()  # torch's warnings while sides run, for the report
        self.jittered: dict[str, torch.Tensor] | None = None
        self._reference: dict[SideName, BuiltSide] = {}
        self._sample_inputs: dict[str, torch.Tensor] = {}

    @property
    def seed(self) -> int:
        raise NotImplementedError

    # ---- the point -----------------------------------------------------------------------

    def jitter(self) -> dict[str, torch.Tensor]:
        """A second point near the first (`jitter_point`): only params that get gradients
        move; constants and literal inputs stay as given."""
        if self.jittered is None:
            self.jittered = jitter_point(self.base, self.grad_names, self.seed)
        return self.jittered

    def sliced(self, keep: int = 16, focus: Sequence[int] = ()) -> Any:
        """The same problem on `keep` entries of its largest repeated dimension: every dim of
        that size, in every leaf, input and draw, is cut to the same entries, the first ones,
        or with `focus` those entries and the first ones after them (where the sides' float64
        differences concentrate, when the first entries do not show them). Cheap evidence for
        the reparameterization search at large n (a diagonal or elementwise structure
        survives slicing; the search checks the slice differs as the full size does, and
        confirms every candidate at full size). None when nothing is large enough to cut, or
        when the front end cannot cut (`_can_slice`)."""
        import torch

        if not self._can_slice():
            return None
        big = largest(self.base, self.leaf_names, keep)
        if big is None:
            return None
        chosen = sorted({i for i in focus if 0 <= i < big})[:keep]
        chosen += [i for i in range(big) if i not in chosen][:keep - len(chosen)]
        index = torch.tensor(sorted(chosen), dtype=torch.long)
        for name in self._sample_names():  # drawn at full size before cutting
            self.sample_input(name)
        out = self.copied()
        out.base = {k: cut(v, big, index) for k, v in self.base.items()}
        out.jittered = {k: cut(v, big, index) for k, v in self.jitter().items()}
        out._sample_inputs = {k: cut(v, big, index) for k, v in self._sample_inputs.items()}
        out._after_cut()
        return out

    def on_device(self, side: SideName, device: torch.device) -> Any:
        """The same problem with `side` on `device` (a device switch's runs)."""
        out = self.copied()
        out.side_devices = {**self.side_devices, side: device}
        return out

    def copied(self) -> Any:
        """A shallow copy with float64 reference builds and a warning log of its own: what
        torch says while a copy runs (a slice, another device, the meta-device dry run) is
        not a note of the problem's."""
        out = copy.copy(self)
        out._reference = {}
        out.warnings = WarningLog()
        return out

    # ---- environments --------------------------------------------------------------------

    def env(self, dtype: DType, side: SideName, *, jittered: bool = False,
            overrides: Overrides | None = None, with_grad: bool = True,
            leaf_values: Mapping[str, torch.Tensor] | None = None) -> Env:
        """Fresh leaves (requiring grad unless `with_grad=False`), every other param and
        every input, in `dtype` on the side's device, at the point or the jittered one.
        `overrides` replaces a param's value by f(value) on this side only; `leaf_values`
        supplies the leaves themselves (train mode steps them)."""
        device = self.side_devices[side]
        point = self.jitter() if jittered else self.base
        tdt = torch_dtype(dtype)
        env = self._params(point, tdt, device, side, with_grad=with_grad,
                           overrides=overrides or {}, leaf_values=leaf_values or {})
        env.values.update(self._inputs(point, tdt, device))
        return env

    # ---- the float64 reference builds ----------------------------------------------------

    def reference(self, side: SideName) -> BuiltSide:
        """The side built once in float64 at the point without gradients (cached): what the
        conditioning estimate and the moment evidence read."""
        import torch

        if side not in self._reference:
            with torch.no_grad():
                env = self.env(DType.FLOAT64, side, with_grad=False)
                self._reference[side] = self.build(side, env, DType.FLOAT64)
        return self._reference[side]

    def keep_reference(self, side: SideName, built: BuiltSide) -> None:
        """Adopt a float64 build at the point, unmodified, as the reference."""
        self._reference.setdefault(side, built)

    def release_references(self) -> None:
        """Drop the cached float64 builds (their matrices) once nothing reads them."""
        self._reference.clear()

    # ---- sample inputs -------------------------------------------------------------------

    def sample_input(self, name: str) -> torch.Tensor:
        """An input drawn from one side (`_sample_request`): that side built in float64 on
        the point's device at the point, with the inputs above it, sampled once under the
        seed; detached."""
        import torch

        if name not in self._sample_inputs:
            side, shape = self._sample_request(name)
            device, f64 = torch.device(self.point_device), torch.float64
            with torch.no_grad():
                values = self._params(self.base, f64, device, side, with_grad=False,
                                      overrides={}, leaf_values={}).values
                for other in self._input_names():
                    if other in self._sample_inputs:
                        values[other] = self._sample_inputs[other]
                    elif other in self.base:
                        values[other] = self.base[other]
                dist = self._sample_source(name, side, values)
                with seeded(self.seed), self._draw_guard(name, side):
                    try:
                        draw = dist.sample(torch.Size(shape))
                    except (RuntimeError, ValueError) as err:  # Multinomial of 0 trials ...
                        raise self._draw_failed(name, side, shape, err) from None
            self._sample_drawn(name, draw)
            self._sample_inputs[name] = draw.detach()
        return self._sample_inputs[name]

    # ---- hooks ---------------------------------------------------------------------------

    def build(self, side: SideName, env: Env, dtype: DType, *, validate: bool = True
              ) -> BuiltSide:
        raise NotImplementedError

    def traced(self, side: SideName, env: Env, dtype: DType) -> BuiltSide:
        """The side for torch.compile to trace (`Problem.traced`); a front end whose build
        holds nothing dynamo cannot trace may keep this: its build without argument checks."""
        return self.build(side, env, dtype, validate=False)

    def tracing(self, dtype: DType) -> AbstractContextManager[None]:
        """What a traced side runs under, set outside the compiled call: the seed (dynamo
        cannot trace saving and restoring the generator's state)."""
        del dtype
        return seeded(self.seed)

    def _params(self, point: Mapping[str, torch.Tensor], tdt: torch.dtype,
                device: torch.device, side: SideName | None, *, with_grad: bool,
                overrides: Overrides, leaf_values: Mapping[str, torch.Tensor]) -> Env:
        """Every param in `tdt` on `device`: leaves from `point` (or `leaf_values`), the
        rest made from them; `side` is the side charged with a failure."""
        raise NotImplementedError

    def _inputs(self, point: Mapping[str, torch.Tensor], tdt: torch.dtype,
                device: torch.device) -> dict[str, torch.Tensor]:
        """Every input (no grad) in `tdt` on `device`."""
        raise NotImplementedError

    def _input_names(self) -> list[str]:
        """Every input, in declaration order."""
        raise NotImplementedError

    def _sample_names(self) -> list[str]:
        """The inputs drawn from a side."""
        raise NotImplementedError

    def _sample_request(self, name: str) -> tuple[SideName, tuple[int, ...]]:
        """The side input `name` is drawn from, and how many draws (checked here)."""
        raise NotImplementedError

    def _sample_source(self, name: str, side: SideName, values: dict[str, torch.Tensor]
                       ) -> Any:
        """The distribution input `name` is drawn from: `side` built from `values` (on
        `point_device`)."""
        raise NotImplementedError

    def _draw_guard(self, name: str, side: SideName) -> AbstractContextManager[object]:
        """Around the draw of input `name`: what turns anything else the side's own code
        raises while drawing into its error (a Python side's distribution is user code)."""
        return nullcontext()

    def _draw_failed(self, name: str, side: SideName, shape: tuple[int, ...],
                     err: Exception) -> Exception:
        """The error to raise when drawing input `name` fails, located where the front end
        can."""
        return GaussdiagError(f"inputs['{name}']: drawing {list(shape)} from side "
                              f"{side.value} failed: {first_line(err)}")

    def _sample_drawn(self, name: str, draw: torch.Tensor) -> None:
        """A look at a fresh draw before it is kept (a size check)."""

    def _can_slice(self) -> bool:
        """Whether a sliced copy can run at all (e.g. not with modules, whose layers fix
        the shapes)."""
        return True

    def _after_cut(self) -> None:
        """Reset what a sliced copy must find again on its own."""
