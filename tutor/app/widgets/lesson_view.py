"""The lesson pane: where the student is (lesson, step k of n, progress) and the step's text."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import ProgressBar, Static

from tutor.i18n import _
from tutor.sanitize import cell, clean


def _parser():
    """The same markdown-it dialect the lesson parser reads, with tables."""
    from markdown_it import MarkdownIt
    return MarkdownIt("commonmark").enable("table")


class LessonView(VerticalScroll):
    """Lesson title, `step k of n`, a progress bar of finished steps, and the step as Markdown."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._text = ""
        self._text_shown = False    # the first text waits for the app's first frame
        self._text_due = False

    def compose(self) -> ComposeResult:
        yield Static(id="lesson-heading")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="lesson-progress")
        # the step's text (#lesson-text, a Markdown) is mounted after the app's first frame

    def show(self, lesson, number: int, done: set[int], scroll_home: bool = True) -> None:
        """Show step `number` of `lesson`; `done` is what the progress record holds."""
        step = next(s for s in lesson.steps if s.number == number)
        total = len(lesson.steps)
        # Text, not markup: a lesson file's `[` in a title stays a `[`
        self.border_title = Text(cell(f"{lesson.id} · {lesson.title}"))
        mark = "✓ " if number in done else ""
        self.query_one("#lesson-heading", Static).update(Text.assemble(
            (_("Step {number} of {total}").format(number=number, total=total), "bold"), f" · {mark}{cell(step.title)}"))
        bar = self.query_one("#lesson-progress", ProgressBar)
        bar.update(total=total, progress=len(done & {s.number for s in lesson.steps}))
        text = step.body
        if number == 1 and lesson.intro.strip():   # the intro, then the first step under its title
            text = f"{lesson.intro.strip()}\n\n## {step.title}\n\n{step.body}"
        self._text = clean(text)   # the lesson file's text: its controls shown, never sent
        if self._text_shown:
            self.query_one("#lesson-text").update(self._text)  # type: ignore[attr-defined]
        elif not self._text_due:
            # Mounting the Markdown's blocks holds every repaint back (~0.2 s here), and
            # importing Textual's Markdown (markdown-it, pygments) takes ~45 ms: the first
            # frame, with the prompt the student types at, goes out before the step's text.
            self._text_due = True
            self.call_after_refresh(self._show_first_text)
        if scroll_home:
            self.scroll_home(animate=False)

    def _show_first_text(self) -> None:
        if not self.is_attached:
            if not self.is_mounted:   # the first frame went out before this pane was mounted
                self.call_after_refresh(self._show_first_text)
            return                    # else it is gone already (the app is closing)
        from textual.widgets import Markdown
        self._text_shown = True
        self.mount(Markdown(self._text, parser_factory=_parser, id="lesson-text"))

    def show_done(self, lesson, done: set[int]) -> None:
        """Update only the progress bar (a step was finished)."""
        self.query_one("#lesson-progress", ProgressBar).update(
            progress=len(done & {s.number for s in lesson.steps}))
