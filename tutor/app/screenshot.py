"""Screenshots of the course app, one SVG per lesson: `python -m tutor.app.screenshot OUTDIR`.

Each lesson at 200x50 (OUTDIR/<lesson id>.svg), and one lesson (`SMALL_LESSON`) also at 80x24,
the smallest terminal the layout is made for (OUTDIR/<lesson id>-80x24.svg). In Korean
(`TUTOR_LANG=ko`), only that one, at 80x24: OUTDIR/<lesson id>-80x24.ko.svg.

For each lesson: a throwaway lab (its own TUTOR_LAB) and a throwaway progress record are made,
the lesson is reset and solved with `tutor.lessons.course`, the app is opened headless on the
lesson's last step, the step's last command is run in the console, and the screen is saved.
The student's own lab and progress are never touched.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from tutor import progress
from tutor.i18n import lang
from tutor.lab import lifecycle
from tutor.lessons import course
from tutor.lessons.lesson import load_lessons

SIZE = (200, 50)
SMALL = (80, 24)
SMALL_LESSON = "lesson2"


async def _wait(pilot, predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await pilot.pause(0.1)


async def _shoot(lesson, path: Path, size: tuple[int, int]) -> None:
    from textual.widgets import Input

    from tutor.app.app import TutorApp
    app = TutorApp(lesson.id)
    async with app.run_test(size=size) as pilot:
        last = lesson.steps[-1]
        await _wait(pilot, lambda: app.result is not None and app.lab_view.snapshot.state.ns, 20)
        if last.commands:
            app.cmd_console.insert(last.commands[-1].text)
            await pilot.press("enter")
            await pilot.pause(0.2)
            await _wait(pilot, lambda: not app.cmd_console.running, 30)
        await _wait(pilot, lambda: app.summary.display, 10)
        await pilot.pause(1.0)
        app.query_one("#prompt", Input).cursor_blink = False   # the cursor shown, whatever the moment
        await pilot.pause(0.1)
        app.save_screenshot(filename=path.name, path=str(path.parent))


def shoot_lesson(lesson, lessons, outdir: Path, size: tuple[int, int] = SIZE) -> Path:
    """Solve `lesson` in a lab of its own and save its screenshot at `size`; returns the SVG's
    path (`<id>.svg` at the default size, else `<id>-<cols>x<rows>.svg`; `.ko.svg` in Korean)."""
    saved = {k: os.environ.get(k) for k in ("TUTOR_LAB", "XDG_STATE_HOME")}
    os.environ["TUTOR_LAB"] = f"screenshot-{os.getpid()}-{lesson.id}"
    stem = lesson.id if size == SIZE else f"{lesson.id}-{size[0]}x{size[1]}"
    path = outdir / (f"{stem}.svg" if lang() == "en" else f"{stem}.{lang()}.svg")
    with tempfile.TemporaryDirectory(prefix="tutor-shot-") as state:
        os.environ["XDG_STATE_HOME"] = state
        try:
            info, _ = lifecycle.up()
            course.reset_lesson(lesson, info, lessons)
            for step in lesson.steps:
                course.solve_step(step, echo=lambda _line: None, info=info)
            # the record says every step but the last is done: the app opens on the last one
            progress.load().mark(lesson.id, {s.number for s in lesson.steps[:-1]}, len(lesson.steps))
            asyncio.run(_shoot(lesson, path, size))
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
        if lang() != "en":
            sizes: tuple[tuple[int, int], ...] = (SMALL,) if lesson.id == SMALL_LESSON else ()
        else:
            sizes = (SIZE, SMALL) if lesson.id == SMALL_LESSON else (SIZE,)
        for size in sizes:
            started = time.monotonic()
            path = shoot_lesson(lesson, lessons, outdir, size)
            print(f"{path}  ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
