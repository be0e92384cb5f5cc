"""Frozen results: what attribution decides and renderers show. No torch, no formatting."""

from __future__ import annotations

from dataclasses import dataclass, field

from gaussdiag.vocab import DType, Mode, RelationKind, SideName, Verdict


@dataclass(frozen=True)
class Cause:
    """A reparameterization that explains every difference: `transform` applied on `side` to
    the leaf `param` (`on` "param"), or to `argument` of the distribution `dist` the side
    constructs (`on` "argument"; its `occurrence`-th construction of that class, from 0),
    makes the sides agree. `factor` is the number of the `scale` transform (x -> factor x)."""

    side: SideName
    param: str | None
    transform: str
    on: str = "param"
    dist: str | None = None
    argument: str | None = None
    occurrence: int | None = None
    factor: float | None = None

    @property
    def target(self) -> str:
        """What the transform applies to, in words: `std`, or `MultivariateNormal's
        covariance_matrix`."""
        if self.on == "param":
            return str(self.param)
        nth = "" if not self.occurrence else f"#{self.occurrence + 1} "
        return f"{nth}{self.dist}'s {self.argument}"


@dataclass(frozen=True)
class Alternative:
    """Another fix that explains as well as the cause: on the other side, the inverse
    transform (square on one side, sqrt on the other)."""

    cause: Cause
    fix: str


@dataclass(frozen=True)
class Quantity:
    """One compared quantity (log_prob, a draw, grad[p], a trajectory) across dtypes."""

    name: str
    verdict: Verdict
    diff: dict[DType, float]
    tol: dict[DType, float]
    shrink: float | None
    persists: bool


@dataclass(frozen=True)
class ElementRef:
    """One element of a compared quantity: `log_prob` at `index`, or `grad[p]` at `index`."""

    quantity: str
    index: tuple[int, ...]


@dataclass(frozen=True)
class Structure:
    """What relates the two sides of a `mismatch` (attribute/relations.py): the relation's
    `kind`; its number `value` (a factor's c, an offset's k, affine's c with its k in
    `constant`; None for the other kinds) and the catalog's `closed_form` of it (None: no
    match, a plain number), or for point-term the matched term of the point; the `params` it
    names and the `elements` the differences sit in."""

    kind: RelationKind
    value: float | None = None
    closed_form: str | None = None
    params: tuple[str, ...] = ()
    elements: tuple[ElementRef, ...] = ()
    constant: float | None = None  # affine only: k in a = c·b + k


@dataclass(frozen=True)
class OtherProblem:
    """A problem seen besides the one that decided the verdict (another rule of RULES that
    also matched), e.g. NaN draws on the other side."""

    verdict: Verdict
    message: str


@dataclass(frozen=True)
class RoundOff:
    """A round-off verdict's size and blame. `gap` is the largest low-dtype diff (of
    `quantity`), `explained` what the conditioning accounts for there (tol(low) x kappa),
    `ratio` = gap / explained. `digits` is each side's worst quantity against its own float64
    run (accuracy.py); `worse_side` the side that keeps fewer (None: a tie, or unknown)."""

    quantity: str
    dtype: DType
    gap: float
    explained: float
    ratio: float
    digits: dict[SideName, float]
    worse_side: SideName | None


@dataclass(frozen=True)
class SideCost:
    """One side's forward + backward in one dtype: `seconds` is the median of `repeats` warm
    timed calls, or with repeats 0 the first call alone (`gaussdiag.engine.cost` says when)."""

    side: SideName
    dtype: DType
    seconds: float
    memory_bytes: int | None
    memory_kind: str
    repeats: int = 0


@dataclass(frozen=True)
class Evidence:
    """A labelled side-by-side observation, e.g. the first values of the two sides' variances
    and their normwise relative difference."""

    label: str
    a: tuple[float, ...]
    b: tuple[float, ...]
    diff: float


@dataclass(frozen=True)
class Trajectory:
    """train mode, one dtype: the gap between the sides' params after each step (normwise
    relative, all params concatenated), each side's loss, and the gap's growth per step."""

    dtype: DType
    gaps: tuple[float, ...]
    loss_a: tuple[float, ...]
    loss_b: tuple[float, ...]
    growth: float | None  # fitted factor per step of the gap (None: too few non-zero gaps)
    failed: str | None = None  # why the run ended early (a step broke a constraint)


@dataclass(frozen=True)
class Interruption:
    """Where Ctrl-C stopped a train run: side `side` in `dtype` was in step `step` of `steps`
    and had finished `done` = step - 1 of them (the sides run in order, a then b, each dtype
    in turn)."""

    dtype: DType
    side: SideName
    step: int
    steps: int

    @property
    def done(self) -> int:
        """The steps the interrupted side finished in that dtype."""
        return self.step - 1


