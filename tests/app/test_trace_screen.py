"""F12 in the course app: the trace of the step's failing check, on a real lab."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from pilot_helpers import run, type_command, wait_for
from tutor.app.app import TutorApp
from tutor.app.screens.trace import TraceScreen
from tutor.lessons.course import reset_lesson
from tutor.lessons.lesson import find_lesson, load_lessons

pytestmark = pytest.mark.lab
SIZE = (120, 40)


def shown(app) -> str:
    screen = app.screen
    return str(screen.query_one("#trace", Static).render()) if isinstance(screen, TraceScreen) else ""


def test_f12_traces_the_failing_ping_then_the_working_one(lab, state_home):
    """Lesson 3 step 1 at its start: the host has no route to 10.201.0.4, and the trace says so;
    once br0 has its address the same key shows the packet getting there and back."""

    reset_lesson(find_lesson("lesson3"), lab, load_lessons())

    async def body():
        app = TutorApp("lesson3")
        # step 1 passes once br0 has its address, and the course would open step 2 a second
        # later: an F12 pressed after that traced step 2's failing ping (a loaded CI run did)
        app.policy.auto_advance = False
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.result is not None, 20, "the first verification")
            await pilot.press("f12")
            await wait_for(pilot, lambda: "it dies" in shown(app), 60, "the trace of a failing ping")
            text = shown(app)
            assert text.startswith("trace: ping 10.201.0.4 from host")
            assert "✗" in text and "10.201.0.4" in text
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, TraceScreen), 20, "the trace to close")
            await type_command(pilot, "ip addr add 10.201.0.1/24 brd 10.201.0.255 dev br0", keys=False)
            await wait_for(pilot, lambda: app.result is not None and app.result.steps[0].passed, 30,
                           "step 1 to pass")
            await pilot.press("f12")
            await wait_for(pilot, lambda: "it gets there and back" in shown(app), 60, "the trace of a working ping")
            assert "10.201.0.4 is " in shown(app)

    run(body())
