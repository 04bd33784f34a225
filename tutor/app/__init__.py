"""The Textual app (the course's face). Importing this package does not import Textual:
`run_app` does, so `tutor.app.tables` and `tutor.app.topomap` stay usable without it."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from tutor.i18n import _, said

# Textual paints a change at its next frame, at most TEXTUAL_FPS a second (read when Textual is
# imported). At its default of 60, the first output of a command waited ~29 ms (median) for its
# frame; at 120, ~15 ms (bench_tui: Enter -> first output). Output comes in chunks at most every
# 50 ms (`tutor.lab.runner`), so a flood is not drawn more often for it.
os.environ.setdefault("TEXTUAL_FPS", "120")


@dataclass(frozen=True)
class LanguageSwitch:
    """What the app exits with when the student switches language (Ctrl+G on the help or lessons
    screen): the course starts again in `lang`, resuming where the progress record says, or at
    `lesson_id` when resuming would not land on the lesson that was open (a finished one)."""
    lang: str
    lesson_id: str | None = None


def relaunch_argv(switch: LanguageSwitch) -> list[str]:
    """The command line that opens the course again in `switch.lang`: this interpreter, `tutor.cli`."""
    return [sys.executable, "-m", "tutor.cli", "--lang", switch.lang, "start",
            *([switch.lesson_id] if switch.lesson_id else [])]


def lab_keeps_running() -> str:
    """Said on the terminal when the app closes. The lab is kept, not stopped: `tutor verify` and
    `tutor shell` in another terminal work on it, and the next `tutor start` resumes on it."""
    return _("tutor: the lab keeps running (`tutor verify` and `tutor shell` see it); `tutor lab down` stops it")


def run_app(lesson_id: str | None = None) -> int:
    """Open the course at `lesson_id` (None: where the student left off); returns an exit code.

    Starts the lab first if it is not running; a lab started now is rebuilt to the step the
    student resumes at. On the way out it says that the lab is still running, and how to stop it.
    A language switch replaces this process with the course in the other language, once Textual
    has given the terminal back; the lab runs on, and is resumed on.
    """
    from concurrent.futures import ThreadPoolExecutor

    from tutor.lab import control, doctor, lifecycle  # noqa: F401  (what `up` imports, imported here first)
    with ThreadPoolExecutor(1) as pool:
        # A lab that has to start (~0.3 s, mostly waiting on the agent) starts while Textual
        # and the app are imported (~0.3 s of this process's CPU). The thread must import
        # nothing: two threads importing at once can meet a half-initialised module.
        starting = pool.submit(lifecycle.up)
        from tutor.app.app import TutorApp
        try:
            _lab, started = starting.result()
        except control.LabError as exc:
            print(f"tutor: {said(exc)}", file=sys.stderr)
            return 2
    app = TutorApp(lesson_id, fresh_lab=started)
    app.run()
    if isinstance(app.return_value, LanguageSwitch):
        sys.stdout.flush()
        sys.stderr.flush()
        os.environ["TUTOR_LANG"] = app.return_value.lang
        argv = relaunch_argv(app.return_value)
        os.execv(argv[0], argv)
    try:
        running = control.status() is not None
    except control.LabError:
        running = True    # it answers, if strangely: still there
    if running:
        print(lab_keeps_running())
    return app.return_code or 0
