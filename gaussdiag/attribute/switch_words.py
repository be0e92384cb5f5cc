"""The words a switch check's verdict comes with: what was run, and the fix per switch and
verdict (SWITCH_RULES decides; this only says it)."""

from __future__ import annotations

from gaussdiag.engine.switched import SwitchRuns
from gaussdiag.vocab import SwitchKind, Verdict

_TF32_OFF = ("keep TF32 off for this computation: `torch.backends.cuda.matmul.allow_tf32 = "
             "False` (and `torch.backends.cudnn.allow_tf32 = False`), or float64 for the "
             "covariance")
_AUTOCAST_OFF = ("keep this side's log_prob out of autocast: `with torch.autocast(device_type, "
                 "enabled=False)` around it, and `.float()` its inputs")
_EAGER = ("run this side eagerly until the backend is fixed (`torch.compiler.disable` on the "
          "function that builds the distribution and takes its log_prob), and report the "
          "problem to the backend with the reproducer")

# What to change when the switch changed more than rounding (mismatch, non-finite,
# no-gradient, invalid-parameters): stop using the switch for this side.
_CHANGED: dict[SwitchKind, str] = {
    SwitchKind.COMPILE: _EAGER,
    SwitchKind.DEVICE: ("compute this side on the CPU (or in float64 on the device), and "
                        "compare the device's and the CPU's kernels term by term to find the "
                        "operation that differs"),
    SwitchKind.TF32: _TF32_OFF,
    SwitchKind.AUTOCAST: _AUTOCAST_OFF,
}

# What to change, if anything, when the switch changed only rounding.
_ROUNDED: dict[SwitchKind, str] = {
    SwitchKind.COMPILE: ("nothing to fix: compiled code rounds differently (reordered sums, "
                         "fused operations); compare its results with a tolerance, not for "
                         "equality"),
    SwitchKind.DEVICE: ("nothing to fix: the device's kernels round differently; compare its "
                        "results with a tolerance, not for equality"),
    SwitchKind.TF32: "nothing to fix if this gap is acceptable; if it matters, " + _TF32_OFF,
    SwitchKind.AUTOCAST: ("nothing to fix if this gap is acceptable; if it matters, "
                          + _AUTOCAST_OFF),
}


def what(runs: SwitchRuns) -> str:
    """`side a under compile:inductor`, with where the switched runs ran when that is not
    the name's own business."""
    where = f" on {runs.device}" if runs.switch.kind in (SwitchKind.TF32,
                                                          SwitchKind.AUTOCAST) else ""
    return f"side {runs.side.value} under {runs.switch.name}{where}"


def fix(kind: SwitchKind, verdict: Verdict) -> str:
    """The fix for a switch check's verdict (none for agree)."""
    if verdict is Verdict.AGREE:
        return ""
    return _ROUNDED[kind] if verdict is Verdict.ROUND_OFF else _CHANGED[kind]
