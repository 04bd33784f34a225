"""Resume knows the lab, and a finished lesson always says so (issue 13, items 4 and 6).

Pilot tests on a real lab of their own (`lab`) with a private progress record (`state_home`).
"""

from __future__ import annotations

import pytest

from pilot_helpers import console_text, run, running_lab, wait_for
from tutor import progress
from tutor.app.app import TutorApp
from tutor.app.screens.confirm import ConfirmScreen
from tutor.lab import client, lifecycle
from tutor.lessons import course
from tutor.lessons.lesson import find_lesson, load_lessons

pytestmark = pytest.mark.lab
SIZE = (120, 40)


def _student_was_at(lesson_id: str, step: int, done: dict[str, set[int]]) -> None:
    record = progress.load()
    for lesson, steps in done.items():
        record.mark(lesson, steps, total=len(find_lesson(lesson).steps))
    record.set_current(lesson_id, step)


def test_resume_opens_where_the_student_was_and_asks_about_a_lab_set_up_for_another_lesson(lab, state_home):
    """`tutor demo lesson2` left the lab at lesson 2's start; the student was at lesson1 step 3.
    The course opens there and asks; Escape goes on with the lab as it is, nothing lost, and the
    lab is then noted as the student's: the next resume does not ask again."""
    course.reset_lesson(find_lesson("lesson2"), lab, load_lessons())
    assert lifecycle.recorded_lesson(running_lab()) == "lesson2"
    _student_was_at("lesson1", 3, {"routing": {1}, "lesson1": {1, 2}})
    before = set(running_lab().namespaces)

    async def first():
        app = TutorApp(None)
        async with app.run_test(size=SIZE) as pilot:
            assert (app.lesson.id, app.step) == ("lesson1", 3)     # not routing step 2
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 10, "the question")
            # "Set the lab up" has the focus
            await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "yes", 5, "the focus")
            assert "lesson2" in str(app.screen.query_one("#question").render())
            assert app.result is None                                 # no checks while it asks
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.result is not None, 10, "the checks on the lab as it is")
            assert not app.preparing and app.step == 3
        assert set(running_lab().namespaces) == before                # nothing changed in the lab
        assert lifecycle.recorded_lesson(running_lab()) == "lesson1"

    async def second():
        app = TutorApp(None)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.result is not None, 10, "the checks, without a question")
            assert app.screen is app.main_screen

    run(first())
    run(second())
    record = progress.load()
    assert record.done("lesson1") >= {1, 2} and record.done("routing") >= {1}
    assert record.current == ("lesson1", 3)


def test_set_the_lab_up_replays_the_steps_before_where_the_student_was(lab, state_home):
    """Enter on the question (its default) sets the lab up for the lesson at the student's step;
    the record of finished steps stays as it was."""
    course.reset_lesson(find_lesson("routing"), lab, load_lessons())
    _student_was_at("lesson1", 3, {"lesson1": {1, 2}})

    async def body():
        app = TutorApp(None)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "yes", 10,
                           "the question, its first button focused")
            await pilot.press("enter")
            await wait_for(pilot, lambda: "the lab is ready" in console_text(app), 30, "the set-up")
            await wait_for(pilot, lambda: app.result is not None, 10, "the checks")
            assert "ip netns add red" in console_text(app)
            assert app.step == 3 and app.lesson.id == "lesson1"

    run(body())
    assert {"red", "blue"} <= set(running_lab().namespaces)
    assert lifecycle.recorded_lesson(running_lab()) == "lesson1"
    assert progress.load().done("lesson1") >= {1, 2}


def test_start_lesson_asks_too_when_the_lab_is_set_up_for_another_lesson(lab, state_home):
    """`tutor start lesson3` on a lab left at lesson 1's end: it asks before working on it (it
    used to open lesson 3 on that lab without a word); Escape keeps the lab as it is; on a lab
    already noted for lesson 3 nothing is asked."""
    course.reset_lesson(find_lesson("lesson1"), lab, load_lessons())
    before = set(running_lab().namespaces)

    async def first():
        app = TutorApp("lesson3")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 10, "the question")
            await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "yes", 5, "the focus")
            question = str(app.screen.query_one("#question").render())
            assert "lesson3 opens at step 1" in question and "lesson1" in question, question
            assert app.result is None
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.result is not None, 10, "the checks on the lab as it is")
        assert set(running_lab().namespaces) == before
        assert lifecycle.recorded_lesson(running_lab()) == "lesson3"

    async def second():
        app = TutorApp("lesson3")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.result is not None, 10, "the checks, without a question")
            assert app.screen is app.main_screen

    run(first())
    run(second())


def test_a_lab_started_anew_is_not_taken_for_the_one_set_up_before(lab, state_home):
    """The note names the lab's agent: a new lab under the same name has none, and a plain
    reset forgets it too."""
    info = course.reset_lesson(find_lesson("lesson1"), lab, load_lessons())
    assert lifecycle.recorded_lesson(info) == "lesson1"
    lifecycle.reset(info.name)
    assert lifecycle.recorded_lesson(info) is None
    lifecycle.record_lesson("lesson1", info)
    lifecycle.down(info.name)
    again, started = lifecycle.up(info.name)
    assert started and lifecycle.recorded_lesson(again) is None


def test_the_summary_shows_when_an_earlier_step_completes_the_lesson_elsewhere(lab, state_home):
    """The open step had passed already; the lesson completes when an earlier step passes by a
    command typed in another terminal. The summary shows without a restart (issue 13: lesson 5)."""
    lesson = find_lesson("lesson1")
    course.reset_lesson(lesson, lab, load_lessons())
    for step in lesson.steps:
        course.solve_step(step, echo=lambda _line: None, info=lab)
    client.run("ip -n red link set lo down")                   # step 2 undone

    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            assert app.step == 1
            await pilot.press("f8", "f8", "f8", "f8")          # to the last step, which passes
            assert app.step == 5
            await wait_for(pilot, lambda: app.result is not None and app.result.steps[4].passed, 15,
                           "step 5 to pass")
            assert app.result is not None and not app.result.passed and not app.summary.display
            client.run("ip -n red link set lo up")             # as `tutor shell` would
            await wait_for(pilot, lambda: app.summary.display, 10, "the lesson summary")
            assert "Lesson complete!" in str(app.summary.render())

    run(body())
