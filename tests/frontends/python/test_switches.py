"""gaussdiag.compare with switches: one side alone, `switches=[...]` on a pair, expectations
per switch and side, the exit-code meaning of `ok`, and the table's switch sections and
cost lines."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from rich.console import Console
from torch.distributions import Independent, MultivariateNormal, Normal

import gaussdiag
import tests.engine.planted_backends as planted
from gaussdiag.errors import GaussdiagError
from gaussdiag.vocab import SideName, Verdict

POINT = {"mean": torch.zeros(4), "log_std": torch.linspace(-0.5, 0.5, 4)}
DRAWS = {"x": torch.linspace(-2.0, 2.0, 24).reshape(6, 4)}
DRIFT = f"compile:{planted.EXP_DRIFT}"


def side(mean: torch.Tensor, log_std: torch.Tensor) -> Independent:
    return Independent(Normal(mean, log_std.exp()), 1)


def mvn(mean: torch.Tensor, log_std: torch.Tensor) -> MultivariateNormal:
    return MultivariateNormal(mean, scale_tril=torch.diag_embed(log_std.exp()))


def test_one_side_needs_a_switch() -> None:
    with pytest.raises(GaussdiagError, match="one side alone is checked under a switch"):
        gaussdiag.compare(side, params=POINT, inputs=DRAWS)


@pytest.mark.parametrize(("keywords", "says"), [
    ({"switch": "compil"}, "switch: unknown switch 'compil' (did you mean 'compile'?)"),
    ({"switches": "compile"}, "switches is a list of names"),
    ({"switch": "compile", "expect": {"tf32": "agree"}}, "expect: tf32: not among the switches"),
    ({"switch": "compile", "expect": {"pair": "agree"}}, "one side alone has no pair verdict"),
    ({"switch": "compile", "expect": 3}, "expect must be a verdict or a dict of them"),
])
def test_switch_keywords_are_checked(keywords: dict[str, object], says: str) -> None:
    with pytest.raises(GaussdiagError) as info:
        gaussdiag.compare(side, params=POINT, inputs=DRAWS, **keywords)  # type: ignore[arg-type]
    assert says in str(info.value), str(info.value)


def test_a_pair_with_switches_counts_each_check_in_ok() -> None:
    report = gaussdiag.compare(
        side, mvn, params=POINT, inputs=DRAWS, switches=["compile:aot_eager", DRIFT],
        expect={"pair": "agree", DRIFT: {"a": "mismatch"}})
    assert report.verdict is Verdict.AGREE and report.pair_ok and not report.single
    found = {(c.switch, c.side): (c.verdict, c.expect, c.ok) for c in report.switches}
    assert found == {
        ("compile:aot_eager", SideName.A): (Verdict.AGREE, None, True),
        ("compile:aot_eager", SideName.B): (Verdict.AGREE, None, True),
        (DRIFT, SideName.A): (Verdict.MISMATCH, Verdict.MISMATCH, True),
        # side b takes exp(log_std) too, so it drifts as well, and nothing expected that
        (DRIFT, SideName.B): (Verdict.MISMATCH, None, False),
    }
    assert not report.ok  # the pair is fine; one of its checks is not
    shown = io.StringIO()
    Console(file=shown, width=120, color_system=None).print(report)
    text = shown.getvalue()
    for c in report.switches:
        assert f"switch side {c.side.value} under {c.switch}" in text
    assert f"compiling side a ({DRIFT})" in text  # compilation on its own line of the cost


def test_one_side_with_a_plain_expect_applies_it_to_every_check() -> None:
    report = gaussdiag.compare(side, switches=["compile:aot_eager", DRIFT], params=POINT,
                               inputs=DRAWS, expect="agree")
    assert report.single and report.expect is Verdict.AGREE
    assert [(c.verdict, c.expect, c.ok) for c in report.switches] == [
        (Verdict.AGREE, Verdict.AGREE, True), (Verdict.MISMATCH, Verdict.AGREE, False)]
    # the single side's verdict: the most severe of its checks
    assert report.verdict is Verdict.MISMATCH and not report.ok
    assert report.labels == {SideName.A: "side(mean, log_std)"}
    assert report.name == "side(mean, log_std)"
    assert report.to_dict()["switches"][1]["status"] == "mismatch"


def test_in_train_mode_a_switch_is_checked_at_the_starting_point() -> None:
    report = gaussdiag.compare(side, mvn, params=POINT, inputs=DRAWS, mode="train",
                               train={"steps": 3}, switch="compile:aot_eager")
    assert report.trajectories  # the pair trained
    for check in report.switches:  # the checks compare log_prob and gradients at the start
        assert check.verdict is Verdict.AGREE, check.explanation
        assert [q.name for q in check.quantities] == ["log_prob", "grad[mean]",
                                                      "grad[log_std]"]


def test_an_unknown_backend_is_an_error_naming_it() -> None:
    with pytest.raises(GaussdiagError) as info:
        gaussdiag.compare(side, switch="compile:no_such_backend", params=POINT, inputs=DRAWS)
    assert str(info.value).startswith("switch compile:no_such_backend: torch.compile has no "
                                      "backend 'no_such_backend' (built in: aot_eager, ")


def test_a_compiler_that_fails_is_a_check_error_not_a_crash() -> None:
    report = gaussdiag.compare(side, mvn, params=POINT, inputs=DRAWS,
                               switch=f"compile:{planted.BROKEN}")
    assert report.verdict is Verdict.AGREE and report.pair_ok and not report.ok
    for check in report.switches:
        assert check.verdict is None and not check.ok
        assert check.error is not None and check.error.startswith(
            f"torch.compile with backend '{planted.BROKEN}' failed on side {check.side.value} "
            "in float32: ")
        assert "planted compiler failure" in check.error
    shown = io.StringIO()
    Console(file=shown, width=100, color_system=None).print(report)
    assert "verdict: error" in shown.getvalue()
    assert report.to_dict()["switches"][0]["status"] == "error"


def test_a_reproducer_goes_to_repro_dir_and_reproduces_the_gap(tmp_path: Path) -> None:
    folder = tmp_path / "made" / "here"  # made when the reproducer is written
    report = gaussdiag.compare(side, switch=DRIFT, params=POINT, inputs=DRAWS,
                               repro_dir=folder)
    [check] = report.switches
    assert check.verdict is Verdict.MISMATCH and check.reproducer is not None
    script = Path(check.reproducer)
    assert script.parent == folder and script.is_file()
    # the script stands alone: run, it shows the planted gap and exits 1
    ran = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=Path(__file__).parents[3], timeout=120, check=False)
    assert ran.returncode == 1, ran.stdout + ran.stderr


@pytest.mark.parametrize("bad", [123, ""])
def test_repro_dir_must_be_a_folder_path(bad: object, tmp_path: Path) -> None:
    with pytest.raises(GaussdiagError, match="repro_dir must be a folder's path"):
        gaussdiag.compare(side, switch=DRIFT, params=POINT, inputs=DRAWS, repro_dir=bad)
    taken = tmp_path / "a_file"
    taken.write_text("")
    with pytest.raises(GaussdiagError, match="exists and is not a folder"):
        gaussdiag.compare(side, switch=DRIFT, params=POINT, inputs=DRAWS, repro_dir=taken)


def test_a_repro_dir_that_cannot_be_made_keeps_the_verdict_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("")
    report = gaussdiag.compare(side, switch=DRIFT, params=POINT, inputs=DRAWS,
                               repro_dir=tmp_path / "a_file" / "below")
    [check] = report.switches
    assert check.verdict is Verdict.MISMATCH and check.reproducer is None
    assert "The reproducer could not be written (Not a directory" in check.explanation
