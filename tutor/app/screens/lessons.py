"""The lesson list: every lesson with its steps done; Enter jumps to one. Its button (or Ctrl+G)
switches the course to the other language."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from tutor.app.screens.help import SWITCH_KEY, SWITCH_LABEL
from tutor.i18n import _
from tutor.sanitize import cell


class LessonsScreen(ModalScreen[str | None]):
    """Pick a lesson; dismisses with its id, or None."""

    BINDINGS = [Binding("escape,f4", "dismiss(None)", "Close"), SWITCH_KEY]

    def __init__(self, lessons: list, done: dict[str, set[int]], current: str):
        super().__init__()
        self.lessons, self.done, self.current = lessons, done, current

    def compose(self) -> ComposeResult:
        options = []
        for lesson in self.lessons:
            total = len(lesson.steps)
            n = len(self.done.get(lesson.id, set()) & {s.number for s in lesson.steps})
            line = Text()
            line.append("✓ " if n == total else "▸ " if lesson.id == self.current else "  ",
                        style="bold green" if n == total else "bold")
            line.append(f"{n}/{total}  ", style="green" if n == total else "dim")
            line.append(f"{lesson.id:<9}", style="bold")
            line.append(f" {cell(lesson.title)}")   # a lesson file's title: shown, not acted on
            options.append(Option(line, id=lesson.id))
        with Vertical(id="lessons-box"):
            with Horizontal(id="lessons-top"):
                yield Static(_("[b]Lessons[/b] — Enter opens one, Escape goes back"), id="lessons-title")
                yield Button(SWITCH_LABEL, id="switch-language")
            yield OptionList(*options, id="lesson-options")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ids = [l.id for l in self.lessons]
        if self.current in ids:
            ol.highlighted = ids.index(self.current)
        ol.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.app.action_switch_language()   # type: ignore[attr-defined]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
