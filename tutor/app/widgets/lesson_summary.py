"""A finished lesson's short summary, shown above the lesson text; it offers the next lesson.

Not a modal screen on purpose: a lesson often completes while the student is still typing the
last step's `ping`s, and a dialog would swallow those keystrokes (and an Enter meant for the
prompt could jump lessons).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tutor.sanitize import cell


class LessonSummary(Static):
    """Hidden until `show_finished()`; `hide()` when another lesson opens."""

    def show_finished(self, lesson, next_lesson) -> None:
        """What was built, and how to go on."""
        text = Text()
        text.append("Lesson complete! ", style="bold green")
        text.append(cell(lesson.title))   # titles come from lesson files
        for step in lesson.steps:
            text.append(f"\n  ✓ {step.number}. {cell(step.title)}", style="green")
        if next_lesson:
            text.append("\n\nF8", style="bold")
            text.append(f" goes on to {next_lesson.id}: {cell(next_lesson.title)} (the lab is set up for it). "
                        "Or keep exploring this lab.")
        else:
            text.append("\n\nThat was the last lesson: the whole course is done. Well done!", style="bold")
        self.update(text)
        self.display = True

    def hide(self) -> None:
        """Back to an unfinished lesson."""
        self.display = False
