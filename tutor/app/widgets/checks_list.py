"""The step's checks as a live ✓/✗ list, with the hint of the first failing one pinned under it.

The list scrolls inside the box; the hint (or "step done") stays in view below it, however many
checks a step has and however small the terminal: the hint is what the student needs next.

What a check found and its hint quote the lab's own names: they are shown through
`tutor.sanitize`, in Text (never markup), while the verdicts themselves keep the exact names.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from tutor.i18n import _
from tutor.sanitize import cell, clean

NOT_TRIED = "not tried yet"


class ChecksList(Vertical):
    """Shows one StepResult (or the step's check lines before the first verification)."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="check-scroll"):
            yield Static(id="check-lines")
        yield Static(id="check-hint")

    @property
    def text(self) -> str:
        """What the box shows, as plain text: the check lines, then the hint."""
        lines, hint = (str(self.query_one(f"#check-{part}", Static).render()) for part in ("lines", "hint"))
        return f"{lines}\n\n{hint}".rstrip() if hint.strip() else lines

    def on_mount(self) -> None:
        # a result that came before the box's parts were mounted (a busy machine): shown now
        if self._waiting is not None:
            self._show(*self._waiting)

    _waiting: tuple[Text, Text | None] | None = None

    def _show(self, lines: Text, hint: Text | None = None) -> None:
        parts = self.query("#check-lines, #check-hint")
        if len(parts) < 2:         # not composed yet: on_mount shows it
            self._waiting = (lines, hint)
            return
        self._waiting = None
        shown, pinned = self.query_one("#check-lines", Static), self.query_one("#check-hint", Static)
        if shown.content == lines and pinned.content == (hint or "") and pinned.display == (hint is not None):
            return    # the same again (most commands): set anyway, it would lay the screen out
        shown.update(lines)
        pinned.update(hint or "")
        pinned.display = hint is not None

    def _subtitle(self, text: str) -> None:
        """The box's subtitle, set only when it changes (setting it repaints the box: with the
        console's output in the same frame, most of the screen)."""
        if self.border_subtitle != text:
            self.border_subtitle = text

    def show_pending(self, check_lines: list[str]) -> None:
        """Before the first result: the checks, not judged yet."""
        text = Text()
        for n, line in enumerate(check_lines):
            text.append(("\n" if n else "") + "· " + cell(line), style="dim")
        self._subtitle(_("checking…"))
        self._show(text)

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
                    text.append(f"\n    {cell(check.shown_found)}", style="italic")
        hint = None
        if result.passed:
            hint = Text(_("All checks pass: step done."), style="bold green")
        elif result.hint:
            hint = Text(_("Hint: "), style="bold yellow")
            hint.append(clean(result.shown_hint))
        self._subtitle(_("✓ done") if result.passed else "")
        self.set_class(result.passed, "-passed")
        self._show(text, hint)
        # the first failing check in view (its hint is pinned below anyway)
        self.query_one("#check-scroll", VerticalScroll).scroll_home(animate=False)

    def show_error(self, message: str) -> None:
        """The verification itself failed (the lab is down, ...)."""
        self._subtitle(_("cannot check"))
        self._show(Text(clean(message), style="bold red"))

    def set_busy(self, busy: bool) -> None:
        """A verification is running."""
        if busy:
            self._subtitle(_("checking…"))
