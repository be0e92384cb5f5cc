"""Building one side of a spec: a distribution (arguments, transforms, `event_dims`) with
torch's validation turned into located errors or constraint failures, or a hand-written
log-density or draw expression."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gaussdiag.engine.built import BuiltSide, Env
from gaussdiag.engine.device import torch_dtype
from gaussdiag.engine.failures import (
    LINALG_FIX,
    ConstraintFailure,
    arg_constraints,
    constraint_failure,
    first_line,
)
from gaussdiag.frontends.yaml import expr as ex
from gaussdiag.frontends.yaml.bind import dist_args, singular
from gaussdiag.frontends.yaml.spec import AffineTransform, LoadedSpec, PowerTransform, Side
from gaussdiag.frontends.yaml.spec.checks import unknown_argument
from gaussdiag.frontends.yaml.spec.names import ARGUMENTS
from gaussdiag.vocab import DType, Method, SideKind, SideName

if TYPE_CHECKING:
    import torch

    from gaussdiag.frontends.yaml.bind.exprs import SpecExprs


def build_side(problem: SpecExprs, side: SideName, env: Env, dtype: DType,
               device: torch.device, *, validate: bool = True, traced: bool = False
               ) -> BuiltSide:
    """The side as a distribution (dist sides) or a log-density expression; validate=False
    skips torch's argument checks (the search's re-runs of an already validated spec, and
    the dry run on the meta device); traced=True the spec's own checks too (torch.compile
    traces the build: the eager runs checked the same values). Each step runs under
    `problem.stage` of its key."""
    s = problem.spec.side(side)
    tdt = torch_dtype(dtype)
    if s.kind is SideKind.DIST:
        return build_dist_side(problem, side, env.values, tdt, device, validate=validate,
                               traced=traced)
    if s.kind is SideKind.LOG_PROB:
        assert s.log_prob is not None
        src = s.log_prob
        values = env.values

        def value() -> torch.Tensor:  # the expression names its input itself, if any
            with problem.stage(f"{side.value}.log_prob"):
                return problem.eval_expr((side.value, "log_prob"), src, values, tdt, device,
                                         side)

        return BuiltSide(side, None, lambda x: value(), value=value)
    assert s.expr is not None
    src_draw = s.expr
    functions = ex.torch_functions(sample_shape=tuple(problem.spec.sample_shape),
                                   max_elements=problem.max_elements)
    values = env.values

    def draw() -> torch.Tensor:
        with problem.stage(f"{side.value}.expr"):
            return problem.eval_expr((side.value, "expr"), src_draw, values, tdt, device, side,
                                     functions=functions, allow_randn=True)

    return BuiltSide(side, None, None, draw=draw)


def build_dist_side(problem: SpecExprs, side: SideName, values: Mapping[str, torch.Tensor],
                    tdt: torch.dtype, device: torch.device, *, validate: bool = True,
                    traced: bool = False) -> BuiltSide:
    """A `dist:` side at `values`: validated by torch (constraint breaks become
    ConstraintFailure), with its transforms and `event_dims`, a log_prob and a draw.
    traced=True (torch.compile's trace) leaves out the checks of names and singular
    matrices: dynamo cannot trace them, and the eager runs made them on the same values."""
    import torch

    s: Side = problem.spec.side(side)
    assert s.dist is not None
    cls = dist_args.torch_class(s.dist)
    if not traced:
        check_arg_names(problem.loaded, side, s, cls)

    def arg(key: str, source: Any) -> torch.Tensor:
        with problem.stage(f"{side.value}.args.{key}"):
            return problem.eval_expr((side.value, "args", key), source, values, tdt, device,
                                     side)

    args = dist_args.arguments(
        s.dist, s.args, arg,
        lambda k, message: problem.loaded.error((side.value, "args", k), message))
    stage = f"{side.value}.dist"  # constructing it, its log_prob and its draws
    # Singular to working precision is invalid whatever torch's Cholesky does on this CPU:
    # decided before torch validates, from the eigenvalues of the matrix as this dtype
    # holds it (small matrices; large ones use the factor torch computes, below).
    pending = None if traced else singular.check_args(side, s.dist, args)
    try:
        with problem.stage(stage):
            dist: Any = cls(**args, validate_args=validate)
            if not traced:
                singular.check_factor(side, s.dist, args, dist, pending)
            dist = wrap(problem, side, dist, values, tdt, device, validate=validate)
    except ValueError as err:
        if str(err).startswith("Expected parameter"):
            raise constraint_failure(side, s.dist, cls, args, err) from None
        raise problem.loaded.error((side.value, "args"), f"{s.dist}: {first_line(err)}") from None
    except TypeError as err:
        accepted = ", ".join(arg_constraints(cls) or ARGUMENTS.get(s.dist, ()) or ["?"])
        raise problem.loaded.error((side.value, "args"),
                                f"{s.dist} does not accept these arguments "
                                f"({first_line(err)}); "
                                f"its arguments are: {accepted}") from None
    except torch.linalg.LinAlgError as err:  # type: ignore[attr-defined]
        raise ConstraintFailure(side, f"{s.dist}: {err}", detail=str(err),
                                fix=LINALG_FIX) from None
    except (RuntimeError, IndexError) as err:  # e.g. an empty (0 x 0) matrix
        raise problem.loaded.error((side.value, "args"),
                                f"{s.dist}: {first_line(err)}") from None

    def log_prob(x: torch.Tensor) -> torch.Tensor:
        try:
            with problem.stage(stage):
                return dist.log_prob(x)  # type: ignore[no-any-return]
        except ValueError as err:
            if "within the support" in str(err):
                raise ConstraintFailure(
                    side, f"the evaluation point is outside the support of {s.dist}: "
                    f"{first_line(err)}", constraint="support", support=True,
                    fix="evaluate at points inside the support (check `at:` and the input)"
                ) from None
            # the input's shape does not fit the distribution (event or batch shape)
            raise problem.loaded.error(
                (side.value,), f"log_prob at the input failed: {first_line(err)}") from None
        except RuntimeError as err:
            raise problem.loaded.error(
                (side.value,), f"log_prob at the input failed: {first_line(err)}") from None

    def draw() -> torch.Tensor:
        shape = torch.Size(problem.spec.sample_shape)
        if s.method is not Method.SAMPLE and not dist.has_rsample:
            raise problem.loaded.error(
                (side.value, "dist"),
                f"{s.dist} has no rsample() (has_rsample is False in torch): its draws "
                "cannot carry gradients; use `method: sample` to compare them anyway")
        try:
            with problem.stage(stage):
                if s.method is Method.SAMPLE:
                    return dist.sample(shape)  # type: ignore[no-any-return]
                return dist.rsample(shape)  # type: ignore[no-any-return]
        except RuntimeError as err:  # e.g. more than torch's 64 dimensions
            raise problem.loaded.error((side.value,), f"drawing {list(shape)} from {s.dist} "
                                    f"failed: {first_line(err)}") from None

    tensors = {k: v for k, v in args.items() if isinstance(v, torch.Tensor)}  # no `dim`
    return BuiltSide(side, dist, log_prob, tensors, draw)


def wrap(problem: SpecExprs, side: SideName, dist: Any, values: Mapping[str, torch.Tensor],
         tdt: torch.dtype, device: torch.device, *, validate: bool) -> Any:
    """The base `dist` with the side's `transforms` applied, then `event_dims` (Independent)."""
    import torch.distributions as D

    s = problem.spec.side(side)
    if s.transforms:
        dist = D.TransformedDistribution(
            dist, [transform(problem, side, i, t, values, tdt, device)
                   for i, t in enumerate(s.transforms)], validate_args=validate)
    if s.event_dims:
        dist = D.Independent(dist, s.event_dims, validate_args=validate)
    return dist


def check_arg_names(loaded: LoadedSpec, side: SideName, s: Side, cls: Any) -> None:
    """Every `args:` key must be a keyword of the installed torch's constructor (the spec
    checked them against torch 2.13's; another torch version may differ)."""
    import inspect

    accepted = [n for n, p in inspect.signature(cls.__init__).parameters.items()
                if n not in ("self", "validate_args")
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for key in s.args:
        if key not in accepted:
            raise loaded.error((side.value, "args", key),
                               unknown_argument(cls.__name__, key, accepted))


def transform(problem: SpecExprs, side: SideName, i: int, t: Any,
              values: Mapping[str, torch.Tensor], tdt: torch.dtype, device: torch.device) -> Any:
    """The side's `transforms[i]` as a torch Transform (affine and power args evaluated)."""
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
        loc = problem.eval_expr((*key, "affine", "loc"), t.affine.loc, values, tdt, device, side)
        scale = problem.eval_expr((*key, "affine", "scale"), t.affine.scale, values, tdt,
                                  device, side)
        return T.AffineTransform(loc, scale)
    if isinstance(t, PowerTransform):
        return T.PowerTransform(problem.eval_expr((*key, "power"), t.power, values, tdt,
                                                  device, side))
    raise AssertionError(f"unhandled transform {t!r}")
