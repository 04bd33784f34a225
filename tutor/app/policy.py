"""What the course app does on its own, and which of its keys are live: its policy.

`TutorApp` is composed with one. The student's course is `Policy()`: a step that passes opens
the next one, the progress record is saved, a finished lesson is celebrated, and every key of
the app answers. Presenter mode (`tutor.app.demo`) passes its own: nothing of that happens by
itself, and its screen brings the presenter's keys. The app tells its policy what happened
through the hooks below, each named for what happened; the course's ignores them.
"""

from __future__ import annotations

from dataclasses import replace

from textual.app import App
from textual.binding import Binding, BindingsMap, BindingType
from textual.screen import Screen

from tutor import progress
from tutor.i18n import Msg, in_lang, lang

# The course's keys: the app's own, live while `Policy.app_keys` says so. F-keys and Ctrl only:
# a letter or `?` belongs to the prompt (a typed `r` once opened the reset question mid-command).
STUDENT_KEYS: list[BindingType] = [
    Binding("f1", "help", Msg("Help")),
    Binding("f2", "shell", Msg("Shell")),
    Binding("f3", "next_command", Msg("Next cmd")),
    Binding("f4", "lessons", Msg("Lessons")),
    Binding("f5", "check", Msg("Check"), show=False),
    Binding("f6", "reset", Msg("Reset")),
    Binding("f7", "step(-1)", Msg("◂Step")),
    Binding("f8", "step(1)", Msg("Step▸")),
    Binding("f9", "next_namespace", Msg("Namespace"), show=False),
    Binding("f10", "next_table", Msg("Table"), show=False),
    Binding("f11", "packets", Msg("Packets")),
    Binding("f12", "trace", Msg("Trace"), show=False),
    Binding("ctrl+t", "toggle_commands", Msg("Type these"), show=False),
    Binding("ctrl+q", "quit", Msg("Quit")),
]
# (Descriptions are Msgs, English as str: the class's bindings are built at import, and
# `localize_keys` gives each app its language's when it is made, so a test or a language switch
# never sees the language of the moment of import.)
# Their actions and Textual's own app keys' (its Ctrl+Q): what `app_keys = False` turns off.
_APP_ACTIONS = frozenset(b.action.split("(")[0] for b in [*App.BINDINGS, *STUDENT_KEYS]
                         if isinstance(b, Binding))


def localize_keys(bindings: BindingsMap) -> None:
    """Put the footer's labels of `bindings` (an app's own copy) into the course's language now."""
    code = lang()
    for key, found in bindings.key_to_bindings.items():
        bindings.key_to_bindings[key] = [replace(b, description=in_lang(b.description, code)) for b in found]


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
