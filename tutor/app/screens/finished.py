"""A finished lesson: what the student built, and the way on to the next lesson."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class FinishedScreen(ModalScreen[bool]):
    """Dismisses with True to go on to the next lesson, False to stay."""

    BINDINGS = [Binding("escape", "dismiss(False)", "Stay")]

    def __init__(self, lesson, next_lesson):
        super().__init__()
        self.lesson, self.next_lesson = lesson, next_lesson

    def compose(self) -> ComposeResult:
        steps = "\n".join(f"  [green]✓[/green] {s.number}. {s.title}" for s in self.lesson.steps)
        if self.next_lesson:
            way_on = (f"Next: [b]{self.next_lesson.id}[/b] — {self.next_lesson.title}.\n"
                      "Going on sets the lab up for it.")
        else:
            way_on = "That was the last lesson: the whole course is done. Well done!"
        with Vertical(id="finished-box"):
            yield Static(f"[b green]Lesson complete:[/b green] {self.lesson.title}\n\n{steps}\n\n{way_on}",
                         id="finished-text")
            with Horizontal(id="buttons"):
                if self.next_lesson:
                    yield Button(f"Go to {self.next_lesson.id}", variant="success", id="next")
                yield Button("Stay here", id="stay")

    def on_mount(self) -> None:
        self.query_one("#next" if self.next_lesson else "#stay", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "next")
