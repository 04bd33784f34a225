"""The step's commands, with the next one to type marked; F3 puts it into the prompt.

from tutor.i18n import _
Folded (on a short terminal, issue 13), it shows only the next command and how many there are:
the room goes to the lesson's text, the checks' hint and the lab; Ctrl+T unfolds it.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tutor.i18n import _
from tutor.sanitize import cell


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


class StepCommands(Static):
    """Lists a step's commands; remembers which one comes next."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.commands: list[str] = []
        self.next_index = 0
        self.folded = False

    def show(self, commands: list[str]) -> None:
        """A new step: its commands, starting from the first."""
        self.commands = list(commands)
        self.next_index = 0
        self._render_list()

    def take_next(self) -> str | None:
        """The next command (for the prompt), moving the marker past it; None at the end."""
        if self.next_index >= len(self.commands):
            return None
        command = self.commands[self.next_index]
        self.next_index += 1
        self._render_list()
        return command

    def typed(self, cmdline: str) -> None:
        """The student ran `cmdline`: if it is one of the commands, the marker moves past it."""
        for i, command in enumerate(self.commands):
            if i >= self.next_index and _same(command, cmdline):
                self.next_index = i + 1
                self._render_list()
                return

    def fold(self, folded: bool) -> None:
        """Show only the next command (True), or the whole list."""
        if folded != self.folded:
            self.folded = folded
            self.set_class(folded, "-folded")
            self._render_list()

    def _render_list(self) -> None:
        text = Text(no_wrap=False)
        if self.folded and self.commands:   # one line, cut with an ellipsis: F3 types it whole
            n = len(self.commands)
            i = min(self.next_index, n - 1)
            done = self.next_index >= n
            line = Text()   # (one line: app.tcss, StepCommands.-folded)
            line.append(f"{i + 1}/{n} ", style="dim")
            line.append(("  " if done else "› ") + cell(self.commands[i]), style="dim" if done else "bold")
            self.update(line)
            return
        if not self.commands:
            text.append(_("(nothing to type in this step)"), style="dim")
        for i, command in enumerate(self.commands):
            if i:
                text.append("\n")
            if i < self.next_index:
                text.append("  " + cell(command), style="dim")
            elif i == self.next_index:
                text.append("› " + cell(command), style="bold")
            else:
                text.append("  " + cell(command))   # a lesson file's line: shown inert
        self.update(text)
