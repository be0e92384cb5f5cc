"""`gaussdiag schema --precision-report`: real precision-check JSON, of every shape, validates
against it, and a document missing a key does not."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gaussdiag.cli import main
from gaussdiag.report.precision_json import FORMAT_VERSION
from gaussdiag.report.precision_json_schema import precision_report_schema

from .refs import run_cli

FIXED = "configs/mvn_diag_fixed.yaml"
NOT_PD = "configs/covariance_not_pd.yaml"


def _validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(precision_report_schema())
    return jsonschema.Draft202012Validator(precision_report_schema())


def _errors(validator: Any, data: object) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


@pytest.mark.parametrize(("args", "code"), [
    pytest.param(("--quick",), 0, id="normal-map"),
    pytest.param(("--quick", "--param", "softplus"), 0, id="normal-map-softplus"),
    pytest.param(("--dist", "mvn", "--quick"), 0, id="mvn-sweep"),
    pytest.param(("--point", "loc=0,scale=0.01,x=10"), 0, id="point"),
    pytest.param(("--point", "loc=0,scale=-1,x=1"), 0, id="point-invalid-scale"),
    pytest.param((FIXED,), 0, id="one-spec"),
    pytest.param((FIXED, NOT_PD), 1, id="two-specs-one-invalid-side"),
])
def test_real_output_validates(capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
                               code: int) -> None:
    validator = _validator()
    got, out, err = run_cli(capsys, *args, "--json", "-")
    assert got == code, err
    data = json.loads(out)
    assert data["format_version"] == FORMAT_VERSION == 2
    assert not _errors(validator, data), (args, _errors(validator, data))


def test_a_document_missing_a_key_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    validator = _validator()
    _, out, _ = run_cli(capsys, FIXED, "--json", "-")
    data = json.loads(out)
    del data["specs"][0]["sides"]["a"]["quantities"]
    assert not validator.is_valid(data)
    _, out, _ = run_cli(capsys, "--quick", "--json", "-")
    data = json.loads(out)
    data["dist"] = "mvn"  # a Normal map is not an MVN sweep
    assert not validator.is_valid(data)


def test_schema_command_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--precision-report"]) == 0
    assert json.loads(capsys.readouterr().out) == precision_report_schema()
    assert main(["schema", "--report", "--precision-report"]) == 2
    assert "give one" in capsys.readouterr().err
