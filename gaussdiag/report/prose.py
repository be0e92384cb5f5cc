"""Text that fits the console width at render time: prose that wraps without ever breaking a
`code span` (the span moves to the next line whole: a fix the reader copies must stay one
piece), and a list of numbers that shows as many entries as fit."""

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


def _fold(line: str, width: int) -> Iterator[str]:
    # a word wider than the console (a long fix on a narrow terminal) is split rather than
    # cropped: the reader then sees all of it
    for start in range(0, max(1, len(line)), width):
        yield line[start:start + width]


class Prose:
    """`label` in bold, then `text`, wrapped by `wrap` at render time (so COLUMNS counts);
    lines after the first hang under the text, past the label."""

    def __init__(self, text: str, label: str = "", style: str = "") -> None:
        self.text = text
        self.label = label
        self.style = style

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(1, options.max_width)
        # hang only while that leaves room for a sensible line
        indent = " " * len(self.label) if len(self.label) * 3 <= width else ""
        first = True
        for line in wrap(self.text, max(1, width - len(self.label))):
            lead = self.label if first else indent
            room = width - len(lead) if len(lead) < width else width
            for i, piece in enumerate(_fold(line, room)):
                out = Text((lead if i == 0 else indent) + piece, style=self.style,
                           no_wrap=True, overflow="crop")
                if first and i == 0 and self.label:
                    out.stylize("bold", 0, len(self.label))
                yield out
            first = False

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        longest = max((len(w) for w in _words(self.text)), default=0) + len(self.label)
        return Measurement(min(longest, options.max_width), len(self.label + self.text))


def values(xs: tuple[float, ...], count: int, more: bool = False) -> str:
    """The first `count` of `xs` to 4 significant digits, `…` marking what is left out
    (`more`: `xs` is itself the head of a longer list)."""
    shown = ", ".join(f"{x:.4g}" for x in xs[:count])
    return "[" + shown + (", …]" if more or count < len(xs) else "]")


class Values:
    """A list of numbers in a table cell: as many entries as fit the column, then `…`, so a
    narrow terminal shows fewer numbers instead of one number a line."""

    def __init__(self, xs: tuple[float, ...], more: bool = False) -> None:
        self.xs = xs
        self.more = more

    def _text(self, width: int) -> str:
        count = len(self.xs)
        while count > 1 and len(values(self.xs, count, self.more)) > width:
            count -= 1
        return values(self.xs, count, self.more)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(self._text(options.max_width), no_wrap=True, overflow="fold")

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        least = values(self.xs, min(1, len(self.xs)), self.more)
        return Measurement(len(least), len(self._text(10**6)))
