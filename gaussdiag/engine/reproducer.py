"""A standalone script that reproduces a compile mismatch, to attach to a bug report.

Of the graphs torch.compile captured from the side in float64 (engine/compiled.py), the one
whose compiled outputs or gradients differ most from eager is written out: its FX code as
a module, its inputs embedded (base64 of `torch.save`), the backend's own module imported
when it is not torch's. The script needs torch alone. Run, it prints the normwise relative
difference of every output and gradient between eager and compiled, and exits 1 when the
largest exceeds the threshold written in it (the gap reproduces), else 0. The same text,
executed here, chooses the graph, so what the report promises is what the script shows.
"""

from __future__ import annotations

import base64
import io
import os
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

from gaussdiag.engine.compiled import Compiled, Graph, quiet_compiler
from gaussdiag.errors import GaussdiagError, UsageError
from gaussdiag.output import write_atomic
from gaussdiag.vocab import DType

# Names FX's generated code may use without importing them (torch.fx.graph's builtins).
_BUILTIN = ("inf", "nan", "NoneType", "torch", "device", "fx_pytree", "pytree")

_HEAD = '''"""{title}

torch.compile with backend {backend!r} changes what this graph computes, in float64: one of
the {count} graph(s) torch.compile captured from it, written out with its inputs by
gaussdiag. Run `python {name}`: it prints the normwise relative difference
max|eager - compiled| / max(max|eager|, max|compiled|) of each output and of the gradient of
their sum, and exits 1 when one exceeds {threshold:.3g} (the gap reproduces), else 0.
Written with torch {torch}.
"""

import base64
import importlib
import importlib.util
import io
import sys

import torch
import torch.fx._pytree as fx_pytree
import torch.utils._pytree as pytree
from torch import device

inf, nan, NoneType = float("inf"), float("nan"), type(None)
THRESHOLD = {threshold!r}
BACKEND = {backend!r}


def _attr(module, qualname):
    out = importlib.import_module(module)
    for part in qualname.split("."):
        out = getattr(out, part)
    return out


def _load(module, path):
    """The module that registers the backend with torch._dynamo.register_backend."""
    try:
        importlib.import_module(module)
    except ImportError:
        spec = importlib.util.spec_from_file_location(module.rpartition(".")[2], path)
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)

'''

_TAIL = '''

class Graph(torch.nn.Module):
    def __init__(self, attrs):
        super().__init__()
        for path, value in attrs.items():
            *parents, leaf = path.split(".")
            owner = self
            for part in parents:
                if not hasattr(owner, part):
                    owner.add_module(part, torch.nn.Module())
                owner = getattr(owner, part)
            owner.register_buffer(leaf, value)
{forward}

DATA = {data!r}


def normwise(a, b):
    a, b = a.detach().double(), b.detach().double()
    if a.numel() == 0:
        return 0.0
    scale = max(float(a.abs().max()), float(b.abs().max()))
    diff = float(torch.where(a == b, 0.0, (a - b).abs()).max())
    if diff != diff or scale != scale:
        return float("nan")
    return 0.0 if diff == 0 else diff / scale if scale else 0.0


def run(fn, inputs, grads):
    args = [t.detach().clone().requires_grad_(True) if g else t
            for t, g in zip(inputs, grads)]
    out = fn(*args)
    outs = [o for o in (out if isinstance(out, (tuple, list)) else [out])
            if isinstance(o, torch.Tensor)]
    leaves = [a for a, g in zip(args, grads) if g]
    tracked = [o for o in outs if o.is_floating_point() and o.requires_grad]
    found = []
    if tracked and leaves:
        total = sum(o.sum() for o in tracked)
        found = list(torch.autograd.grad(total, leaves, allow_unused=True))
    return outs, found


def measure():
    """[(what, difference)] between eager and compiled, outputs then gradients."""
    saved = torch.load(io.BytesIO(base64.b64decode(DATA)), weights_only=True)
    graph = Graph(saved["attrs"])
    inputs, grads = saved["inputs"], saved["grads"]
    eager = run(graph.forward, inputs, grads)
    compiled = run(torch.compile(graph, backend=BACKEND), inputs, grads)
    rows = [(f"output {{i}}", normwise(e, c))
            for i, (e, c) in enumerate(zip(eager[0], compiled[0]))]
    names = [i for i, g in enumerate(grads) if g]
    rows += [(f"gradient of input {{names[i]}}", normwise(e, c))
             for i, (e, c) in enumerate(zip(eager[1], compiled[1]))
             if e is not None and c is not None]
    return rows


def main():
    rows = measure()
    for what, diff in rows:
        print(f"{{what}}: eager and compiled differ by {{diff:.6g}}")
    worst = max((d for _, d in rows), default=0.0)
    reproduced = not worst <= THRESHOLD
    print(f"largest difference {{worst:.3g}} against the threshold {{THRESHOLD:.3g}}: "
          + ("the gap reproduces" if reproduced else "no gap"))
    return 1 if reproduced else 0


if __name__ == "__main__":
    sys.exit(main())
'''


