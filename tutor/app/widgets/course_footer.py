"""The footer: the keys, fitted to the terminal's width so no label is ever cut in half.

Textual's footer lays its keys out in one row and clips the last one mid-word when the row is
too long (issue 13: "f7 ◂Ste" at 80 columns). Below `COMPACT_BELOW` columns it drops the spaces
around each key; below `FEW_BELOW` it also leaves out the keys the console's own border names
or that help (F1) lists anyway, so what shows fits.
"""

from __future__ import annotations

from textual.widgets import Footer
from textual.widgets._footer import FooterKey

COMPACT_BELOW = 110    # the course's full row of keys is ~105 columns with Textual's spacing
FEW_BELOW = 96         # compact, the full row is ~95 columns; without these keys ~74
LEFT_OUT_WHEN_NARROW = frozenset({"shell", "packets"})   # F2 (the console's border says it), F11


class CourseFooter(Footer):
    """A `Footer` that `fit(width)` makes compact, then shorter, as the terminal narrows."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.few = False

    def fit(self, width: int) -> None:
        """Fit the keys to a terminal `width` columns wide."""
        self.compact = width < COMPACT_BELOW
        few = width < FEW_BELOW
        if few != self.few:
            self.few = few
            self.refresh(recompose=True)

    def compose(self):
        """Textual's keys, less those left out at this width."""
        for widget in super().compose():
            if self.few and isinstance(widget, FooterKey) and widget.action in LEFT_OUT_WHEN_NARROW:
                continue
            yield widget
