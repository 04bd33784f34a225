"""Screenshots of the course app, one SVG per lesson: `python -m tutor.app.screenshot OUTDIR`.

For each lesson: a throwaway lab (its own TUTOR_LAB) and a throwaway progress record are made,
the lesson is reset and solved with `tutor.lessons.course`, the app is opened headless at 200x50 on
the lesson's last step, the step's last command is run in the console, and the screen is saved
as OUTDIR/<lesson id>.svg. The student's own lab and progress are never touched.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from tutor import progress
from tutor.lab import lifecycle
from tutor.lessons import course
from tutor.lessons.lesson import load_lessons

SIZE = (200, 50)


async def _wait(pilot, predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await pilot.pause(0.1)


async def _shoot(lesson, path: Path) -> None:
    from tutor.app.app import TutorApp
    app = TutorApp(lesson.id)
    async with app.run_test(size=SIZE) as pilot:
        last = lesson.steps[-1]
        await _wait(pilot, lambda: app.result is not None and app.lab_view.snapshot.state.ns, 20)
        if last.commands:
            app.cmd_console.insert(last.commands[-1].text)
            await pilot.press("enter")
            await pilot.pause(0.2)
            await _wait(pilot, lambda: not app.cmd_console.running, 30)
        await _wait(pilot, lambda: app.summary.display, 10)
        await pilot.pause(1.0)
        app.save_screenshot(filename=path.name, path=str(path.parent))


def shoot_lesson(lesson, lessons, outdir: Path) -> Path:
    """Solve `lesson` in a lab of its own and save its screenshot; returns the SVG's path."""
    saved = {k: os.environ.get(k) for k in ("TUTOR_LAB", "XDG_STATE_HOME")}
    os.environ["TUTOR_LAB"] = f"screenshot-{os.getpid()}-{lesson.id}"
    path = outdir / f"{lesson.id}.svg"
    with tempfile.TemporaryDirectory(prefix="tutor-shot-") as state:
        os.environ["XDG_STATE_HOME"] = state
        try:
            info, _ = lifecycle.up()
            course.reset_lesson(lesson, info, lessons)
            for step in lesson.steps:
                course.solve_step(step, echo=lambda _line: None, info=info)
            # the record says every step but the last is done: the app opens on the last one
            progress.load().mark(lesson.id, {s.number for s in lesson.steps[:-1]}, len(lesson.steps))
            asyncio.run(_shoot(lesson, path))
        finally:
            lifecycle.down()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return path


def main(argv: list[str]) -> int:
    """Entry point: OUTDIR (default assets/screenshots), then optional lesson ids."""
    outdir = Path(argv[0]) if argv else Path("assets/screenshots")
    outdir.mkdir(parents=True, exist_ok=True)
    lessons = load_lessons()
    wanted = set(argv[1:])
    for lesson in lessons:
        if wanted and lesson.id not in wanted:
            continue
        started = time.monotonic()
        path = shoot_lesson(lesson, lessons, outdir)
        print(f"{path}  ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
