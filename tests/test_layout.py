"""The package's shape, held by tests: small modules, no import circle at any depth, imports
that run one way (the engine and the judge know no front end; the renderers know neither the
front ends nor the package face), a light Python front end, and the lists the docs copy from
the code (the candidates, the output formats) kept equal to it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gaussdiag.attribute.candidates import CANDIDATES
from gaussdiag.attribute.scale import scale_candidate
from gaussdiag.report import RENDERERS
from gaussdiag.vocab import OutputFormat

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "gaussdiag"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts)
        out[name.removesuffix(".__init__")] = path
    return out


MODULES = _modules()


def _imports(module: str) -> set[str]:
    """Every gaussdiag module `module` imports, at any depth (inside functions and under
    TYPE_CHECKING too), with the packages an import runs first."""
    path = MODULES[module]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (path.name == "__init__.py")
                base = ".".join(parts[:keep] + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                ancestor = ".".join(parts[:i])
                if ancestor in MODULES and ancestor != module \
                        and not module.startswith(ancestor + "."):
                    found.add(ancestor)
    return found


GRAPH = {m: _imports(m) for m in MODULES}


def test_no_module_is_over_400_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long


def test_no_import_circle_at_any_depth() -> None:
    """Tarjan's strongly connected components over every import (a package's own face
    importing its children is not a circle: it is how a package is made)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []
    sys.setrecursionlimit(10_000)

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            faces = [m for m in comp if MODULES[m].name == "__init__.py"]
            own = len(faces) == 1 and all(m.startswith(faces[0]) for m in comp)
            if len(comp) > 1 and not own:
                circles.append(sorted(comp))

    for module in MODULES:
        if module not in index:
            visit(module)
    assert not circles


def _under(prefix: str) -> list[str]:
    return [m for m in MODULES if m == prefix or m.startswith(prefix + ".")]


@pytest.mark.parametrize(("layer", "forbidden"), [
    ("gaussdiag.engine", ("gaussdiag.frontends", "gaussdiag.attribute", "gaussdiag.precision",
                          "gaussdiag.pipeline", "gaussdiag.report", "gaussdiag.cli",
                          "gaussdiag.api")),
    ("gaussdiag.attribute", ("gaussdiag.frontends", "gaussdiag.precision", "gaussdiag.pipeline",
                             "gaussdiag.report", "gaussdiag.cli", "gaussdiag.api")),
    ("gaussdiag.precision", ("gaussdiag.frontends", "gaussdiag.pipeline", "gaussdiag.report",
                             "gaussdiag.cli", "gaussdiag.api")),
    ("gaussdiag.pipeline", ("gaussdiag.frontends", "gaussdiag.report", "gaussdiag.cli",
                            "gaussdiag.api")),
    ("gaussdiag.results", ("gaussdiag.report", "gaussdiag.frontends", "gaussdiag.engine")),
    ("gaussdiag.report", ("gaussdiag.frontends", "gaussdiag.cli", "gaussdiag.api",
                          "gaussdiag.pipeline")),
    ("gaussdiag.frontends.python", ("gaussdiag.frontends.yaml", "gaussdiag.report",
                                    "gaussdiag.cli", "gaussdiag.api")),
    ("gaussdiag.frontends.yaml", ("gaussdiag.frontends.python", "gaussdiag.report",
                                  "gaussdiag.cli", "gaussdiag.api")),
])
def test_imports_run_one_way(layer: str, forbidden: tuple[str, ...]) -> None:
    bad = {(m, t) for m in _under(layer) for t in GRAPH[m]
           if any(t == f or t.startswith(f + ".") for f in forbidden)}
    assert not bad


def test_no_module_imports_the_package_face() -> None:
    """Below the face, nothing reaches for `gaussdiag` itself (`__version__` has its own
    module): the face imports the API, and the API the front ends."""
    bad = []
    for module, path in MODULES.items():
        if module in ("gaussdiag", "gaussdiag.__main__"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "gaussdiag" \
                    and not node.level:
                names = [a.name for a in node.names if f"gaussdiag.{a.name}" not in MODULES]
                if names:  # `from gaussdiag import tolerance` is a module, not the face
                    bad.append((module, names))
            elif isinstance(node, ast.Import) and any(a.name == "gaussdiag" for a in node.names):
                bad.append((module, ["gaussdiag"]))
    assert not bad


@pytest.mark.parametrize("module", ["gaussdiag.attribute", "gaussdiag.frontends.python.run",
                                    "gaussdiag.frontends.python.problem", "gaussdiag.engine",
                                    "gaussdiag.pipeline", "gaussdiag.precision"])
def test_the_judge_and_the_python_front_end_load_no_yaml_machinery(module: str) -> None:
    code = (f"import sys, {module}\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'yaml') "
            "or m.startswith('gaussdiag.frontends.yaml'))\n"
            "print(' '.join(bad)); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def _candidate_sentences(text: str) -> list[str]:
    """The sentences (or clauses before a `;`) that list the candidates."""
    flat = " ".join(text.split())
    return [s for s in re.split(r"(?<=[.;])\s", flat) if "softplus_inv" in s]


# Backticked words in those paragraphs that are not candidate names.
_PROSE = {"p", "tol", "exp∘log", "1 - p", "transform", "param", "side", "cause", "∘", "factor"}


@pytest.mark.parametrize("doc", ["docs/spec.md", "README.md"])
def test_the_docs_list_every_candidate_and_no_other(doc: str) -> None:
    names = {c.name for c in CANDIDATES} | {scale_candidate(2.0).name}
    sentences = _candidate_sentences((ROOT / doc).read_text(encoding="utf-8"))
    assert sentences, f"{doc} lists no candidates"
    for sentence in sentences:
        words = {w.strip() for group in re.findall(r"`([^`]+)`", sentence)
                 for w in group.split(",")}
        words = {w for w in words if re.fullmatch(r"[a-z_]+", w)} - _PROSE
        assert words == names, (doc, sorted(words ^ names))


def test_every_output_format_has_a_renderer_and_a_help_line() -> None:
    from typer.testing import CliRunner

    from gaussdiag.cli import app

    assert set(RENDERERS) == set(OutputFormat)
    shown = " ".join(CliRunner().invoke(app, ["compare", "--help"],
                                        env={"COLUMNS": "200"}).output.split())
    for fmt in OutputFormat:
        assert fmt.help and f"{fmt.value} ({fmt.help})" in shown, fmt
