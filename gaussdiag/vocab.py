"""Stable vocabularies: `str` enums whose values are the spec's own strings.

Every enum here is part of the contract (`spec-v1.md`): JSON reports and YAML specs use the
values verbatim, so renaming a member is a breaking change.
"""

from __future__ import annotations

from enum import Enum


class Verdict(str, Enum):
    """One spec's headline answer, in precedence order (first applicable wins)."""

    INVALID_PARAMETERS = "invalid-parameters"
    NON_FINITE = "non-finite"
    NO_GRADIENT = "no-gradient"
    DIFFERENT_DRAWS = "different-draws"
    PARAMETERIZATION = "parameterization"
    MISMATCH = "mismatch"
    ROUND_OFF = "round-off"
    AGREE = "agree"

    @property
    def acceptable_without_expect(self) -> bool:
        """With no `expect:` in the spec, only these exit 0."""
        return self in (Verdict.AGREE, Verdict.ROUND_OFF)


class Status(str, Enum):
    """What a spec ended as when it has no verdict (the JSON report's `status` holds the
    verdict itself otherwise)."""

    ERROR = "error"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"
    NOT_RUN = "not run"
    TIMED_OUT = "timed out"


class DType(str, Enum):
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"
    FLOAT32 = "float32"
    FLOAT64 = "float64"

    @property
    def rank(self) -> int:
        """Precision order: lower is less precise (bfloat16 has the fewest mantissa bits)."""
        return _DTYPE_RANK[self]


_DTYPE_RANK = {DType.BFLOAT16: 0, DType.FLOAT16: 1, DType.FLOAT32: 2, DType.FLOAT64: 3}


class Mode(str, Enum):
    LOG_PROB = "log_prob"
    RSAMPLE = "rsample"
    TRAIN = "train"


class Method(str, Enum):
    RSAMPLE = "rsample"
    SAMPLE = "sample"


class Optimizer(str, Enum):
    SGD = "sgd"
    ADAM = "adam"


class OutputFormat(str, Enum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"
    GITHUB = "github"


class SideName(str, Enum):
    A = "a"
    B = "b"

    @property
    def other(self) -> SideName:
        return SideName.B if self is SideName.A else SideName.A


# ---- precision-check ----------------------------------------------------------------------


class ScaleParam(str, Enum):
    """How sigma is computed from the raw parameter that gradients are taken against."""

    SCALE = "scale"
    SOFTPLUS = "softplus"
    LOG = "log"

    @property
    def raw_name(self) -> str:
        """The raw parameter's name: the key in `--point` and in `grad[...]`."""
        return _RAW_NAMES[self]

    @property
    def formula(self) -> str:
        return _FORMULAS[self]


_RAW_NAMES = {ScaleParam.SCALE: "scale", ScaleParam.SOFTPLUS: "rho", ScaleParam.LOG: "log_scale"}
_FORMULAS = {
    ScaleParam.SCALE: "scale used directly",
    ScaleParam.SOFTPLUS: "scale = softplus(rho)",
    ScaleParam.LOG: "scale = exp(log_scale)",
}


class SweepDist(str, Enum):
    """The distribution `precision-check` sweeps."""

    NORMAL = "normal"
    MVN = "mvn"
