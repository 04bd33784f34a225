"""The trace of one check (F12): the way its packet goes through the lab and where it dies,
as `tutor trace` prints it, worked out in a thread so the app stays live."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tutor.i18n import _, said
from tutor.sanitize import clean

MARKS = {True: ("✓", "green"), False: ("✗", "red"), None: ("?", "yellow")}


def trace_text(found) -> Text:
    """A `tutor.checks.trace.Trace` as the screen shows it, in the course's language (every lab
    word sanitized)."""
    found = found.shown()
    text = Text()
    text.append(_("trace: {check}").format(check=clean(found.check)) + "\n\n", style="bold")
    width = max((cell_len(h.where) for h in found.hops), default=0)
    for h in found.hops:
        mark, colour = MARKS[h.ok]
        text.append(f"{mark} ", style=colour)
        where = clean(h.where)
        text.append(where + " " * (width - cell_len(where) + 2), style="bold")   # Hangul is two cells wide
        text.append(clean(h.what) + "\n")
    if found.counters:
        counters = _("counters the probe moved: {counters}").format(counters=clean("; ".join(found.counters)))
        text.append("\n" + counters + "\n", style="dim")
    if found.reached:
        text.append("\n" + _("it gets there and back") + "\n", style="green")
    else:
        text.append("\n" + _("it does not get there and back: it dies at the ✗ above") + "\n", style="red")
        if found.hint:
            text.append(_("hint: {hint}").format(hint=clean(found.hint)) + "\n", style="bold")
    return text


class TraceScreen(ModalScreen[None]):
    """Follows `check` (a ping, tcp or fetch line) through the running lab."""

    BINDINGS = [Binding("escape,f12,q", "dismiss", "Close")]

    def __init__(self, check: str):
        super().__init__()
        self.check = check

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="trace-box"):
            yield Static(Text(_("tracing {check} …").format(check=clean(self.check))), id="trace")

    def on_mount(self) -> None:
        self.run_worker(self._trace, thread=True, exclusive=True, group="trace")

    def _trace(self) -> None:
        from tutor.checks.trace import trace
        from tutor.lab import control
        try:
            info = control.status()
            if info is None:
                raise control.not_running()
            shown: Text = trace_text(trace(self.check, info))
        except Exception as exc:  # the lab went away, or the check cannot be traced: say so
            shown = Text(_("cannot trace {check}: {why}").format(check=clean(self.check), why=clean(said(exc))),
                         style="red")
        self.app.call_from_thread(self._show, shown)

    def _show(self, shown: Text) -> None:
        if self.is_attached:
            self.query_one("#trace", Static).update(shown)
