"""Stable vocabularies: `str` enums whose values are the spec's own strings.

Every enum here is part of the contract (`spec-v1.md`): JSON reports and YAML specs use the
values verbatim, so renaming a member is a breaking change. Each is a `Vocab`: `str()` and
`format()` give the value, as the reports and the specs write it.
"""

from __future__ import annotations

from enum import Enum


class Vocab(str, Enum):
    """A `str` enum whose `str()` and `format()` are its value: `print(report.verdict)` shows
    `parameterization`, where a plain `str` mix-in shows `Verdict.PARAMETERIZATION`
    (`enum.StrEnum` does the same, but needs Python 3.11)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, format_spec: str) -> str:
        return format(str(self.value), format_spec)


class Verdict(Vocab):
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


class Status(Vocab):
    """What a spec ended as when it has no verdict (the JSON report's `status` holds the
    verdict itself otherwise)."""

    ERROR = "error"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"
    NOT_RUN = "not run"
    TIMED_OUT = "timed out"


class DType(Vocab):
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"
    FLOAT32 = "float32"
    FLOAT64 = "float64"

    @property
    def rank(self) -> int:
        """Precision order: lower is less precise (bfloat16 has the fewest mantissa bits)."""
        return _DTYPE_RANK[self]


_DTYPE_RANK = {DType.BFLOAT16: 0, DType.FLOAT16: 1, DType.FLOAT32: 2, DType.FLOAT64: 3}


class Mode(Vocab):
    LOG_PROB = "log_prob"
    RSAMPLE = "rsample"
    TRAIN = "train"


class Method(Vocab):
    RSAMPLE = "rsample"
    SAMPLE = "sample"


class Optimizer(Vocab):
    SGD = "sgd"
    ADAM = "adam"


class OutputFormat(Vocab):
    """How `compare` prints its report; each has a renderer in `gaussdiag.report.RENDERERS`
    and its line in `compare --help` (`help`)."""

    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"
    GITHUB = "github"

    @property
    def help(self) -> str:
        return _FORMAT_HELP[self]


_FORMAT_HELP = {
    OutputFormat.TABLE: "the terminal report",
    OutputFormat.JSON: "the JSON report",
    OutputFormat.MARKDOWN: "the summary in markdown, e.g. >> $GITHUB_STEP_SUMMARY",
    OutputFormat.GITHUB: "workflow commands that annotate the spec files in a GitHub Actions "
                         "run, then the plain report",
}


class SideKind(Vocab):
    """What a side returns: a Distribution, a hand-written log-density, or hand-written
    draws (rsample mode); UNKNOWN for a Python side that never built."""

    DIST = "dist"
    LOG_PROB = "log_prob"
    EXPR = "expr"
    UNKNOWN = "unknown"


class SideName(Vocab):
    A = "a"
    B = "b"

    @property
    def other(self) -> SideName:
        return SideName.B if self is SideName.A else SideName.A


class RelationKind(Vocab):
    """What relates the two sides of a `mismatch` (the JSON's `structure.kind`), in the order
    the relations are tried (gaussdiag/attribute/relations.py)."""

    FACTOR = "factor"
    OFFSET = "offset"
    POINT_TERM = "point-term"
    AFFINE = "affine"
    GRADIENTS_ONLY = "gradients-only"
    PARAMS = "params"
    SWAP = "swap"
    ELEMENTS = "elements"


class SwitchKind(Vocab):
    """A change of how one side runs that should not change its math (`switches:` in a spec,
    `--switch` on the command line): the part of a switch's name before its first colon."""

    COMPILE = "compile"
    DEVICE = "device"
    TF32 = "tf32"
    AUTOCAST = "autocast"


# ---- precision-check ----------------------------------------------------------------------


class ScaleParam(Vocab):
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


class SweepDist(Vocab):
    """The distribution `precision-check` sweeps."""

    NORMAL = "normal"
    MVN = "mvn"