@dataclass(frozen=True)
class Located:
    """One located problem of a spec that could not be diagnosed: the file, the line and
    column (None when the source gives none), the key path (None for the whole file) and the
    bare message. Renderers place annotations with it instead of re-reading the rendered
    error."""

    file: str
    line: int | None
    key: str | None
    message: str
    col: int | None = None

    @property
    def text(self) -> str:
        """The message with its key path, as annotations show it: `a.args: unknown key`."""
        return f"{self.key}: {self.message}" if self.key else self.message


@dataclass(frozen=True)
class SwitchQuantity:
    """One quantity of a switch check: the side run with the switch against itself without.
    `diff` is their normwise difference in each dtype run under the switch, `tol` the
    tolerance there, `persists` the pair rules' persistence (compile, device). For tf32 and
    autocast, `error` is the switched float32 run's error against float64, `error_without`
    the unswitched float32 run's, and `explained` what the switch's arithmetic explains on top
    of it (64 x eps(format) x kappa)."""

    name: str
    verdict: Verdict
    diff: dict[DType, float]
    tol: dict[DType, float]
    persists: bool
    shrink: float | None = None  # compile, device: d[low] / d[float64]
    error: float | None = None
    error_without: float | None = None
    explained: float | None = None


@dataclass(frozen=True)
class SwitchCheck:
    """One side checked under one switch (`switch` its canonical name, `compile:inductor`):
    the verdict (None when skipped or failed), what was expected, the quantities, the words,
    the switched runs' costs and, for compile, each dtype's compile time and the reproducer
    written for a mismatch. `skipped` says why an absent device skipped it; `error` why the
    side could not run under the switch at all."""

    switch: str
    side: SideName
    verdict: Verdict | None
    expect: Verdict | None
    ok: bool
    explanation: str = ""
    fix: str = ""
    quantities: tuple[SwitchQuantity, ...] = ()
    notes: tuple[str, ...] = ()
    device: str = ""
    costs: tuple[SideCost, ...] = ()
    compile_seconds: dict[DType, float] = field(default_factory=dict)
    reproducer: str | None = None
    skipped: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class SpecReport:
    """Everything known about one spec file: the verdict and why, or the error."""

    file: str
    name: str
    verdict: Verdict | None
    expect: Verdict | None
    ok: bool
    explanation: str = ""
    fix: str = ""
    cause: Cause | None = None
    also: tuple[Alternative, ...] = ()  # other fixes, each explaining as well as `cause`
    round_off: RoundOff | None = None  # set only when the verdict is round-off
    structure: Structure | None = None  # set only when the verdict is mismatch
    quantities: tuple[Quantity, ...] = ()
    problems: tuple[OtherProblem, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    costs: tuple[SideCost, ...] = ()
    threads: int = 0  # torch's intra-op threads during the diagnosis (0: not known)
    notes: tuple[str, ...] = ()
    kappa: float = 1.0
    dtypes: tuple[DType, ...] = ()
    device: str = ""
    mode: Mode = Mode.LOG_PROB
    labels: dict[SideName, str] = field(default_factory=dict)
    trajectories: tuple[Trajectory, ...] = ()
    point_quantities: tuple[Quantity, ...] = ()  # train mode: log_prob mode at the start
    error: str | None = None
    error_at: tuple[Located, ...] = ()  # where `error` is, one entry per located problem
    skipped: str | None = None
    interrupted: bool = False
    interrupted_at: Interruption | None = None  # train mode: where Ctrl-C came
    not_run: bool = False  # Ctrl-C came before this spec started
    timed_out: bool = False  # its wall-clock bound ran out (`explanation` says where)
    seconds: float = 0.0
    line: int | None = None  # line of `expect:` (else of `a:`), for annotations
    switches: tuple[SwitchCheck, ...] = ()  # each side under each switch, after the pair
    single: bool = False  # one side: no pair diagnosed; the verdict is its switch checks' worst
    pair_ok: bool = True  # with switches: the pair's own verdict is acceptable (`ok` counts both)


@dataclass(frozen=True)
class RunReport:
    specs: tuple[SpecReport, ...]
    torch_version: str = ""
    device: str = ""
    tf32: bool | None = None

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.specs)

    @property
    def timed_out(self) -> bool:
        """Some spec ran past its wall-clock bound."""
        return any(s.timed_out for s in self.specs)

    @property
    def interrupted(self) -> bool:
        """Ctrl-C stopped the run: some spec has partial results or did not run."""
        return any(s.interrupted or s.not_run for s in self.specs)
