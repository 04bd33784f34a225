"""The footer: the keys, fitted to the terminal's width so no label is ever cut in half.

Textual's footer lays its keys out in one row and clips the last one mid-word when the row is
too long (issue 13: "f7 ◂Ste" at 80 columns). Below `COMPACT_BELOW` columns it drops the spaces
around each key; below `FEW_BELOW` it also leaves out the keys the console's own border names
or that help (F1) lists anyway, so what shows fits.

And it is cheap. Textual's footer makes its row of keys again on every change of the bindings
(each change of focus), whether or not any key changed, and each key is born `compact` and
restyled at once to the footer's setting: ~2 style updates a key, ~30 a row. At the app's start
that was about half a second of a profiled first paint (issue 13). This footer makes the row
again only when what it shows changes, and its keys are born as the row is.
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
        self._shown: tuple | None = None   # what the row showed when it was last made (`_row`)
        self._due = False                  # a remake is on its way (it reads the bindings then)

    def fit(self, width: int) -> None:
        """Fit the keys to a terminal `width` columns wide."""
        self.compact = width < COMPACT_BELOW
        few = width < FEW_BELOW
        if few != self.few:
            self.few = few
            self.refresh(recompose=True)

    def bindings_changed(self, screen) -> None:
        """The bindings changed: make the row again if a key would show differently, once for
        changes that come together (Textual's `Footer.bindings_changed`, less the remakes)."""
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        if not self._due and self._row() != self._shown:
            self._due = True
            self.call_after_refresh(self.recompose)

    def _row(self) -> tuple:
        """What the row shows for the screen's bindings now, and at which width."""
        app = self.app
        return (self.few, tuple((b.key, app.get_key_display(b), b.description, b.action, b.group, enabled, tooltip)
                                for _, b, enabled, tooltip in self.screen.active_bindings.values() if b.show))

    def compose(self):
        """Textual's keys, less those left out at this width, each already as compact as the row."""
        if self._bindings_ready:
            self._shown, self._due = self._row(), False
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                if self.few and widget.action in LEFT_OUT_WHEN_NARROW:
                    continue
                # set before it is mounted: its own default (True) would be styled, then the row's
                widget.set_reactive(FooterKey.compact, self.compact)
                widget.set_class(self.compact, "-compact", update=False)
            yield widget
