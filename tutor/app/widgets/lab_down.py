"""The banner across the top when the lab has stopped under the app (its agent died or was
stopped from another terminal): it says so in one sentence and offers a new lab.

A banner rather than a modal screen: the student may still want to scroll the console to see
what they did, and keys typed meanwhile must not be swallowed by a dialog.
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, Static

from tutor.i18n import _
from tutor.sanitize import clean


class LabDownBanner(Horizontal):
    """Hidden until `show_down()`; its button (or F6) asks the app for a new lab.

    Empty until then: a Button is the only one on the main screen, and parsing its default
    CSS (~7 ms) held back the app's first frame (issue 13) for a banner most runs never show."""

    class RestartPressed(Message):
        """The student asked for a new lab."""

    def show_down(self, problem: str, step: int) -> None:
        """`problem` is the watcher's sentence, e.g. "the lab 'default' stopped (agent pid 4242
        is gone)"; `step` is where a new lab will be rebuilt to."""
        sentence = clean(problem[:1].upper() + problem[1:])   # it quotes the lab's name
        said = Text.assemble((f"{sentence}.", "bold"), " ", _(
            "Everything in it is gone. F6 starts a new lab and rebuilds it to the start of step {step}."
        ).format(step=step))
        if self.children:
            self.query_one("#lab-down-text", Static).update(said)
        else:
            self.mount(Static(said, id="lab-down-text"),
                       Button(_("Start a new lab (F6)"), variant="error", id="lab-down-restart"))
        self.display = True

    def hide(self) -> None:
        """The lab answers again."""
        self.display = False

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.RestartPressed())
