"""The console's scrollback: a Textual `Log` whose tail can be a live terminal screen.

A running command's output arrives as terminal lines (`tutor.app.vterm`): some final (they
scrolled off its screen), and the screen's rows, which may still change (curl rewriting a line,
ping adding one). `show_live` puts the final ones in for good and replaces the previous screen
rows with the new ones; `end_live` keeps the last screen as it stands. A line may carry colours
(`StyledLine.spans`); plain lines are drawn as by `Log`, with its highlighter.

The scrollback is capped at `scrollback` lines here (not by `Log.max_lines`), so the live rows
keep their place when old lines go.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip
from textual.widgets import Log

from tutor.app.widgets.steady import SteadySize


class TermLog(SteadySize, Log):
    """A Log with a live tail (the running command's screen) and coloured lines."""

    def __init__(self, scrollback: int, **kwargs):
        super().__init__(max_lines=None, **kwargs)
        self.scrollback = scrollback
        self._live: int | None = None   # index of the first live row; None: no command shows
        self._live_rows = 0

    def write(self, data: str, scroll_end: bool | None = None) -> TermLog:
        """`Log.write`, then the scrollback's cap."""
        super().write(data, scroll_end)
        self._prune()
        return self

    def clear(self) -> TermLog:
        """Empty the scrollback (Ctrl+L, `clear`); a running command's rows start again below."""
        super().clear()
        if self._live is not None:
            self._live, self._live_rows = 0, 0
        return self

    def begin_live(self) -> None:
        """A command starts: its rows go at the end, on the line the cursor is on."""
        if not self._lines or self._lines[-1] != "":
            self._lines.append("")
        self._live, self._live_rows = len(self._lines) - 1, 0

    def show_live(self, final: Sequence[str], screen: Sequence[str]) -> None:
        """Add `final` lines for good and show `screen` as the live rows (replacing the last)."""
        if self._live is None:
            self.begin_live()
        assert self._live is not None
        start = self._live
        if start + self._live_rows >= len(self._lines):
            self._lines.append("")   # the line after the rows (`Log.write` goes on from there)
        self._lines[start:start + self._live_rows] = [*final, *screen]
        self._live, self._live_rows = start + len(final), len(screen)
        widest = max((cell_len(line) for line in (*final, *screen)), default=0)
        self._width = max(self._width, widest)
        self._prune()
        cache = self._render_line_cache      # the lines above the live rows stay as drawn
        for y in [y for y in cache.keys() if y >= self._live - len(final)]:
            cache.discard(y)
        self.virtual_size = Size(self._width, self.line_count)
        self.refresh()
        if self.auto_scroll:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def end_live(self) -> None:
        """The command ended: its last screen stays as it is."""
        self._live, self._live_rows = None, 0

    def _prune(self) -> None:
        extra = len(self._lines) - self.scrollback
        if extra <= 0:
            return
        del self._lines[:extra]
        self._render_line_cache.clear()
        if self._live is not None:
            cut = min(extra, self._live)          # live rows themselves may go in a flood
            self._live_rows = max(0, self._live_rows - (extra - cut))
            self._live -= cut
        self.virtual_size = Size(self._width, self.line_count)

    def _render_line_strip(self, y: int, rich_style: Style) -> Strip:
        """Log's own for a plain line; a coloured one keeps its colours (and the selection).
        (`Log`'s hook for drawing one line: `Log.render_line` calls it, and so does this.)

        Drawn lines are kept (`Log` keeps them only while text is selected): every frame drew
        every visible line again, ~15 ms of the frame that shows a command's first output
        (bench_tui: Enter -> first output). `write`, `show_live`, `clear` and the cap forget
        the lines they change."""
        selection = getattr(self, "text_selection", None)
        if selection is None and (kept := self._render_line_cache.get(y)) is not None:
            return kept
        strip = self._draw_line(y, rich_style)
        if selection is None:
            self._render_line_cache[y] = strip
        return strip

    def _draw_line(self, y: int, rich_style: Style) -> Strip:
        line = self._lines[y]
        spans = getattr(line, "spans", ())
        if not spans:
            return super()._render_line_strip(y, rich_style)
        text = Text(str(line), no_wrap=True)
        text.stylize(rich_style)
        for start, end, style in spans:
            text.stylize(style, start, end)
        # (text selection came with Textual 2; a student's install may be older)
        selection = getattr(self, "text_selection", None)
        if selection is not None and (span := selection.get_span(y - getattr(self, "_clear_y", 0))) is not None:
            start, end = span
            text.stylize(self.screen.get_component_rich_style("screen--selection"), start,
                         len(text) if end == -1 else end)
        return Strip(text.render(self.app.console), cell_len(str(line)))
