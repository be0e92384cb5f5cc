"""The source-agnostic problem the engine (evaluate, the judge, the pipeline) diagnoses.

Front ends implement it on `gaussdiag.engine.base.ProblemBase`, which holds the point and its
caches: `gaussdiag.frontends.yaml.bind.BoundSpec` (a YAML spec) and
`gaussdiag.frontends.python.problem.LiveProblem` (Python callables and modules). Nothing here
imports torch at run time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from gaussdiag.vocab import DType, Method, Mode, Optimizer, SideKind, SideName, Verdict

if TYPE_CHECKING:
    import torch

    from gaussdiag.engine.arguments import Site
    from gaussdiag.engine.built import BuiltSide, Env, Overrides
    from gaussdiag.engine.phrases import Phrases
    from gaussdiag.engine.torch_warnings import WarningLog
    from gaussdiag.errors import GaussdiagError


class TrainPlan(Protocol):
    @property
    def steps(self) -> int: ...
    @property
    def optimizer(self) -> Optimizer: ...
    @property
    def lr(self) -> float: ...


class Problem(Protocol):
    """Two sides of one distribution, bound to torch, as the engine sees them.

    Identity and settings: `name`, `file`, `expect`, `mode`, `seed`, `run_dtypes` (least
    precise first, float64 always in), `train_settings`, `labels` (how each side is shown).

    The point: `base` holds every leaf param and literal input in float64 on the CPU, made
    once, so that every dtype evaluates the same point; `leaf_names` are the leaves (in
    declaration order; a module's are `net.fc.weight`), `grad_names` the leaves that get
    gradients. `jitter()` is a second point near it (each leaf moved by exp(0.1 u)), which
    tells real equalities from coincidences; `sliced()` a cheap smaller copy for screening
    the reparameterization search, or None; `on_device(side, device)` a copy with that side
    on another device (a device switch).

    Environments: `env(dtype, side, ...)` gives fresh leaves (requiring grad unless
    `with_grad=False`), every derived value and every input, in one dtype on the side's
    device (`side_devices`), at the point or the jittered one. `overrides` maps a param name
    to f(value), applied on that side only (the search's hook); `leaf_values` supplies the
    leaves themselves (train mode steps them).

    Building: `build(side, env, dtype)` is the side ready to evaluate (`BuiltSide`: a
    distribution with its constructor args, a log-density, a value of the side's own names
    that needs no input, or a draw; `validate=False` skips
    the distribution's argument checks where the front end builds it); it raises
    `ConstraintFailure` for broken constraints and `GaussdiagError` for anything the user
    must fix. `reference(side)` is the float64 build at the point without gradients (cached;
    `keep_reference` adopts one, `release_references` drops them). `at_name(side)` is the
    input log_prob is evaluated at. `traced(side, env, dtype)` is the same side as torch.compile
    should see it: the side's own computation with none of the front end's checks or
    contexts inside (each would cut dynamo's graph and leave the side's math eager), to be
    called under `tracing(dtype)`, which sets what those contexts set (the seed, a run
    dtype) outside the compiled call.

    What a side is and uses: `kind(side)` is a `SideKind`: DIST (a Distribution), LOG_PROB (a
    hand-written log-density) or EXPR (hand-written draws); `method(side)` how dist sides
    draw; `params_used(side)` the params the side depends on, in declaration order
    (`leaves_only` drops derived ones); `search_params(side)` those the search may transform
    (not an nn.Module's parameters: a transform of a weight is never how a side was written,
    and the search reaches what the module outputs as arguments).

    The reference: `reference_side` is the side that is right by definition (`reference:`,
    `compare(..., reference=)`), or None; the search puts the other side's fix first.

    Words, in the front end's own language: `fix(side, param, template, transform)` is the
    fix sentence for a found reparameterization (`template` writes it, `{}` is the param);
    `argument_fix(side, site, template, transform, on_diagonal=)` the same for an argument
    of a distribution the side constructs (`on_diagonal`: the template applies to the
    diagonal of a diagonal matrix), and `argument_origin(side, site)` where that argument
    was computed ("computed as `diag_embed(std)`", "computed inside `a`");
    `shape_hint(side, k)` says how to make a side's log_prob k dims smaller; `error(side,
    message)` is the located error to raise for a problem with that side; `phrases`
    (`gaussdiag.engine.phrases.Phrases`) the clauses the engine's own sentences borrow: what the
    point is called, how to declare a constant, how to draw with rsample(), how to derive a
    structured param, how to bisect the sides. A YAML spec's name its keys (`grad: false`);
    Python sides' name Python calls.
    """

    @property
    def name(self) -> str: ...
    @property
    def file(self) -> str: ...
    @property
    def expect(self) -> Verdict | None: ...
    @property
    def mode(self) -> Mode: ...
    @property
    def seed(self) -> int: ...
    @property
    def run_dtypes(self) -> list[DType]: ...
    @property
    def train_settings(self) -> TrainPlan: ...
    @property
    def labels(self) -> dict[SideName, str]: ...
    @property
    def side_devices(self) -> Mapping[SideName, torch.device]: ...
    @property
    def base(self) -> Mapping[str, torch.Tensor]: ...
    @property
    def leaf_names(self) -> list[str]: ...
    @property
    def grad_names(self) -> list[str]: ...
    @property
    def warnings(self) -> WarningLog: ...
    @property
    def reference_side(self) -> SideName | None: ...

    def jitter(self) -> Mapping[str, torch.Tensor]: ...
    def sliced(self, keep: int = 16, focus: Sequence[int] = ()) -> Problem | None: ...
    def on_device(self, side: SideName, device: torch.device) -> Problem: ...
    def env(self, dtype: DType, side: SideName, *, jittered: bool = False,
            overrides: Overrides | None = None, with_grad: bool = True,
            leaf_values: Mapping[str, torch.Tensor] | None = None) -> Env: ...
    def build(self, side: SideName, env: Env, dtype: DType, *, validate: bool = True
              ) -> BuiltSide: ...
    def traced(self, side: SideName, env: Env, dtype: DType) -> BuiltSide: ...
    def tracing(self, dtype: DType) -> AbstractContextManager[None]: ...
    def reference(self, side: SideName) -> BuiltSide: ...
    def keep_reference(self, side: SideName, built: BuiltSide) -> None: ...
    def release_references(self) -> None: ...
    def at_name(self, side: SideName) -> str: ...
    def kind(self, side: SideName) -> SideKind: ...
    def method(self, side: SideName) -> Method: ...
    def params_used(self, side: SideName, *, leaves_only: bool = False) -> list[str]: ...
    def search_params(self, side: SideName) -> list[str]: ...
    @property
    def phrases(self) -> Phrases: ...
    def fix(self, side: SideName, param: str, template: str, transform: str) -> str: ...
    def argument_fix(self, side: SideName, site: Site, template: str, transform: str, *,
                     on_diagonal: bool) -> str: ...
    def argument_origin(self, side: SideName, site: Site) -> str: ...
    def shape_hint(self, side: SideName, k: int) -> str: ...
    def error(self, side: SideName, message: str) -> GaussdiagError: ...
