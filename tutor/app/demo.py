"""Presenter mode (`tutor demo LESSON`): the course app playing a lesson for a class.

The same app (`TutorApp`), composed with the demo's policy instead of the student's: no step
opens and no lesson is celebrated by itself, nothing is written to the student's progress
record (a demo is not the student's work), the app's own keys are off, and its main screen is
the presenter's (`tutor.app.presenter`), with fewer panes (no command list, a one-line checks
strip) and a status bar. Space or → plays the next command (or opens the next step), ← shows the
previous step again (the lab is not undone), `p` pauses, `+`/`-` change the typing speed.
`--auto` plays the whole lesson by itself; `--loop` then starts it over, forever.

The lab is reset to the lesson's start first, so a demo is always clean.
"""

from __future__ import annotations

import sys

from tutor.app.app import TutorApp
from tutor.app.policy import Policy
from tutor.app.presenter import PresenterScreen, next_speed  # noqa: F401  (next_speed: re-exported)

DELAY = 1.5          # seconds between commands with --auto
SPEED = 30.0         # characters typed per second


class DemoPolicy(Policy):
    """Presenter mode: the presenter (or --auto) moves on, not the checks; nothing is saved."""

    title = "netns-tutor · demo"
    css = ("app.tcss", "demo.tcss")
    app_keys = False
    auto_advance = False
    save_progress = False
    celebrate = False       # the demo shows its own ending once every command has run

    def __init__(self, auto: bool = False, delay: float = DELAY, loop: bool = False,
                 speed: float = SPEED):
        self.presenter = PresenterScreen(auto=auto, delay=delay, loop=loop, speed=speed)

    def screen(self) -> PresenterScreen:
        return self.presenter

    def started(self, app) -> None:
        self.presenter.begin()

    def step_shown(self, number: int) -> None:
        self.presenter.step_shown()

    def lab_prepared(self, message) -> None:
        self.presenter.lab_prepared(message)

    def lab_changed(self, message) -> None:
        self.presenter.lab_changed(message)

    def checks_updated(self, message) -> None:
        self.presenter.checks_updated(message)


def demo_app(lesson_id: str, auto: bool = False, delay: float = DELAY, loop: bool = False,
             speed: float = SPEED) -> TutorApp:
    """The course app in presenter mode for `lesson_id`; its presenter is `app.main_screen`."""
    return TutorApp(lesson_id, policy=DemoPolicy(auto=auto, delay=delay, loop=loop, speed=speed))


def run_demo(lesson_id: str, auto: bool = False, delay: float = DELAY, loop: bool = False,
             speed: float = SPEED) -> int:
    """Play `lesson_id` in presenter mode; returns an exit code (see `tutor demo --help`)."""
    from tutor.lab import control, lifecycle
    try:
        lifecycle.up()
    except control.LabError as exc:
        from tutor.i18n import said
        print(f"tutor: {said(exc)}", file=sys.stderr)
        return 2
    app = demo_app(lesson_id, auto=auto, delay=delay, loop=loop, speed=speed)
    app.run()
    return app.return_code or 0
