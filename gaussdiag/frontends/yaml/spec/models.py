"""The typed, strict and frozen models of a spec file (`spec-v1.md`). No torch here."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, field_validator

from gaussdiag.limits import MAX_TIMEOUT, MAX_TRAIN_STEPS
from gaussdiag.vocab import DType, Method, Mode, Optimizer, SideKind, SideName, Verdict


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# A YAML number or a nested list of them (checked to be rectangular by `nested_shape`).
NestedNumbers = float | list[Any]
# A number a spec writes outside `values:` (.nan and .inf are YAML numbers too): finite only.
Finite = Annotated[float, Field(allow_inf_nan=False)]
# An argument is an expression string, or a bare YAML number used as a literal.
ExprOrNumber = str | Finite

# ---- tensor initialisers -------------------------------------------------------------------

InitName = Literal["zeros", "ones", "normal", "uniform"]


class NormalArgs(_Model):
    mean: Finite = 0.0
    std: Finite = 1.0

    @field_validator("std")
    @classmethod
    def _non_negative(cls, v: float) -> float:
        if not v >= 0:
            raise ValueError(f"std must be >= 0, found {v}")
        return v


class FullInit(_Model):
    full: Finite


class NormalInit(_Model):
    normal: NormalArgs


class UniformInit(_Model):
    uniform: tuple[Finite, Finite]

    @field_validator("uniform")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not v[0] <= v[1]:
            raise ValueError(f"expected [lo, hi] with lo <= hi, found [{v[0]}, {v[1]}]")
        return v


class EyeInit(_Model):
    eye: Literal[True]


Init = InitName | FullInit | NormalInit | UniformInit | EyeInit

# ---- params and inputs ---------------------------------------------------------------------


class ValuesTensor(_Model):
    """`{values: 1.0}` or `{values: [[1, 0], [0, 1]]}`: shape inferred."""

    values: NestedNumbers
    grad: bool = True

    @field_validator("values")
    @classmethod
    def _rectangular(cls, v: NestedNumbers) -> NestedNumbers:
        nested_shape(v)
        return v


def nested_shape(v: Any) -> tuple[int, ...]:
    """Shape of a nested list of numbers; ValueError when ragged or not numeric."""
    if isinstance(v, bool) or not isinstance(v, (int, float, list)):
        raise ValueError(f"expected a number or a nested list of numbers, found {v!r}")
    if not isinstance(v, list):
        return ()
    if not v:
        return (0,)
    shapes = {nested_shape(item) for item in v}
    if len(shapes) != 1:
        raise ValueError("ragged nested list: every row must have the same length")
    return (len(v), *shapes.pop())


class InitTensor(_Model):
    """`{shape: [10], init: zeros}`; `init` defaults to `zeros`."""

    shape: list[NonNegativeInt]
    init: Init = "zeros"
    grad: bool = True


class ExprTensor(_Model):
    """`{expr: "exp(log_std)"}`: derived from params declared above it."""

    expr: str
    grad: bool = True


class SampleInput(_Model):
    """Inputs only: `{sample: b, sample_shape: [64]}`, drawn from that side in float64."""

    sample: SideName
    sample_shape: list[NonNegativeInt] = Field(default_factory=list)


TensorSpec = ValuesTensor | InitTensor | ExprTensor
InputSpec = ValuesTensor | InitTensor | ExprTensor | SampleInput

# ---- sides ---------------------------------------------------------------------------------

# The names of `names.TRANSFORMS` (a Literal, so the schema lists them).
TransformName = Literal["exp", "tanh", "sigmoid", "softplus"]


class AffineArgs(_Model):
    loc: ExprOrNumber = 0.0
    scale: ExprOrNumber = 1.0


class AffineTransform(_Model):
    affine: AffineArgs


class PowerTransform(_Model):
    power: ExprOrNumber


TransformSpec = TransformName | AffineTransform | PowerTransform


class Side(_Model):
    """One way of writing the distribution. Exactly one of `dist`, `log_prob`, `expr`."""

    label: str | None = None
    dist: str | None = None
    args: dict[str, ExprOrNumber] = Field(default_factory=dict)
    transforms: list[TransformSpec] = Field(default_factory=list)
    event_dims: NonNegativeInt | None = None
    log_prob: str | None = None
    expr: str | None = None
    method: Method | None = None
    at: str | None = None
    device: str | None = None

    @property
    def kind(self) -> SideKind:
        if self.dist is not None:
            return SideKind.DIST
        return SideKind.LOG_PROB if self.log_prob is not None else SideKind.EXPR

    def display(self, name: SideName) -> str:
        """How the side is shown: its label, else its constructor with its arguments as written
        (`MultivariateNormal(loc=mean, covariance_matrix=diag_embed(std))`), else its
        hand-written log_prob or expr."""
        if self.label:
            return self.label
        if self.dist is not None:
            args = ", ".join(f"{k}={v}" for k, v in self.args.items())
            return f"{self.dist}({args})"
        return self.log_prob or self.expr or name.value


class TrainSpec(_Model):
    steps: PositiveInt = 100
    optimizer: Optimizer = Optimizer.ADAM
    lr: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 0.01

    @field_validator("steps")
    @classmethod
    def _capped(cls, steps: int) -> int:
        if steps > MAX_TRAIN_STEPS:
            raise ValueError(f"at most {MAX_TRAIN_STEPS:,} training steps, found {steps:,}")
        return steps


# `expect:` is one verdict, or a mapping: `pair` (the two sides' verdict) and switch names
# (`compile`, `autocast:float16`) to a verdict for every side checked, or per side.
ExpectSpec = Verdict | dict[str, Verdict | dict[SideName, Verdict]]


class Spec(_Model):
    """A whole spec file. `name` is filled with the file stem by the loader when absent.
    Side `b` may be left out when a switch is named (`switches:` or the command line's):
    side a alone is then checked under its switches."""

    version: Literal[1] = 1
    name: str = ""
    description: str | None = None
    seed: int = 0
    dtypes: list[DType] = Field(default_factory=lambda: [DType.FLOAT32, DType.FLOAT64])
    device: str = "cpu"
    params: dict[str, Annotated[TensorSpec, Field()]]
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    a: Side
    b: Side | None = None
    switches: list[str] = Field(default_factory=list)
    at: str | None = None
    mode: Mode = Mode.LOG_PROB
    sample_shape: list[NonNegativeInt] = Field(default_factory=list)
    train: TrainSpec | None = None
    expect: ExpectSpec | None = None
    reference: SideName | None = None
    # seconds this spec may run (the default bound otherwise; --timeout overrides both)
    timeout: Annotated[float, Field(gt=0, le=MAX_TIMEOUT, allow_inf_nan=False)] | None = None

    def side(self, name: SideName) -> Side:
        """The side called `name`; a single side stands for both."""
        return self.a if name is SideName.A or self.b is None else self.b

    @property
    def single(self) -> bool:
        """One side, checked under switches only."""
        return self.b is None

    @property
    def sides(self) -> list[SideName]:
        """The sides the file writes."""
        return [SideName.A] if self.b is None else list(SideName)

    @property
    def pair_expect(self) -> Verdict | None:
        """The verdict expected of the two sides (`expect: X`, or its mapping's `pair`)."""
        if isinstance(self.expect, dict):
            found = self.expect.get("pair")
            return found if isinstance(found, Verdict) else None
        return None if self.single else self.expect

    def at_for(self, name: SideName) -> str | None:
        """The input this side's log_prob is evaluated at (a side may override the spec)."""
        own = self.side(name).at
        if own is not None:
            return own
        if self.at is not None:
            return self.at
        plain = list(self.inputs)
        return plain[0] if len(plain) == 1 else None

    @property
    def run_dtypes(self) -> list[DType]:
        """Dtypes to run, least precise first; float64 is always run as the reference."""
        return sorted(set(self.dtypes) | {DType.FLOAT64}, key=lambda d: d.rank)

    @property
    def train_settings(self) -> TrainSpec:
        return self.train or TrainSpec()