@dataclass(frozen=True)
class Reproducer:
    """The script written (None when none could be) and a sentence about it for the report."""

    path: str | None
    note: str


def repro_folder(path: Any, what: str) -> str:
    """`path` (str or os.PathLike) as the folder reproducers are written to, absolute;
    GaussdiagError naming `what` when it is no path or an existing file. Made when the first
    reproducer is written, not before."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise GaussdiagError(f"{what} must be a folder's path, found {type(path).__name__}")
    folder = os.path.abspath(os.fspath(path))
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise GaussdiagError(f"{what}: {folder} exists and is not a folder")
    return str(folder)


def write_reproducer(state: Compiled, *, title: str, threshold: float,
                     directory: str | None, stem: str) -> Reproducer:
    """Write the float64 graph whose compiled run differs most from eager; `threshold` is
    the difference the script calls a reproduced gap."""
    graphs = state.graphs.get(DType.FLOAT64, [])
    scripts = [text for g in graphs if (text := _script(g, state.backend, title, threshold,
                                                        len(graphs), stem)) is not None]
    if not scripts:
        return Reproducer(None, "no standalone reproducer: torch.compile captured no graph "
                          "that can be written out on its own (submodules or unknown names)")
    measured = []
    for text in scripts:
        with quiet_compiler():
            rows = _namespace(text)["measure"]()
        measured.append((max((d for _, d in rows), default=0.0), text))
    worst, text = max(measured, key=lambda m: -1.0 if m[0] != m[0] else m[0])
    if not worst > threshold:
        return Reproducer(None, f"no standalone reproducer: none of the {len(graphs)} graph(s) "
                          "torch.compile captured differs on its own; the gap comes from how "
                          "they are joined")
    try:
        folder = directory or tempfile.mkdtemp(prefix="gaussdiag-repro-")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{stem}.py")
        write_atomic(path, text)  # the project's one writer: never a half-written script
    except OSError as err:  # a folder that vanished or turned read-only: the verdict stands
        return Reproducer(None, f"the reproducer could not be written ({err.strerror or err}: "
                          f"{err.filename or directory})")
    except UsageError as err:  # write_atomic's words name the file and the reason
        return Reproducer(None, f"the reproducer could not be written ({err})")
    return Reproducer(path, f"a standalone script reproduces it (difference {worst:.3g} in "
                      f"one graph, torch alone): python {path}")


def _namespace(text: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "gaussdiag_reproducer"}
    exec(compile(text, "<reproducer>", "exec"), namespace)  # noqa: S102 - our own script
    return namespace


def _script(graph: Graph, backend: str, title: str, threshold: float, count: int,
            stem: str) -> str | None:
    """The script for one graph, or None when it cannot stand alone."""
    import torch

    gm = graph.module
    if any(node.op == "call_module" for node in gm.graph.nodes):
        return None
    attrs = {}
    for node in gm.graph.nodes:
        if node.op == "get_attr":
            value = _get(gm, str(node.target))
            if not isinstance(value, torch.Tensor):
                return None
            attrs[str(node.target)] = value.detach().clone()
    imports = _imports(gm.graph.python_code(root_module="self").globals)
    if imports is None:
        return None
    inner = torch._dynamo.lookup_backend(backend)
    module = getattr(inner, "__module__", "") or ""
    if module and module != "torch" and not module.startswith("torch."):
        path = getattr(sys.modules.get(module), "__file__", None) or ""
        imports.append(f"_load({module!r}, {path!r})")
    buf = io.BytesIO()
    torch.save({"inputs": graph.inputs, "grads": graph.grads, "attrs": attrs}, buf)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    forward = "\n".join("    " + line if line.strip() else "" for line in
                        gm.code.strip("\n").splitlines())
    head = _HEAD.format(title=title, backend=backend, count=count, name=f"{stem}.py",
                        threshold=threshold, torch=torch.__version__)
    return head + "\n".join(imports) + _TAIL.format(forward=forward, data=data)


def _get(root: Any, path: str) -> Any:
    out = root
    for part in path.split("."):
        out = getattr(out, part)
    return out


def _imports(names: dict[str, Any]) -> list[str] | None:
    """Lines binding the names FX's code uses beyond its builtins; None when one cannot be
    imported by name (a local function)."""
    lines = []
    for name, value in names.items():
        if name in _BUILTIN:
            continue
        module = getattr(value, "__module__", None)
        qual = getattr(value, "__qualname__", None)
        if hasattr(value, "__spec__") and getattr(value, "__name__", None):  # a module
            lines.append(f"{name} = importlib.import_module({value.__name__!r})")
        elif module and qual and "<" not in qual:
            lines.append(f"{name} = _attr({module!r}, {qual!r})")
        else:
            return None
    return lines
