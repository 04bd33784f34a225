"""Scrolling widgets whose own size the CSS fixes: their content growing does not lay out the
whole screen.

Textual declares `virtual_size` (the size of what a scrolling widget holds) with `layout=True`:
every character typed into an Input and every line written to a Log reflows every widget on the
screen, 10-30 ms each on a 2-core machine (four reflows a command, one per key; issue 13). When the
widget's own size does not depend on what it holds, only its scrollbars need to know: this class
updates them, and asks for a layout only when a scrollbar appears or goes (Textual does that by
itself: `show_vertical_scrollbar` is a layout reactive).
"""

from __future__ import annotations

from textual.geometry import Size
from textual.reactive import Reactive


class SteadySize:
    """Mixin for a ScrollView (a Log, an Input) whose width and height are not `auto`."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)   # a repaint, no reflow

    def watch_virtual_size(self, size: Size) -> None:
        self._scroll_update(size)   # type: ignore[attr-defined]  # (Widget's: scrollbars, scroll)
