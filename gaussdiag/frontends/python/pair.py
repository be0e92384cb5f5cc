"""`gaussdiag.Pair` and Python pairs files: `gaussdiag compare pairs.py` imports the file
(trusted code, as pytest imports a test file) and diagnoses every module-level Pair."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gaussdiag.deadline import Stages, TimedOut, deadline, timed_out_report
from gaussdiag.errors import DeviceError, GaussdiagError, SpecError
from gaussdiag.frontends.python.guard import first_line, stops, user_failure
from gaussdiag.frontends.python.settings import check_keywords, settings
from gaussdiag.results import Located, SpecReport
from gaussdiag.workdir import why_missing

if TYPE_CHECKING:
    from gaussdiag.pipeline import Options, Progress


class Pair:
    """Two sides and the keywords of `gaussdiag.compare`, diagnosed when the CLI runs the file
    that defines it at module level (reported as `file.py::name`). With a switch, `b` may be
    left out: one side checked under its switches."""

    def __init__(self, a: Any, b: Any = None, **keywords: Any) -> None:
        check_keywords(keywords)
        settings(**keywords, single=b is None)  # fail at the Pair's line, not later
        self.a, self.b, self.keywords = a, b, keywords
        frame = sys._getframe(1)
        self.file, self.line = frame.f_code.co_filename, frame.f_lineno

    def __repr__(self) -> str:
        return f"Pair({getattr(self.a, '__qualname__', self.a)!r}, " \
               f"{getattr(self.b, '__qualname__', self.b)!r})"


def load_pairs(path: str) -> list[tuple[str, Pair]]:
    """Import `path` and return its module-level Pairs in definition order. The file's
    directory goes first on sys.path (pytest's `prepend` import), so it can import its
    neighbours, and the current directory after it, as `python -m pytest` has it, so a
    `tests/pairs.py` run from the project root imports the project's own modules. Raises
    SpecError located at the failing line."""
    if not os.path.isfile(path):
        raise SpecError(path, why_missing(path, "no such file"))
    module_name = Path(path).stem
    folder = os.path.dirname(os.path.abspath(path))
    searched = _search_path(folder)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SpecError(path, "cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except (KeyboardInterrupt, TimedOut):
        sys.modules.pop(module_name, None)
        raise
    except SyntaxError as err:
        sys.modules.pop(module_name, None)
        raise SpecError(path, f"cannot import: SyntaxError: {err.msg}", line=err.lineno) from None
    except BaseException as err:  # noqa: BLE001 - the user's file: one located message
        sys.modules.pop(module_name, None)
        raise SpecError(path, f"cannot import: {type(err).__name__}: {first_line(err)}"
                        f"{_not_found_hint(err, searched)}", line=_line_in(err, path)) from None
    pairs = [(name, v) for name, v in vars(module).items() if isinstance(v, Pair)]
    if not pairs:
        raise SpecError(path, "defines no gaussdiag.Pair at module level (e.g. "
                        "`pair = gaussdiag.Pair(a, b, params={...})`)")
    return pairs


def _search_path(folder: str) -> list[str]:
    """Put `folder`, then the current directory, at the front of sys.path (each unless it is
    already there); returns the two, for the hint when an import fails."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return list(dict.fromkeys((folder, cwd)))


def _not_found_hint(err: BaseException, searched: list[str]) -> str:
    """For a module the pairs file imports and Python cannot find: where it was looked for
    first, and the ways to make it findable."""
    if not isinstance(err, ModuleNotFoundError) or not err.name:
        return ""
    top = err.name.split(".")[0]
    return (f" (looked first in {' and '.join(searched)}: run gaussdiag from the folder that "
            f"holds `{top}`, add that folder to PYTHONPATH, or pip install the package that "
            "provides it)")


def diagnose_pairs_file(path: str, options: Options, progress: Progress | None = None
                        ) -> list[SpecReport]:
    """One report per Pair in the file, named `file.py::name`; a file that fails to import
    is one error report."""
    from gaussdiag.pipeline import located
    from gaussdiag.torch_import import import_torch

    import_torch()  # before the pairs file imports it
    seconds, source = options.bound()
    stages = Stages(progress, path)
    stages(f"{path}: importing the file")
    try:
        with deadline(seconds):  # the file's own code runs as it is imported
            pairs = load_pairs(path)
    except SpecError as err:
        return [SpecReport(file=path, name="", verdict=None, expect=None, ok=False,
                           error=str(err), line=err.line, error_at=located(err, path))]
    except TimedOut as stop:
        return [timed_out_report(file=path, name="", expect=None, seconds=stop.seconds,
                                 source=source, stages=stages)]
    return [_diagnose_pair(path, name, pair, options, progress) for name, pair in pairs]


def _diagnose_pair(path: str, name: str, pair: Pair, options: Options,
                   progress: Progress | None) -> SpecReport:
    """One Pair's report, within the bound: its error (the user's code raised, exited ...)
    located at the Pair's line, or a timed-out report."""
    from gaussdiag.frontends.python.run import run

    title = f"{Path(path).name}::{name}"
    keywords = {**pair.keywords, "name": title}
    if options.device is not None:
        keywords["device"] = options.device
    chosen = settings(**keywords, single=pair.b is None)
    chosen = type(chosen)(**{**vars(chosen), "file": path})
    seconds, source = options.bound()
    if progress:
        progress(f"{title}: starting")
    stages = Stages(progress, title)
    try:
        with deadline(seconds):
            report = run(pair.a, pair.b, chosen, options.threads, stages,
                         switches=options.switches, skip_absent=options.skip_absent_devices,
                         repro_dir=options.repro_dir)
    except TimedOut as stop:
        report = timed_out_report(file=path, name=title, expect=chosen.expect,
                                  seconds=stop.seconds, source=source, stages=stages)
    except DeviceError as err:
        pinned = "device" in pair.keywords and options.device is None
        if options.skip_absent_devices and pinned:
            report = SpecReport(file=path, name=title, verdict=None, expect=chosen.expect,
                                ok=True, skipped=str(err))
        else:
            report = _error(path, title, pair, chosen.expect, err)
    except GaussdiagError as err:
        report = _error(path, title, pair, chosen.expect, err)
    except BaseException as err:  # the user's code ran into the engine's own, or exited
        failure = None if stops(err) else user_failure(err)
        if failure is None:
            raise
        report = _error(path, title, pair, chosen.expect, failure)
    return _at_line(report, pair.line)


def _error(path: str, title: str, pair: Pair, expect: Any, err: Exception) -> SpecReport:
    name = title.split("::")[-1]
    return SpecReport(file=path, name=title, verdict=None, expect=expect, ok=False,
                      error=f"{path}:{pair.line}: {name}: {err}",
                      error_at=(Located(path, pair.line, name, str(err)),))


def _at_line(report: SpecReport, line: int) -> SpecReport:
    from dataclasses import replace

    return replace(report, line=line)


def _line_in(err: BaseException, path: str) -> int | None:
    """The deepest traceback line in `path` itself."""
    target = os.path.abspath(path)
    tb, line = err.__traceback__, None
    while tb is not None:
        if os.path.abspath(tb.tb_frame.f_code.co_filename) == target:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line

