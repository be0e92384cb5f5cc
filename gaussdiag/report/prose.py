"""Prose that wraps to the console width without ever breaking a `code span`: the span moves
to the next line whole (a fix the reader copies must stay one piece)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text

# a code span with its spaces is one word; elsewhere words end at spaces
_WORD = re.compile(r"`[^`]*`\S*|\S+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def wrap(text: str, width: int) -> Iterator[str]:
    """Greedy wrap at `width` columns, code spans kept whole; newlines in `text` are kept."""
    for paragraph in text.split("\n"):
        line = ""
        for word in _words(paragraph):
            if line and len(line) + 1 + len(word) > width:
                yield line
                line = word
            else:
                line = f"{line} {word}" if line else word
        yield line


class Prose:
    """`label` in bold, then `text`, wrapped by `wrap` at render time (so COLUMNS counts)."""

    def __init__(self, text: str, label: str = "", style: str = "") -> None:
        self.text = text
        self.label = label
        self.style = style

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        full = self.label + self.text
        for i, line in enumerate(wrap(full, max(1, options.max_width))):
            out = Text(line, style=self.style, no_wrap=True, overflow="fold")
            if i == 0 and self.label and line.startswith(self.label):
                out.stylize("bold", 0, len(self.label))
            yield out

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        longest = max((len(w) for w in _words(self.label + self.text)), default=0)
        return Measurement(longest, len(self.label + self.text))
