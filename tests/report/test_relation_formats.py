"""A mismatch's relation in every output: the table's and markdown's relation line, the GitHub
title, the JSON's `structure` and its schema. Renderers are pure: constructed results in."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from gaussdiag import report as rp
from gaussdiag.frontends.yaml.run import diagnose_file
from gaussdiag.pipeline import Options
from gaussdiag.report.json_schema import report_schema
from gaussdiag.report.status import relation_text
from gaussdiag.results import ElementRef, RunReport, SpecReport, Structure
from gaussdiag.vocab import OutputFormat, RelationKind, Verdict

ROOT = Path(__file__).parents[2]

FACTOR = SpecReport(
    file="specs/mll.yaml", name="mll", verdict=Verdict.MISMATCH, expect=None, ok=False,
    explanation="Side a's log_prob and gradients are side b's × 1/20 (1/20 = 1 / the event size)",
    fix="sum instead of averaging on side a", line=5,
    structure=Structure(RelationKind.FACTOR, 0.05, "1/20"))
CLAMP = SpecReport(
    file="specs/clamp.yaml", name="clamp", verdict=Verdict.MISMATCH, expect=None, ok=False,
    explanation="the values agree at both points and only the gradients of `log_std` differ",
    structure=Structure(RelationKind.GRADIENTS_ONLY, params=("log_std",),
                        elements=(ElementRef("grad[log_std]", (1,)),
                                  ElementRef("grad[log_std]", (3,)))))
AFFINE = SpecReport(
    file="specs/mse.yaml", name="mse", verdict=Verdict.MISMATCH, expect=None, ok=False,
    structure=Structure(RelationKind.AFFINE, 0.1, "1/10", constant=0.5723649429247001))


def _table(run: RunReport) -> str:
    out = io.StringIO()
    Console(file=out, width=100, color_system=None).print(rp.render(run, OutputFormat.TABLE))
    return out.getvalue()


def test_table_and_markdown_print_the_relation_and_its_sentence() -> None:
    run = RunReport((FACTOR, CLAMP))
    text = _table(run)
    assert "relation: factor 0.05 = 1/20" in text
    assert "relation: gradients-only · log_std · 2 elements" in text
    assert "side b's × 1/20 (1/20 = 1 / the event size)" in text
    md = rp.render_markdown(run)
    assert "**relation:** factor 0.05 = 1/20" in md
    assert "side b's × 1/20 (1/20 = 1 / the event size)" in md


def test_github_names_the_relation_in_the_title() -> None:
    (line,) = rp.render_github(RunReport((FACTOR,))).splitlines()
    assert line.startswith("::error file=specs/mll.yaml,line=5,title=gaussdiag mismatch "
                           "(factor)::Side a's log_prob and gradients are side b's × 1/20")


def test_json_structure_keys() -> None:
    specs = rp.to_json(RunReport((FACTOR, CLAMP, AFFINE)))["specs"]
    assert specs[0]["structure"] == {"kind": "factor", "value": 0.05, "closed_form": "1/20",
                                     "params": [], "elements": [], "constant": None}
    assert specs[1]["structure"]["elements"] == [
        {"quantity": "grad[log_std]", "index": [1]}, {"quantity": "grad[log_std]", "index": [3]}]
    assert specs[2]["structure"]["constant"] == 0.5723649429247001


def test_relation_text_for_every_kind() -> None:
    for kind in RelationKind:
        text = relation_text(Structure(kind))
        assert text.startswith(kind.value), kind
    assert relation_text(AFFINE.structure) == "affine 0.1 = 1/10 + 0.5724"  # type: ignore[arg-type]
    assert relation_text(Structure(RelationKind.POINT_TERM, closed_form="-log x")) == \
        "point-term -log x"
    assert relation_text(Structure(RelationKind.SWAP, params=("c1", "c0"))) == "swap · c1, c0"


def test_a_real_mismatch_report_validates_against_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(report_schema())
    real = diagnose_file(str(ROOT / "configs/half_cauchy_vs_cauchy.yaml"), Options())
    data = json.loads(rp.render_json(RunReport((real, FACTOR, CLAMP, AFFINE))))
    assert data["specs"][0]["structure"]["kind"] == "offset"
    errors = [e.message for e in validator.iter_errors(data)]
    assert not errors, errors
    data["specs"][0]["structure"]["kind"] = "a guess"
    assert not validator.is_valid(data)
