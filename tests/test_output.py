"""The one output writer (`gaussdiag.output`): what it replaces, what it writes through, and
that every failure is one UsageError naming the path and the reason, with no temp file left.
The CLI-level cases (exit 2, one line) run `gaussdiag` in a subprocess."""

from __future__ import annotations

import errno
import io
import os
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gaussdiag.errors import UsageError
from gaussdiag.output import guarded_stdout, write_atomic, write_text

ROOT = Path(__file__).parent.parent
TEXT = '{"ok": true}\n'


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".gaussdiag-")]


@contextmanager
def _unwritable(path: Path) -> Iterator[None]:
    """Make `path` unwritable: immutable (chattr +i) as root, who ignores modes; else chmod."""
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(path)],
                                            capture_output=True).returncode:
            pytest.skip("running as root without chattr +i on this file system")
        try:
            yield
        finally:
            subprocess.run([chattr, "-i", str(path)], check=True)
        return
    old = path.stat().st_mode
    path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        yield
    finally:
        path.chmod(old)


def _refused(path: str | Path, *reason: str) -> str:
    with pytest.raises(UsageError) as info:
        write_atomic(path, TEXT)
    message = str(info.value)
    assert all(part in message for part in reason), message
    assert "\n" not in message
    return message


# ---- what it writes -------------------------------------------------------------------------


def test_new_file_gets_the_plain_open_mode_and_no_temp_stays(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    write_atomic(target, TEXT)
    assert target.read_text() == TEXT
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert _leftovers(tmp_path) == []


def test_existing_file_is_replaced_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("old, and longer than the new text\n")
    target.chmod(0o640)
    write_atomic(target, TEXT)
    assert target.read_text() == TEXT
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_symlink_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "sub" / "real.json"
    real.parent.mkdir()
    real.write_text("old\n")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_atomic(link, TEXT)
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert real.read_text() == TEXT
    assert _leftovers(tmp_path) == [] and _leftovers(real.parent) == []


def test_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "new.json")
    write_atomic(link, TEXT)
    assert link.is_symlink() and (tmp_path / "new.json").read_text() == TEXT


def test_dev_null_is_written_through_not_replaced() -> None:
    write_atomic("/dev/null", TEXT)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_fifo_is_written_through_to_its_reader(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, TEXT)
    reader.join(timeout=30)
    assert got == [TEXT.encode()]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("prefix", ["/dev/fd", "/proc/self/fd"])
def test_descriptor_path_appends_to_the_open_file(tmp_path: Path, prefix: str) -> None:
    target = tmp_path / "stdout.txt"
    with target.open("w") as fh:
        fh.write("table\n")
        fh.flush()
        inode = target.stat().st_ino
        write_atomic(f"{prefix}/{fh.fileno()}", TEXT)
    assert target.read_text() == "table\n" + TEXT  # after what was there, same file
    assert target.stat().st_ino == inode
    assert _leftovers(tmp_path) == []


def test_descriptor_path_writes_into_a_pipe() -> None:
    read_end, write_end = os.pipe()
    try:
        write_atomic(f"/proc/self/fd/{write_end}", TEXT)
        assert os.read(read_end, 1000) == TEXT.encode()
    finally:
        os.close(read_end)
        os.close(write_end)


def test_name_at_name_max_works(tmp_path: Path) -> None:
    # the temp name is short and fixed, so the longest legal name does not fail on it
    name = "a" * (os.pathconf(tmp_path, "PC_NAME_MAX") - 5) + ".json"
    write_atomic(tmp_path / name, TEXT)
    assert (tmp_path / name).read_text() == TEXT


# ---- what it refuses ------------------------------------------------------------------------


def test_directory_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, str(tmp_path), "is a directory")
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("name", ["", ".", "..", "sub/"], ids=["empty", "dot", "dotdot", "slash"])
def test_folder_names_and_empty_are_refused(name: str) -> None:
    _refused(name, "cannot write")


def test_missing_folder_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path / "nope" / "r.json", "folder", "does not exist")


