"""Golden reports, one per seed thread: the plain-text report a user reads (the CLI in a
subprocess, NO_COLOR, 100 columns) answers the thread's own question in words; at 60 and 100
columns, in-process, every word of the explanation, fix and notes is there (nothing cropped),
no line is wider than the console and no code span is broken."""

from __future__ import annotations

import io
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from gaussdiag.cli.console import print_report
from gaussdiag.frontends.yaml.run import diagnose_file
from gaussdiag.pipeline import Options
from gaussdiag.report.table import render_run
from gaussdiag.results import RunReport

ROOT = Path(__file__).parent.parent.parent
THREADS = {
    "000": "configs/thread_000_diag_embed_std.yaml",
    "001": "configs/thread_001_randn_size.yaml",
    "002-pd": "configs/thread_002_covariance_not_pd.yaml",
    "002": "configs/thread_002_split_stack_view.yaml",
    "003": "configs/thread_003_log_prob_formula.yaml",
    "003-scale": "configs/tiny_sigma_handwritten.yaml",
}
# the eigenvalues of [[1, .9, 0], [.9, 1, .9], [0, .9, 1]] are 1 and 1 +- 0.9 sqrt(2)
SMALLEST = 1 - 0.9 * math.sqrt(2)
# d/dsigma log N(10; 0, sigma) = -1/sigma + x^2/sigma^3 at sigma 0.01: about 1e8
GRAD_SCALE = -1 / 0.01 + 10.0 ** 2 / 0.01 ** 3


@pytest.fixture(scope="module")
def reports() -> dict[str, str]:
    """Each thread's plain-text report, as `gaussdiag compare` prints it at 100 columns."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "gaussdiag", "compare", *THREADS.values(),
                           "--no-timings"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout  # NO_COLOR and not a terminal: plain text
    out: dict[str, str] = {}
    for key, path in THREADS.items():
        start = done.stdout.index(f"  {path}\n")
        end = done.stdout.find("\n  cost (forward+backward)", start)
        out[key] = done.stdout[start:end]
    return out


def flat(text: str) -> str:
    """The words of `text` with its line breaks and hanging indents undone."""
    return " ".join(text.split())


def test_thread_000_names_the_factor_2_and_the_variance_fix(reports: dict[str, str]) -> None:
    text = flat(reports["000"])
    assert "verdict: parameterization" in text
    assert "the square of `std`" in text and "differ by a factor 2 where `std` is 1" in text
    assert "fix: on side a, pass covariance_matrix=torch.diag_embed(std ** 2)" in text


def test_thread_001_says_the_gradient_reaches_both_params(reports: dict[str, str]) -> None:
    text = flat(reports["001"])
    assert "verdict: agree" in text
    assert "the gradient reaches x_mean and x_var on both sides (reparameterized draws)" in text


def test_thread_002_names_batch_index_eigenvalue_and_scale_tril(reports: dict[str, str]) -> None:
    text = flat(reports["002-pd"])
    assert "verdict: invalid-parameters" in text
    assert f"smallest eigenvalue {SMALLEST:.4g}" in text
    assert "first failing batch index [1]" in text
    assert "fix: build the matrix so it is positive definite by construction: a `scale_tril`" \
        in text
    # the thread's own construction agrees with the diag_embed form, exactly
    assert "verdict: agree" in flat(reports["002"])


@pytest.mark.parametrize("key", ["003", "003-scale"])
def test_thread_003_grad_scale_is_large_but_correct(key: str, reports: dict[str, str]) -> None:
    text = flat(reports[key])
    assert "verdict: agree" in text
    size = f"1e{round(math.log10(GRAD_SCALE))}"
    found = re.search(r"grad\[(std|scale)\] is about (1e\d+), large but correct: float32 keeps "
                      r"(\d\.\d) of (\d\.\d) digits", text)
    assert found, text
    assert found.group(2) == size
    # float32 has 24 bits: 7.2 digits; the gradient here is computed to the last of them
    assert found.group(4) == f"{24 * math.log10(2):.1f}"
    assert float(found.group(3)) >= 6.5, found.group(0)


@pytest.mark.parametrize("width", [60, 100])
@pytest.mark.parametrize("key", sorted(THREADS))
def test_report_reads_whole_at_every_width(key: str, width: int) -> None:
    report = diagnose_file(str(ROOT / THREADS[key]), Options())
    out = io.StringIO()
    print_report(Console(file=out, width=width, color_system=None),
                 render_run(RunReport((report,), torch_version="2.x", device="cpu")))
    text = out.getvalue()
    lines = text.splitlines()
    assert all(len(ln) <= width for ln in lines), [ln for ln in lines if len(ln) > width]
    assert all(ln == ln.rstrip() for ln in lines)
    assert all(ln.count("`") % 2 == 0 for ln in lines), text
    # nothing cropped: every character of the words is on the page, in order (a word wider
    # than the console is folded, so compare without any whitespace)
    bare = "".join(text.split())
    for words in (report.explanation, report.fix, *report.notes):
        assert "".join(words.split()) in bare, (width, words)
    # a hanging note: its second line starts under the text, past "note: "
    for i, ln in enumerate(lines[:-1]):
        if ln.startswith("    note: ") and lines[i + 1].startswith("    ") \
                and not lines[i + 1].lstrip().startswith(("note:", "also:", "evidence")):
            assert lines[i + 1].startswith(" " * 10), (lines[i], lines[i + 1])
