"""What the course app does on its own, and which of its keys are live: its policy.

`TutorApp` is composed with one. The student's course is `Policy()`: a step that passes opens
the next one, the progress record is saved, a finished lesson is celebrated, and every key of
the app answers. Presenter mode (`tutor.app.demo`) passes its own: nothing of that happens by
itself, and its screen brings the presenter's keys. The app tells its policy what happened
through the hooks below, each named for what happened; the course's ignores them.
"""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from tutor import progress

# The course's keys: the app's own, live while `Policy.app_keys` says so. F-keys and Ctrl only:
# a letter or `?` belongs to the prompt (a typed `r` once opened the reset question mid-command).
STUDENT_KEYS: list[BindingType] = [
    Binding("f1", "help", "Help"),
    Binding("f2", "shell", "Shell"),
    Binding("f3", "next_command", "Next cmd"),
    Binding("f4", "lessons", "Lessons"),
    Binding("f5", "check", "Check", show=False),
    Binding("f6", "reset", "Reset"),
    Binding("f7", "step(-1)", "◂Step"),
    Binding("f8", "step(1)", "Step▸"),
    Binding("f9", "next_namespace", "Namespace", show=False),
    Binding("f10", "next_table", "Table", show=False),
    Binding("f11", "packets", "Packets"),
    Binding("f12", "trace", "Trace", show=False),
    Binding("ctrl+t", "toggle_commands", "Type these", show=False),
    Binding("ctrl+q", "quit", "Quit"),
]
# Their actions and Textual's own app keys' (its Ctrl+Q): what `app_keys = False` turns off.
_APP_ACTIONS = frozenset(b.action.split("(")[0] for b in [*App.BINDINGS, *STUDENT_KEYS]
                         if isinstance(b, Binding))


class Policy:
    """The student's course; a mode with other habits overrides what it changes."""

    title = "netns-tutor"
    css: tuple[str, ...] = ("app.tcss",)      # relative to tutor/app/
    app_keys = True          # the app's own keys (F1…F12, Ctrl+Q) answer
    auto_advance = True      # a step that passes opens the next one, after a moment
    save_progress = True     # steps that pass are written to the student's progress record
    celebrate = True         # a lesson that passes whole says so (summary and a toast)

    def allows(self, action: str) -> bool:
        """Whether the app's action `action` (its name, without arguments) answers its key."""
        return self.app_keys or action not in _APP_ACTIONS

    def progress(self) -> progress.Progress:
        """The record the app keeps: the student's; one that saves nothing starts empty."""
        if self.save_progress:
            return progress.load()
        return progress.Progress(path=progress.progress_path(), saves=False)

    def screen(self) -> Screen:
        """The app's main screen: where the widgets live, and where keys of the mode's own are
        bound (presenter mode's space, ←, p …)."""
        return Screen(id="_default")

    # -- what happened in the app, for a mode that follows along ---------------------------
    def started(self, app) -> None:
        """The app is mounted and shows its first step."""

    def step_shown(self, number: int) -> None:
        """Step `number` is on screen now."""

    def lab_prepared(self, message) -> None:
        """A reset or rebuild of the lab finished (`messages.LabPrepared`)."""

    def lab_changed(self, message) -> None:
        """The lab view shows a new reading of the lab (`messages.LabChanged`)."""

    def checks_updated(self, message) -> None:
        """A verification finished (`messages.ChecksUpdated`)."""