def test_read_only_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    with _unwritable(folder):
        _refused(folder / "r.json", str(folder / "r.json"), "not permitted" if os.geteuid() == 0
                 else "permission denied")
        assert list(folder.iterdir()) == []


def test_unwritable_file_is_refused_and_kept(tmp_path: Path) -> None:
    target = tmp_path / "keep.json"
    target.write_text("precious\n")
    with _unwritable(target):
        _refused(target, str(target))
    assert target.read_text() == "precious\n"
    assert _leftovers(tmp_path) == []


def test_name_longer_than_name_max_is_refused(tmp_path: Path) -> None:
    name = "a" * (os.pathconf(tmp_path, "PC_NAME_MAX") + 1)
    _refused(tmp_path / name, "file name too long")
    assert _leftovers(tmp_path) == []


def test_dev_full_is_refused() -> None:
    _refused("/dev/full", "/dev/full", "no space left on device")


def test_interrupt_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(fd: int, data: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "r.json", TEXT)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_file_size_limit_is_refused_in_a_child(tmp_path: Path) -> None:
    code = (
        "import resource, signal, sys\n"
        "from gaussdiag.errors import UsageError\n"
        "from gaussdiag.output import write_atomic\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))\n"
        "try:\n"
        "    write_atomic(sys.argv[1], 'x' * 1000)\n"
        "except UsageError as exc:\n"
        "    print(exc)\n"
    )
    target = tmp_path / "r.json"
    r = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True,
                       text=True, cwd=ROOT, timeout=60)
    assert r.stdout.strip() == f"cannot write {target}: file too large", r.stderr
    assert list(tmp_path.iterdir()) == []


# ---- standard output ------------------------------------------------------------------------


class _FullStream(io.StringIO):
    def flush(self) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_failing_stdout_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", _FullStream())
    with pytest.raises(UsageError, match="standard output: no space left on device"):
        write_text("-", TEXT)


def test_guarded_stdout_turns_a_late_flush_into_a_usage_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    full = _FullStream()
    monkeypatch.setattr(sys, "stdout", full)
    with pytest.raises(UsageError, match="standard output"), guarded_stdout():
        sys.stdout.write("a table")  # buffered: fails only when flushed at the block's end
    assert sys.stdout is full


# ---- through the CLI ------------------------------------------------------------------------


def _gd(*args: str, stdout: int | None = subprocess.PIPE,
        prelude: str = "") -> subprocess.CompletedProcess[str]:
    code = f"import sys\n{prelude}from gaussdiag.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", code, *args], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env, timeout=300)


def _one_error(r: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot write"), r.stderr
    assert all(part in lines[0] for part in parts), r.stderr


_FSIZE = ("import resource, signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
          "resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))\n")
_COMPARE = ("compare", "configs/mvn_diag_fixed.yaml", "--json")


def test_init_refusals_are_one_line_exit_2(tmp_path: Path) -> None:
    long_name = str(tmp_path / ("n" * 300))
    _one_error(_gd("init", long_name), "file name too long")
    _one_error(_gd("init", str(tmp_path / "spec"), prelude=_FSIZE), "file too large")
    with open("/dev/full", "w") as full:
        _one_error(_gd("init", "-", stdout=full.fileno()), "standard output",
                   "no space left on device")
    assert list(tmp_path.iterdir()) == []


def test_compare_json_refusals_are_one_line_exit_2(tmp_path: Path) -> None:
    _one_error(_gd(*_COMPARE, str(tmp_path)), str(tmp_path), "is a directory")
    _one_error(_gd(*_COMPARE, str(tmp_path / "r.json"), prelude=_FSIZE), "file too large")
    with open("/dev/full", "w") as full:
        _one_error(_gd(*_COMPARE, "-", stdout=full.fileno()), "standard output")
    assert list(tmp_path.iterdir()) == []


def test_compare_json_to_dev_fd_1_follows_the_table() -> None:
    r = _gd(*_COMPARE, "/dev/fd/1")
    assert r.returncode == 0, r.stderr
    table, _, rest = r.stdout.partition("{")
    assert "mvn" in table and rest.rstrip().endswith("}"), r.stdout
