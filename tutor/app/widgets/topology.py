"""The topology map widget: redraws `tutor.app.topomap` at whatever width it is given."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widgets import Static

from tutor.app import topomap
from tutor.lab.watch import LabSnapshot


class TopologyMap(VerticalScroll):
    """Namespaces, cables, bridges and the world, as boxes and lines; scrolls when tall."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._topology: topomap.Topology | None = None
        self._width = 0

    def compose(self):
        yield Static(id=f"{self.id}-art" if self.id else None, classes="topology-art")

    def show(self, snapshot: LabSnapshot) -> None:
        """Draw the lab as `snapshot` has it."""
        self._topology = topomap.describe(snapshot)
        self._redraw()

    def on_resize(self) -> None:
        if self.size.width != self._width:
            self._redraw()

    def on_mount(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        arts = self.query(".topology-art").results(Static)
        art = next(arts, None)
        if art is None:   # a snapshot came before the art was mounted (or after it went): on_mount draws
            return
        self._width = self.size.width
        width = max(self.scrollable_content_region.width, 30)
        art.update(topomap.draw(self._topology, width))
