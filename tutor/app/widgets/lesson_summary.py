"""A finished lesson's short summary, shown above the lesson text; it offers the next lesson.

from tutor.i18n import _
Not a modal screen on purpose: a lesson often completes while the student is still typing the
last step's `ping`s, and a dialog would swallow those keystrokes (and an Enter meant for the
prompt could jump lessons).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tutor.i18n import _
from tutor.sanitize import cell


class LessonSummary(Static):
    """Hidden until `show_finished()`; `hide()` when another lesson opens. Folded (a short
    terminal), it leaves out the list of steps: the way on must fit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.folded = False
        self._shown: tuple | None = None   # (lesson, next lesson) while shown

    def fold(self, folded: bool) -> None:
        """Leave out the list of steps (True), or show it."""
        if folded != self.folded:
            self.folded = folded
            if self._shown and self.display:
                self.show_finished(*self._shown)

    def show_finished(self, lesson, next_lesson) -> None:
        """What was built, and how to go on."""
        self._shown = (lesson, next_lesson)
        text = Text()
        text.append(_("Lesson complete!") + " ", style="bold green")
        if self.folded and next_lesson:   # the way on, in two lines of the narrowest column
            text.append("F8", style="bold")
            text.append(" " + _("goes on to {lesson}.").format(lesson=next_lesson.id))
            self.update(text)
            self.display = True
            return
        text.append(cell(lesson.title))   # titles come from lesson files
        for step in [] if self.folded else lesson.steps:
            text.append(f"\n  ✓ {step.number}. {cell(step.title)}", style="green")
        if next_lesson:
            text.append("\n\nF8", style="bold")
            text.append(" " + _("goes on to {lesson}: {title} (the lab is set up for it). Or keep exploring "
                              "this lab.").format(lesson=next_lesson.id, title=cell(next_lesson.title)))
        else:
            text.append("\n" if self.folded else "\n\n")
            text.append(_("That was the last lesson: the whole course is done. Well done!"), style="bold")
        self.update(text)
        self.display = True

    def hide(self) -> None:
        """Back to an unfinished lesson."""
        self.display = False
