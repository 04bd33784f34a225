"""A question before something that cannot be undone; only a pressed button answers it.

No letter answers: the student may be typing a command when the question opens, and a typed `y`
must not wipe the lab. The safe answer has the focus (or, with `default="yes"`, the answer the
question recommends when nothing can be lost either way), so Enter picks it; ←/→ (or Tab) move
between the buttons; Escape changes nothing. Dismisses with True (yes), False (no) or None
(Escape, or the cancel button where there is one: the caller changes nothing).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tutor.i18n import _


class ConfirmScreen(ModalScreen[bool | None]):
    """Ask before something that cannot be undone (a lab reset, a lab set up for a lesson)."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("left", "app.focus_previous", "Previous", show=False),
        Binding("right", "app.focus_next", "Next", show=False),
    ]

    def __init__(self, question: str, yes: str | None = None, no: str | None = None,
                 cancel: str | None = None, default: str = "no"):
        super().__init__()
        self.question, self.cancel = question, cancel
        self.yes, self.no = yes or _("Yes"), no or _("No")
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.question, id="question")
            with Horizontal(id="buttons"):
                yield Button(self.yes, variant="error", id="yes")
                yield Button(self.no, variant="primary", id="no")
                if self.cancel:
                    yield Button(self.cancel, id="cancel")

    def on_mount(self) -> None:
        self.query_one(f"#{self.default}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss({"yes": True, "no": False}.get(event.button.id or ""))
