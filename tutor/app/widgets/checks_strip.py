"""The step's checks on a few lines, ✓/✗ each, for presenter mode (no hints, no details)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tutor.sanitize import cell


class ChecksStrip(Static):
    """One StepResult in brief; the check lines, dim, before the first verification."""

    def show(self, result, checks) -> None:
        """`result` (a StepResult, or None before one came) of a step whose checks are `checks`."""
        text = Text()
        if result is None:
            text.append("  ".join("· " + cell(c.text) for c in checks), style="dim")
            self.border_subtitle = ""
        else:
            for n, check in enumerate(result.checks):
                text.append("  " if n else "")
                text.append("✓ " if check.passed else "✗ ",
                            style="bold green" if check.passed else "bold red")
                text.append(cell(check.name))   # names from the lab and the lesson file
            self.border_subtitle = f"{sum(c.passed for c in result.checks)}/{len(result.checks)}"
        self.set_class(bool(result and result.passed), "-passed")
        self.update(text)
