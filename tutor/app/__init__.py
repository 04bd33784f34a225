"""The Textual app (the course's face). Importing this package does not import Textual:
`run_app` does, so `tutor.app.labstate` and friends stay usable without it."""

from __future__ import annotations

import sys


def run_app(lesson_id: str | None = None) -> int:
    """Open the course at `lesson_id` (None: where the student left off); returns an exit code.

    Starts the lab first if it is not running; a lab started now is rebuilt to the step the
    student resumes at.
    """
    from tutor.lab import client
    try:
        _, started = client.up()
    except client.LabError as exc:
        print(f"tutor: {exc}", file=sys.stderr)
        return 2
    from tutor.app.app import TutorApp
    app = TutorApp(lesson_id, fresh_lab=started)
    app.run()
    return app.return_code or 0
