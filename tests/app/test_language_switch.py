"""Switching language in the TUI (issue 14): Ctrl+G or the button on the help (F1) and lessons
(F4) screens ends the app with a `LanguageSwitch`, the step the student is on saved, and
`run_app` starts the course again in the other language from there (`relaunch_argv`).

No lab: the recorded lab of `test_layouts`.
"""

from __future__ import annotations

import asyncio
import sys

import pytest
from test_layouts import RecordedApp, _at_step, _settled

from recorded import load
from tutor import progress
from tutor.app import LanguageSwitch, relaunch_argv
from tutor.app.screens.help import HelpScreen
from tutor.app.screens.lessons import LessonsScreen
from tutor.lessons.lesson import find_lesson

LESSON, RECORDING, STEP = "lesson5", "lesson5-start", 2


async def _switch(screen_key: str, how: str, monkeypatch, lang: str) -> tuple[object, progress.Progress]:
    monkeypatch.setenv("TUTOR_LANG", lang)
    app = RecordedApp(LESSON, load(RECORDING))
    async with app.run_test(size=(100, 30)) as pilot:
        await _settled(pilot)
        await pilot.press("f8")     # to step 3: the record must say 3, not where the app opened
        await pilot.pause()
        assert app.step == STEP + 1
        await pilot.press(screen_key)
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen if screen_key == "f1" else LessonsScreen)
        if how == "key":
            await pilot.press("ctrl+g")
        else:
            await pilot.click("#switch-language")
        await pilot.pause()
    return app.return_value, progress.load()


@pytest.mark.parametrize("screen_key", ["f1", "f4"])
@pytest.mark.parametrize("how", ["key", "button"])
def test_the_switch_ends_the_app_asking_for_korean_with_the_step_saved(state_home, monkeypatch, screen_key, how):
    _at_step(LESSON, STEP)
    before = progress.load().done(LESSON)
    result, record = asyncio.run(_switch(screen_key, how, monkeypatch, "en"))
    assert result == LanguageSwitch("ko", None)
    assert record.current == (LESSON, STEP + 1) and record.done(LESSON) == before
    # the course reopened from the record lands on that step
    assert record.resume_point([find_lesson(LESSON)])[0].id == LESSON
    assert record.resume_point([find_lesson(LESSON)])[1] == STEP + 1


def test_from_korean_the_switch_asks_for_english(state_home, monkeypatch):
    _at_step(LESSON, STEP)
    result, _record = asyncio.run(_switch("f1", "key", monkeypatch, "ko"))
    assert result == LanguageSwitch("en", None)


def test_the_course_starts_again_in_the_other_language():
    """The same interpreter runs `tutor.cli --lang ko start`: it resumes where the record says,
    or opens the lesson given (a finished one, which resuming would pass by)."""
    assert relaunch_argv(LanguageSwitch("ko")) == [sys.executable, "-m", "tutor.cli", "--lang", "ko", "start"]
    assert relaunch_argv(LanguageSwitch("en", "lesson2"))[-2:] == ["start", "lesson2"]
