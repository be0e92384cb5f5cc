"""Ctrl-C during `precision-check` says "interrupted" on stderr and exits 130, as `compare`
does: the built-in sweeps (Normal and MVN) and the spec form, in-process through `main` with
the work replaced by a Ctrl-C (a real SIGINT cannot be timed to land inside a sweep that
takes well under a second)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import gaussdiag.precision as pc
from gaussdiag.cli import main
from gaussdiag.cli.exits import EXIT_INTERRUPTED

ROOT = Path(__file__).parent.parent.parent


def _ctrl_c(*args: Any, **kwargs: Any) -> Any:
    raise KeyboardInterrupt


@pytest.mark.parametrize(("target", "argv"), [
    ("sweep_normal", ["precision-check", "--quick"]),
    ("sweep_mvn", ["precision-check", "--dist", "mvn", "--quick"]),
    ("check_spec", ["precision-check", str(ROOT / "configs" / "tiny_sigma_handwritten.yaml")]),
], ids=["normal", "mvn", "spec"])
def test_ctrl_c_says_interrupted(target: str, argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(pc, target, _ctrl_c)
    assert main(argv) == EXIT_INTERRUPTED
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines()[-1] == "interrupted", captured.err
    assert "Traceback" not in captured.err
