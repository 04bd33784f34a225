"""The console's terminal emulator: a command's pty output in, styled lines for its scrollback out.

Each console command runs on a pty (`tutor.lab.runner`), so what it prints is what a terminal
would get: `\\r` rewriting a line, erase-line, colours, cursor moves. `Terminal` feeds it to a
`pyte` screen of the console's size (pyte is a VT emulator: it wraps long lines at the width and
interprets every escape sequence itself) and hands back two things: the lines that scrolled off
the top (final) and the rows of the screen as they stand now (they may still change).

Nothing the lab prints reaches the real terminal as a control: only the characters pyte left in
its cells are shown, and each run of them still goes through `tutor.sanitize.cell` (a C1 or
bidi character pyte drew as text). A title or clipboard sequence (OSC 0, OSC 52) is consumed by
pyte and dropped here; colours become Rich styles on the cells they paint.

Made in the console's worker thread (pyte is pure Python: a flood costs CPU there, not in the
UI thread); imports Rich but no Textual.
"""

from __future__ import annotations

from collections import deque
from functools import lru_cache

import pyte
from rich.style import Style

from tutor.sanitize import cell

Span = tuple[int, int, Style]


class StyledLine(str):
    """One line of the scrollback: its text, and the styles painted on parts of it."""
    spans: tuple[Span, ...] = ()

    @classmethod
    def make(cls, text: str, spans: tuple[Span, ...]) -> StyledLine:
        line = cls(text)
        line.spans = spans
        return line


class _Screen(pyte.Screen):
    """A pyte screen that keeps the rows scrolled off its top (at most `keep`; it counts the
    others) instead of forgetting them."""

    def __init__(self, columns: int, lines: int, keep: int):
        super().__init__(columns, lines)
        self.scrolled: deque = deque(maxlen=keep)
        self.lost = 0

    def index(self) -> None:
        top, bottom = self.margins or pyte.screens.Margins(0, self.lines - 1)
        if top == 0 and self.cursor.y == bottom:
            if len(self.scrolled) == self.scrolled.maxlen:
                self.lost += 1
            self.scrolled.append(self.buffer[top])   # pyte drops the row: no copy needed
        super().index()

    def set_title(self, param: str) -> None:
        """OSC 0/2: a program's window title is not ours to set (dropped)."""

    def set_icon_name(self, param: str) -> None:
        """OSC 1: dropped, as the title."""

    def alignment_display(self) -> None:
        """DECALN (`ESC # 8`, fill the screen with E: a test pattern) is dropped."""

    def set_mode(self, *modes: int, **kwargs) -> None:
        """As pyte's, but 132-column mode (DECCOLM) is ignored: the width is the console's."""
        super().set_mode(*_no_deccolm(modes, kwargs), **kwargs)

    def reset_mode(self, *modes: int, **kwargs) -> None:
        """As pyte's, without DECCOLM (see `set_mode`)."""
        super().reset_mode(*_no_deccolm(modes, kwargs), **kwargs)


def _no_deccolm(modes: tuple[int, ...], kwargs: dict) -> tuple[int, ...]:
    if not kwargs.get("private"):
        return modes
    return tuple(mode for mode in modes if mode << 5 != pyte.modes.DECCOLM)


class Terminal:
    """One command's screen: `feed` it the pty's text, `take` what to show."""

    def __init__(self, columns: int, lines: int, keep: int = 2000):
        self.screen = _Screen(max(columns, 2), max(lines, 2), keep)
        self.stream = pyte.Stream(self.screen)
        # a newline also returns the carriage: the pty's output has \r\n anyway, and the
        # runner's own notes (a lab that could not run the command) end in a bare \n
        self.screen.set_mode(pyte.modes.LNM)

    def resize(self, columns: int, lines: int) -> None:
        """The console changed size (the pty's size changes with it, `CommandRunner.resize`)."""
        if (columns, lines) != (self.screen.columns, self.screen.lines):
            self.screen.resize(max(lines, 2), max(columns, 2))

    def feed(self, text: str) -> None:
        """What the command printed (decoded text, controls and all)."""
        self.stream.feed(text)

    def take(self) -> tuple[list[str], int, list[str]]:
        """(the lines that scrolled off the top since the last `take`, how many more scrolled
        off than were kept, the screen's rows down to the last one written)."""
        screen = self.screen
        scrolled: list[str] = [_render(row, screen.columns) for row in screen.scrolled]
        lost, screen.lost = screen.lost, 0
        screen.scrolled.clear()
        cursor = screen.cursor
        last = cursor.y - 1 if cursor.x == 0 else cursor.y   # a finished line ends before the cursor
        rows: list[str] = [_render(screen.buffer[y], screen.columns) if y in screen.buffer else ""
                for y in range(screen.lines)]
        for y in range(screen.lines - 1, -1, -1):
            if rows[y] or y <= last:
                return scrolled, lost, rows[:y + 1]
        return scrolled, lost, []


def _render(row, columns: int) -> StyledLine:
    """One pyte row as a StyledLine: runs of equal style, trailing blanks dropped."""
    chars = [row[x] for x in range(columns)]
    while chars and chars[-1].data in (" ", "") and chars[-1].bg == "default" \
            and not (chars[-1].reverse or chars[-1].underscore):
        chars.pop()
    parts: list[str] = []
    spans: list[Span] = []
    at, key = 0, None
    run: list[str] = []
    for char in chars:
        k = (char.fg, char.bg, char.bold, char.italics, char.underscore, char.strikethrough, char.reverse)
        if k != key:
            at = _flush(parts, spans, run, key, at)
            run, key = [], k
        run.append(char.data)
    _flush(parts, spans, run, key, at)
    return StyledLine.make("".join(parts), tuple(spans))


def _flush(parts: list[str], spans: list[Span], run: list[str], key, at: int) -> int:
    if not run:
        return at
    text = cell("".join(run))   # whatever pyte drew as text, controls shown (not acted on)
    parts.append(text)
    style = _style(key)
    if style is not None:
        spans.append((at, at + len(text), style))
    return at + len(text)


@lru_cache(maxsize=512)
def _style(key) -> Style | None:
    fg, bg, bold, italic, underline, strike, reverse = key
    if (fg, bg) == ("default", "default") and not (bold or italic or underline or strike or reverse):
        return None
    return Style(color=_color(fg), bgcolor=_color(bg), bold=bold or None, italic=italic or None,
                 underline=underline or None, strike=strike or None, reverse=reverse or None)


def _color(name: str) -> str | None:
    """pyte's colour names ("red", "brightbrown", "ff00d7") as Rich's ("red", "bright_yellow",
    "#ff00d7")."""
    bright = name.startswith("bright")
    base = _ANSI.get(name[6:] if bright else name)
    if base:
        return "bright_" + base if bright else base
    if len(name) == 6 and all(c in "0123456789abcdefABCDEF" for c in name):
        return "#" + name
    return None   # "default", or nothing a colour can be made of


_ANSI = {"black": "black", "red": "red", "green": "green", "brown": "yellow", "blue": "blue",
         "magenta": "magenta", "cyan": "cyan", "white": "white"}
