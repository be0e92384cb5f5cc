"""What users see of switch checks, rendered from constructed results: golden plain text at 60
and 100 columns (a compile mismatch with its reproducer, autocast round-off with the format's
numbers, a skipped tf32 check, compilation on its own cost line), and the markdown, GitHub and
JSON renderings of the same checks."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from rich.console import Console

from gaussdiag import report as rp
from gaussdiag.cli.console import print_report
from gaussdiag.report.json_schema import report_schema
from gaussdiag.results import RunReport, SideCost, SpecReport, SwitchCheck, SwitchQuantity
from gaussdiag.vocab import DType, SideName, Verdict

GOLDEN = Path(__file__).parent / "golden"
F32, F64 = DType.FLOAT32, DType.FLOAT64
TOL = {F32: 7.63e-6, F64: 1.42e-14}

COMPILE = SwitchCheck(
    "compile:inductor", SideName.A, Verdict.MISMATCH, Verdict.ROUND_OFF, False,
    explanation="side a under compile:inductor: compiled and eager differ in float64 too: a "
                "compiler problem, not round-off (differences in float64: log_prob 0.00155). A "
                "standalone script reproduces it: python /tmp/repro/repro_head_a.py",
    fix="run this side eagerly until the backend is fixed (`torch.compiler.disable` on the "
        "function that builds the distribution), and report it with the reproducer",
    quantities=(SwitchQuantity("log_prob", Verdict.MISMATCH, {F32: 1.55e-3, F64: 1.55e-3}, TOL,
                               True, 1.0),),
    notes=("torch.compile captured graphs from the side: 2 in float32, 2 in float64",),
    device="cpu",
    costs=(SideCost(SideName.A, F32, 0.0012, 700, "saved for backward"),
           SideCost(SideName.A, F64, 0.0016, 1400, "saved for backward")),
    compile_seconds={F32: 4.21, F64: 0.97}, reproducer="/tmp/repro/repro_head_a.py")
AUTOCAST = SwitchCheck(
    "autocast:bfloat16", SideName.A, Verdict.ROUND_OFF, None, True,
    explanation="side a under autocast:bfloat16 on cpu changes only rounding",
    fix="nothing to fix if this gap is acceptable",
    quantities=(SwitchQuantity("log_prob", Verdict.ROUND_OFF, {F32: 3.55e-3}, {F32: TOL[F32]},
                               False, None, 3.55e-3, 2.03e-7, 0.5),),
    device="cpu", costs=(SideCost(SideName.A, F32, 0.07, 29900, "saved for backward"),))
SKIPPED = SwitchCheck("tf32", SideName.A, None, None, True,
                      skipped="switch tf32: device 'cuda' requested but CUDA is not available")
RUN = RunReport((
    SpecReport(file="specs/head.yaml", name="head", verdict=Verdict.MISMATCH, expect=None,
               ok=False, dtypes=(F32, F64), labels={SideName.A: "Normal(head(h))"},
               costs=(SideCost(SideName.A, F32, 0.0011, 680, "saved for backward", 25),
                      SideCost(SideName.A, F64, 0.0013, 1300, "saved for backward", 25)),
               explanation=COMPILE.explanation, fix=COMPILE.fix, line=3,
               switches=(COMPILE, AUTOCAST, SKIPPED), single=True),
), torch_version="2.x", device="cpu")


def _plain(width: int) -> str:
    out = io.StringIO()
    print_report(Console(file=out, width=width, color_system=None), rp.render_run(RUN))
    return out.getvalue()


@pytest.mark.parametrize("width", [60, 100])
def test_switch_checks_match_the_golden_text(width: int) -> None:
    text = _plain(width)
    assert not [ln for ln in text.splitlines() if ln != ln.rstrip()]
    assert max(len(ln) for ln in text.splitlines()) <= width
    golden = GOLDEN / f"switches_{width}.txt"
    if os.environ.get("GAUSSDIAG_REGOLD"):  # rewrite after an intended change, then review
        golden.write_text(text)
    assert text == golden.read_text()
    for shown in ("switch side a under compile:inductor", "expected round-off: NOT ok",
                  "error vs float64", "skipped: switch tf32",
                  "compiling side a (compile:inductor), first call", "mismatch"):
        assert shown in " ".join(text.split()), (width, shown)


def test_markdown_has_a_row_and_a_section_per_check() -> None:
    text = rp.render_markdown(RUN).replace("\\", "")
    for row in ("| head: side a under compile:inductor | specs/head.yaml | mismatch | "
                "round-off | **NOT ok** |",
                "| head: side a under tf32 | specs/head.yaml | skipped | - | ok |"):
        assert row in text, text
    assert "#### side a under autocast:bfloat16: round-off" in text


def test_github_annotates_the_check_that_is_not_ok_and_nothing_else() -> None:
    lines = rp.render_github(RUN).splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("::error file=specs/head.yaml,line=3,title=gaussdiag side a "
                               "under compile%3Ainductor%3A mismatch::side a under ")
    assert lines[0].endswith("(expected round-off)")


def test_json_carries_every_check_and_validates() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    data = json.loads(rp.render_json(RUN))
    assert not list(jsonschema.Draft202012Validator(report_schema()).iter_errors(data))
    spec = data["specs"][0]
    assert spec["single"] is True
    assert [(c["switch"], c["status"], c["ok"]) for c in spec["switches"]] == [
        ("compile:inductor", "mismatch", False), ("autocast:bfloat16", "round-off", True),
        ("tf32", "skipped", True)]
    assert spec["switches"][0]["compile_seconds"] == {"float32": 4.21, "float64": 0.97}
    assert spec["switches"][1]["quantities"][0]["explained"] == 0.5
    bare = json.loads(rp.render_json(RUN, timings=False))["specs"][0]["switches"][0]
    assert "costs" not in bare and "compile_seconds" not in bare
