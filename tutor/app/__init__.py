"""The Textual app (the course's face). Importing this package does not import Textual:
`run_app` does, so `tutor.app.tables` and `tutor.app.topomap` stay usable without it."""

from __future__ import annotations

import sys

# Said on the terminal when the app closes. The lab is kept, not stopped: `tutor verify` and
# `tutor shell` in another terminal work on it, and the next `tutor start` resumes on it.
LAB_KEEPS_RUNNING = "tutor: the lab keeps running (`tutor verify` and `tutor shell` see it); `tutor lab down` stops it"


def run_app(lesson_id: str | None = None) -> int:
    """Open the course at `lesson_id` (None: where the student left off); returns an exit code.

    Starts the lab first if it is not running; a lab started now is rebuilt to the step the
    student resumes at. On the way out it says that the lab is still running, and how to stop it.
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
            _, started = starting.result()
        except control.LabError as exc:
            print(f"tutor: {exc}", file=sys.stderr)
            return 2
    app = TutorApp(lesson_id, fresh_lab=started)
    app.run()
    try:
        running = control.status() is not None
    except control.LabError:
        running = True    # it answers, if strangely: still there
    if running:
        print(LAB_KEEPS_RUNNING)
    return app.return_code or 0
