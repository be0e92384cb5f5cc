"""Golden runs: every shipped config (and the built-in demo) gives its `expect:` verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from gaussdiag.frontends.yaml.run import demo_spec, diagnose
from gaussdiag.frontends.yaml.spec import load_spec
from gaussdiag.pipeline import Options
from gaussdiag.report import spec_json
from gaussdiag.vocab import DType, Mode, Verdict
from tests.conftest import config_report

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))


def test_there_are_configs_for_every_verdict_but_non_finite() -> None:
    expects = {load_spec(p).spec.expect for p in CONFIGS}
    assert set(Verdict) - {Verdict.NON_FINITE} <= expects


def _slow_if_trained(path: Path) -> object:
    """A train config takes 200 optimizer steps per side and dtype (seconds): slow."""
    trained = load_spec(path).spec.mode is Mode.TRAIN
    return pytest.param(path, id=path.stem, marks=[pytest.mark.slow] if trained else [])


@pytest.mark.parametrize("path", [_slow_if_trained(p) for p in CONFIGS])
def test_config_gives_its_expected_verdict(path: Path) -> None:
    loaded = load_spec(path)
    assert loaded.spec.expect is not None, f"{path} has no expect:"
    report = config_report(path.stem)
    assert report.error is None, report.error
    assert report.verdict is loaded.spec.expect, (path, report.explanation)
    assert report.ok
    # a relation between the sides is a mismatch's story only; every shipped mismatch has one
    if report.verdict is Verdict.MISMATCH:
        assert report.structure is not None, (path, report.explanation)
    else:
        assert report.structure is None and spec_json(report)["structure"] is None, path


def test_demo_is_the_std_vs_variance_thread() -> None:
    report = diagnose(demo_spec(), Options())
    assert report.verdict is Verdict.PARAMETERIZATION
    assert report.cause is not None and report.cause.param == "std"
    assert "diag_embed(std ** 2)" in report.fix


def test_corrected_twin_float64_diff_is_near_1e_15() -> None:
    report = diagnose(load_spec(Path("configs/mvn_diag_fixed.yaml")), Options())
    worst = max(q.diff[DType.FLOAT64] for q in report.quantities)
    assert 1e-17 < worst < 1e-14


@pytest.mark.slow
def test_train_round_off_shrinks_by_orders_of_magnitude() -> None:
    loaded = load_spec(Path("configs/train_mvn_fixed_vs_normal.yaml"))
    assert loaded.spec.mode is Mode.TRAIN
    report = config_report("train_mvn_fixed_vs_normal")  # the run the config test checked
    (q,) = report.quantities
    assert q.diff[DType.FLOAT32] > 1e3 * q.diff[DType.FLOAT64]
