"""The step's checks as a live ✓/✗ list, with the hint of the first failing one.

What a check found and its hint quote the lab's own names: they are shown through
`tutor.sanitize`, in Text (never markup), while the verdicts themselves keep the exact names.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tutor.sanitize import cell, clean

NOT_TRIED = "not tried yet"


class ChecksList(Static):
    """Shows one StepResult (or the step's check lines before the first verification)."""

    def show_pending(self, check_lines: list[str]) -> None:
        """Before the first result: the checks, not judged yet."""
        text = Text()
        for n, line in enumerate(check_lines):
            text.append(("\n" if n else "") + "· " + cell(line), style="dim")
        self.border_subtitle = "checking…"
        self.update(text)

    def show_result(self, result) -> None:
        """One `StepResult`: a line per check, then the hint."""
        text = Text()
        for n, check in enumerate(result.checks):
            if n:
                text.append("\n")
            if check.passed:
                text.append("✓ ", style="bold green")
                text.append(cell(check.name))
            elif check.found.startswith(NOT_TRIED):
                text.append("· ", style="dim")
                text.append(cell(check.name), style="dim")
            else:
                text.append("✗ ", style="bold red")
                text.append(cell(check.name))
                if check.found:
                    text.append(f"\n    {cell(check.found)}", style="italic")
        if result.passed:
            text.append("\n\nAll checks pass: step done.", style="bold green")
        elif result.hint:
            text.append("\n\nHint: ", style="bold yellow")
            text.append(clean(result.hint))
        self.border_subtitle = "✓ done" if result.passed else ""
        self.set_class(result.passed, "-passed")
        self.update(text)

    def show_error(self, message: str) -> None:
        """The verification itself failed (the lab is down, ...)."""
        self.border_subtitle = "cannot check"
        self.update(Text(clean(message), style="bold red"))

    def set_busy(self, busy: bool) -> None:
        """A verification is running."""
        if busy:
            self.border_subtitle = "checking…"
