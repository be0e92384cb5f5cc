"""Python pairs on the CLI, the examples' verdicts, and gaussdiag.testing under pytest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gaussdiag.cli import main
from gaussdiag.frontends.python.pair import diagnose_pairs_file
from gaussdiag.pipeline import Options

pytest_plugins = ["pytester"]

ROOT = Path(__file__).parents[3]

# The verdict each seed thread's example must give. "equivalent": agree or round-off (a
# float32 gap that another BLAS may put on either side of tol; both pass).
EXAMPLES = {
    "seed000_std_as_covariance.py::std_as_covariance": "parameterization",
    "seed000_std_as_covariance.py::fixed": "equivalent",
    "seed001_reparameterized_by_hand.py::by_hand_vs_rsample": "agree",
    "seed001_reparameterized_by_hand.py::negative_variance": "invalid-parameters",
    "seed002_network_scale_tril.py::scale_tril_vs_covariance": "equivalent",
    "seed002_network_scale_tril.py::diagonal_not_positive": "invalid-parameters",
    "seed003_tiny_scale.py::tiny_scale": "agree",
    "seed003_tiny_scale.py::zero_scale": "invalid-parameters",
    "seed003_tiny_scale.py::softplus_forgotten": "parameterization",
}


def test_every_example_gives_its_verdict() -> None:
    got = {}
    for path in sorted((ROOT / "examples").glob("seed*.py")):
        for r in diagnose_pairs_file(str(path), Options()):
            assert r.error is None, r.error
            got[r.name] = r.verdict.value if r.verdict else None
            assert r.structure is None, r.name  # none of them is a mismatch
    assert set(got) == set(EXAMPLES)
    for name, want in EXAMPLES.items():
        ok = {"agree", "round-off"} if want == "equivalent" else {want}
        assert got[name] in ok, name


PAIRS = """
import torch
from torch.distributions import Independent, MultivariateNormal, Normal
import gaussdiag

def a(mean, std):
    return MultivariateNormal(mean, torch.diag_embed(std))

def b(mean, std):
    return Independent(Normal(mean, std), 1)

params = {"mean": torch.zeros(3), "std": torch.tensor([0.5, 1.5, 2.0])}
bug = gaussdiag.Pair(a, b, params=params, inputs={"x": gaussdiag.sample("b", (8,))},
                     expect="parameterization")
same = gaussdiag.Pair(b, b, params=params, inputs={"x": gaussdiag.sample("b", (8,))})
"""


def test_cli_runs_pairs_and_yaml_together(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    pairs = tmp_path / "pairs.py"
    pairs.write_text(PAIRS)
    out = tmp_path / "report.json"
    code = main(["compare", str(pairs), str(ROOT / "configs" / "mvn_diag_fixed.yaml"),
                 "--json", str(out)])
    assert code == 0, capsys.readouterr()
    specs = json.loads(out.read_text())["specs"]
    assert [(s["name"], s["verdict"]) for s in specs] == [
        ("pairs.py::bug", "parameterization"), ("pairs.py::same", "agree"),
        ("mvn-diag-fixed", "agree")]
    pairs.write_text(PAIRS.replace('expect="parameterization"', 'expect="agree"'))
    assert main(["compare", str(pairs)]) == 1


def test_a_pairs_file_that_fails_to_import_is_one_located_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pairs = tmp_path / "broken.py"
    pairs.write_text("import torch\n\nx = 1\nraise RuntimeError('no data here')\n")
    assert main(["compare", str(pairs)]) == 2
    err = capsys.readouterr().err
    assert f"{pairs}:4: cannot import: RuntimeError: no data here" in err
    assert "Traceback" not in err
    pairs.write_text("import gaussdiag\npair = gaussdiag.Pair(len, len, param={})\n")
    assert main(["compare", str(pairs)]) == 2
    assert "unknown keyword `param` (did you mean 'params'?)" in capsys.readouterr().err


def _console_script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed `gaussdiag` command, as a user runs it: its sys.path starts at the
    script's own folder, not at the current directory (unlike `python -m`)."""
    script = Path(sys.executable).with_name("gaussdiag")
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    env.pop("PYTHONPATH", None)
    return subprocess.run([str(script), *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


PROJECT_PAIRS = """
import torch
from torch.distributions import Independent, Normal
import gaussdiag
from policy import head   # the project's own module, at the project root
from helpers import scale  # a neighbour of this file, in tests/

pair = gaussdiag.Pair(head, lambda mean: Independent(Normal(mean, scale(mean)), 1),
                      params={"mean": torch.zeros(3)}, inputs={"x": torch.ones(3)})
"""


def test_a_pairs_file_imports_the_project_s_modules_from_its_root(tmp_path: Path) -> None:
    (tmp_path / "policy.py").write_text(
        "import torch\nfrom torch.distributions import Independent, Normal\n\n"
        "def head(mean):\n    return Independent(Normal(mean, torch.ones_like(mean)), 1)\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "helpers.py").write_text(
        "import torch\n\ndef scale(mean):\n    return torch.ones_like(mean)\n")
    (tmp_path / "tests" / "pairs.py").write_text(PROJECT_PAIRS)
    r = _console_script("compare", "tests/pairs.py", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "verdict: agree" in r.stdout


def test_a_module_the_pairs_file_cannot_find_gets_a_hint(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "pairs.py").write_text("import gaussdiag\nimport policy_nowhere\n")
    r = _console_script("compare", "tests/pairs.py", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: tests/pairs.py:2: cannot import: ModuleNotFoundError: "
                               "No module named 'policy_nowhere' (looked first in "
                               f"{tmp_path / 'tests'} and {tmp_path}: run gaussdiag from the "
                               "folder that holds `policy_nowhere`"), lines[0]


def test_help_says_the_file_is_trusted_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--help"]) == 0
    assert "trusted code" in " ".join(capsys.readouterr().out.split())


def test_assertions_in_a_pytest_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_policy=textwrap.dedent("""
        import torch
        from torch.distributions import Independent, MultivariateNormal, Normal
        import gaussdiag
        from gaussdiag.testing import assert_equivalent, assert_verdict

        def mvn(mean, std):
            return MultivariateNormal(mean, torch.diag_embed(std**2))

        def buggy(mean, std):
            return MultivariateNormal(mean, torch.diag_embed(std))

        def normal(mean, std):
            return Independent(Normal(mean, std), 1)

        KW = dict(params={"mean": torch.zeros(3), "std": torch.tensor([0.5, 1.5, 2.0])},
                  inputs={"x": gaussdiag.sample("b", (8,))})

        def test_fixed():
            assert_equivalent(mvn, normal, **KW)

        def test_bug_is_a_parameterization():
            assert_verdict(buggy, normal, "parameterization", **KW)

        def test_bug_fails():
            assert_equivalent(buggy, normal, **KW)
    """))
    result = pytester.runpytest("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: the sides are not equivalent: "
                                 "parameterization*", "*fix: on side a, pass std**2*"])
