"""The Packets view (F11): a live capture on an interface of a namespace, one line per packet.

It opens on the namespace the lab view shows, on its first interface that is not `lo`, and
captures at once. The student types `NAMESPACE INTERFACE` (Enter) to capture elsewhere: the
running tcpdump is ended and a new one started. The capture (`tutor.lab.capture`) runs in a
thread worker that posts its lines back; the log keeps the last MAX_LINES of them, each shown
through `tutor.sanitize`. Closing the view (Escape, F11), quitting the app or the lab going away
ends tcpdump; its worker reaps it.
"""

from __future__ import annotations

from rich.highlighter import Highlighter
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Log, Static

from tutor.app.messages import CaptureEnded, PacketLines
from tutor.i18n import _
from tutor.lab import HOST
from tutor.lab.capture import PacketCapture, choose, first_interface, interfaces, is_note
from tutor.lab.watch import LabSnapshot
from tutor.sanitize import cell, clean

MAX_LINES = 500   # lines the log keeps; older ones are dropped


class NoteHighlighter(Highlighter):
    """tcpdump's header and counts, and our own notes, dim; packets as they are."""

    def highlight(self, text: Text) -> None:
        if is_note(text.plain):
            text.stylize("dim italic")


class PacketsScreen(ModalScreen[None]):
    """A live capture; `snapshot` is the lab as last read, `ns` the namespace to start in."""

    BINDINGS = [Binding("escape,f11", "close", "Close")]

    def __init__(self, snapshot: LabSnapshot, ns: str = HOST):
        super().__init__()
        self.snapshot = snapshot
        self.start_ns = ns if ns in snapshot.state.ns else HOST
        self.capture: PacketCapture | None = None
        self.problem = ""   # the sentence shown, "" while all is well

    def compose(self) -> ComposeResult:
        with Vertical(id="packets-box"):
            yield Static(_("[b]Packets[/b] — type a namespace and an interface, Enter captures there; "
                           "Escape closes"), id="packets-help")
            yield Input(placeholder=_("NAMESPACE INTERFACE, e.g. host eth0"), id="packets-choice")
            yield Static(id="packets-choices")
            yield Static(id="packets-problem")
            log = Log(max_lines=MAX_LINES, highlight=True, id="packets-log")
            log.highlighter = NoteHighlighter()
            yield log

    def on_mount(self) -> None:
        self._show_choices()
        choice = self.query_one("#packets-choice", Input)
        iface = first_interface(self.snapshot.state, self.start_ns)
        choice.value = cell(self.start_ns) + (f" {cell(iface)}" if iface else "")
        choice.focus()
        if self.snapshot.down or not self.snapshot.state.ns:
            self._say(_("no lab to capture in: {problem}").format(problem=self.snapshot.error) if self.snapshot.down
                      else _("the lab has not been read yet: type a namespace and an interface"))
        elif iface is None:
            self._say(_("{ns} has no interface to capture on but lo: type one").format(ns=cell(self.start_ns)))
        else:
            self.capture_on(self.start_ns, iface)

    def on_unmount(self) -> None:
        self.stop()

    # -- what the app and the student ask ------------------------------------------------------
    def capture_on(self, ns: str, iface: str) -> None:
        """Capture on `iface` of `ns` (HOST: the lab host) from now on, ending any capture before."""
        self.stop()
        self._say("")
        self.capture = PacketCapture(ns, iface)
        where = f"{cell(ns)} {cell(iface)}"
        self.query_one("#packets-box").border_title = Text(_("Packets · {where} · live").format(where=where))
        self.query_one(Log).write_line("[tutor] " + _("capturing on {where}").format(where=where))
        self._capture(self.capture)

    def stop(self) -> None:
        """End the running capture, if any (its worker reaps tcpdump)."""
        if self.capture is not None:
            self.capture.stop()
            self.capture = None

    def show_lab(self, snapshot: LabSnapshot) -> None:
        """A fresh reading of the lab: the choices shown follow it; a lab gone ends the capture."""
        went_away = snapshot.down and not self.snapshot.down
        self.snapshot = snapshot
        self._show_choices()
        if went_away:   # tcpdump died with the lab (if it has not yet, it goes now): say why
            self.stop()
            self._say(_("the capture ended: {why}").format(why=snapshot.error or _("the lab stopped")))

    def action_close(self) -> None:
        self.stop()
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        chosen = choose(self.snapshot.state, event.value)
        if isinstance(chosen, str):
            self._say(chosen)
        else:
            self.capture_on(*chosen)

    # -- the capture -------------------------------------------------------------------------
    @work(thread=True, group="packets", exit_on_error=False)
    def _capture(self, capture: PacketCapture) -> None:
        from textual.worker import get_current_worker
        worker = get_current_worker()
        why = capture.run(lambda lines: self.post_message(PacketLines(capture, lines)),
                          cancelled=lambda: worker.is_cancelled)
        self.post_message(CaptureEnded(capture, why))

    def on_packet_lines(self, message: PacketLines) -> None:
        if message.capture is self.capture:   # not the lines of a capture already ended
            self.query_one(Log).write_lines([cell(line) for line in message.lines[-MAX_LINES:]])

    def on_capture_ended(self, message: CaptureEnded) -> None:
        if message.capture is self.capture:
            self.capture = None
            self.query_one("#packets-box").border_title = Text(_("Packets · stopped"))
            if self.snapshot.down:   # the lab's end says more than tcpdump's
                self._say(_("the capture ended: {why}").format(why=self.snapshot.error or _("the lab stopped")))
            else:
                self._say(message.why or _("the capture stopped"))

    # -- internals ---------------------------------------------------------------------------
    def _say(self, sentence: str) -> None:
        self.problem = clean(sentence)
        self.query_one("#packets-problem", Static).update(Text(self.problem))
        self.query_one("#packets-problem").display = bool(sentence)

    def _show_choices(self) -> None:
        state = self.snapshot.state
        names = [HOST, *(n for n in state.namespaces if n in state.ns)]
        shown = " · ".join(f"{cell(ns)}: {' '.join(cell(i) for i in interfaces(state, ns))}" for ns in names)
        self.query_one("#packets-choices", Static).update(Text(shown))
