"""Loading a spec: the bytes of a file -> a validated `LoadedSpec`, or a located `SpecError`.

Stages: read the bytes; compose YAML nodes with a safe loader and build the Python values
(`document`: YAML 1.2 scalars, duplicate keys, tags, merge keys, alias expansion and depth
all checked); the version; the pydantic models, with their errors mapped back to key paths and lines
(`messages`); the cross-field rules the models cannot express (`checks`). A stage that
fails stops loading. The model and cross-field stages report every problem they find, in
document order; reading and YAML stop at the first (what follows cannot be trusted).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import yaml

from gaussdiag.engine.switch import parse_switch
from gaussdiag.errors import SpecError
from gaussdiag.frontends.yaml.spec.checks import cross_field_problems
from gaussdiag.frontends.yaml.spec.document import NULL_TAG, Document, compose, describe, show
from gaussdiag.frontends.yaml.spec.located import (
    KeyPath,
    format_path,
    nearest,
    parse_dotted,
    spec_error,
)
from gaussdiag.frontends.yaml.spec.messages import validate_collecting
from gaussdiag.frontends.yaml.spec.models import Spec
from gaussdiag.limits import DEFAULT_MAX_ELEMENTS
from gaussdiag.workdir import why_missing

MAX_FILE_BYTES = 1 << 20
TOP_LEVEL_HINT = "expected a mapping with keys version, params, a, b, ..."


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec with what is needed to point at its lines in later errors."""

    spec: Spec
    file: str  # as given by the user, for messages
    lines: Mapping[KeyPath, int]  # key path -> 1-based line of its key (or list item)
    # ... and its 1-based column
    columns: Mapping[KeyPath, int] = field(default_factory=lambda: MappingProxyType({}))

    def line_of(self, path: KeyPath) -> int | None:
        """Line of `path`, or of its nearest ancestor that has one."""
        return nearest(self.lines, path)

    def error(self, path: KeyPath | str, message: str) -> SpecError:
        """A `SpecError` located at `path` (a tuple, or dotted text like `a.args.scale`)."""
        keys = parse_dotted(path, self.lines) if isinstance(path, str) else path
        marks = {p: (line, self.columns.get(p)) for p, line in self.lines.items()}
        mark = nearest(marks, keys) or marks.get(())  # else the top-level mapping
        line, col = (None, None) if mark is None else mark
        return spec_error(self.file, message, key=format_path(keys) or None, line=line, col=col)

    def device_error(self, err: Exception, override: str | None) -> SpecError:
        """An absent device, at the `device:` key that pinned it: the spec's own (unless
        `override`, the command line's choice, replaced it), else a side's."""
        spec, message = self.spec, str(err)
        pinned: list[tuple[KeyPath, str]] = []
        if override is None and "device" in spec.model_fields_set:
            pinned.append((("device",), spec.device))
        pinned += [((s.value, "device"), d) for s in spec.sides if (d := spec.side(s).device)]
        for index, name in enumerate(spec.switches):  # a switch's device: at its item
            if message.startswith(f"switch {parse_switch(name).name}: "):
                return self.error(("switches", index), message)
        for path, device in pinned:
            if f"'{device}'" in message:  # the message names the device it could not find
                return self.error(path, message)
        return spec_error(self.file, message)


def load_spec(path: str | Path, *, max_elements: int = DEFAULT_MAX_ELEMENTS,
              switched: bool = False) -> LoadedSpec:
    """Read, parse and validate a spec file; any problem is one `SpecError`. `switched`: the
    command line names switches, so a spec may write side a alone without its own."""
    file = str(path)
    p = Path(path)
    try:
        if p.is_dir():
            raise spec_error(file, "is a directory, expected a YAML spec file")
        with p.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise spec_error(file, _too_big(size))
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise spec_error(file, why_missing(file, "file not found")) from None
    except IsADirectoryError:
        raise spec_error(file, "is a directory, expected a YAML spec file") from None
    except PermissionError:
        raise spec_error(file, "cannot read the file: permission denied") from None
    except OSError as err:
        raise spec_error(file, f"cannot read the file: {err.strerror or err}") from None
    if len(data) > MAX_FILE_BYTES:
        raise spec_error(file, _too_big(len(data)))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        start = data.rfind(b"\n", 0, err.start) + 1
        col = len(data[start:err.start].decode("utf-8", "replace")) + 1
        raise spec_error(file, f"not UTF-8 text (byte 0x{data[err.start]:02x} cannot be "
                              "decoded): save the file as UTF-8", line=line, col=col) from None
    return load_spec_text(text, file, max_elements=max_elements, switched=switched)


def load_spec_text(text: str, file: str, *, max_elements: int = DEFAULT_MAX_ELEMENTS,
                   switched: bool = False) -> LoadedSpec:
    """Parse and validate spec text; `file` is only used in messages and for the default name."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise spec_error(file, _too_big(size))
    doc = Document(file, text)
    root = compose(text, doc)
    if root is None or (isinstance(root, yaml.ScalarNode) and root.value == ""
                        and root.tag == NULL_TAG):
        raise spec_error(file, f"empty file: {TOP_LEVEL_HINT}")
    if not isinstance(root, yaml.MappingNode):
        found = describe(doc.construct(root, ()))
        raise spec_error(file, f"{TOP_LEVEL_HINT}, found {found}",
                         line=root.start_mark.line + 1, col=root.start_mark.column + 1)
    doc.marks[()] = (root.start_mark.line, root.start_mark.column)  # the top-level mapping
    data = doc.construct(root, ())
    assert isinstance(data, dict)

    if "version" in data:
        version = data["version"]
        if isinstance(version, (int, float)) and not isinstance(version, bool):
            if type(version) is not int or version != 1:
                raise doc.error(("version",), f"unsupported spec version {show(version)} "
                                              "(this gaussdiag reads version 1)")
        else:
            raise doc.error(("version",), f"expected the number 1, found {describe(version)}")

    spec, problems = validate_collecting(data, doc)
    if spec is not None:
        if not spec.name:
            spec = spec.model_copy(update={"name": Path(file).stem})
        problems += cross_field_problems(spec, data, doc, max_elements, switched=switched)
    if problems:
        raise doc.errors(problems)
    assert spec is not None
    lines = {path: mark[0] + 1 for path, mark in doc.marks.items()}
    columns = {path: mark[1] + 1 for path, mark in doc.marks.items()}
    return LoadedSpec(spec=spec, file=file, lines=MappingProxyType(lines),
                      columns=MappingProxyType(columns))


def _too_big(size: int) -> str:
    return (f"file is {size / (1 << 20):.1f} MiB, larger than the "
            f"{MAX_FILE_BYTES >> 20} MiB limit for a spec")
