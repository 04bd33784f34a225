"""The console and presenter mode in Korean (issue 14): with TUTOR_LANG=ko the prompt's
invitation, the console's own notes and refusals, presenter mode's bar, notes and keys are
Korean, while commands, their output and the `[tutor]`/`[demo]`/`[exit N]` marks stay as
they are. On a real lab of the test's own (`lab`), like the English tests beside it."""

from __future__ import annotations

import re

import pytest
from textual import events

from pilot_helpers import console_text, run, type_command, wait_for
from tutor.app.app import TutorApp
from tutor.app.demo import demo_app
from tutor.app.widgets.console import MAX_LINE, PromptInput

SIZE = (120, 40)
HANGUL = re.compile("[가-힣]")
# Three English words in a row, outside quotes and commands
ENGLISH = re.compile(r"\b[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}\b")


def english_left(text: str) -> list[str]:
    return ENGLISH.findall(re.sub(r"`[^`]*`|'[^']*'", " ", text))


def _presenter(app):
    """The presenter: the demo app's main screen, which holds what is being played."""
    return app.main_screen


def _tutor_lines(app) -> list[str]:
    """The console's own lines (not the commands' output)."""
    return [line for line in console_text(app).splitlines() if line.startswith(("[tutor]", "[demo]"))]


@pytest.mark.lab
def test_the_console_speaks_korean(lab, state_home, monkeypatch):
    monkeypatch.setenv("TUTOR_LANG", "ko")

    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            prompt = app.query_one("#prompt", PromptInput)
            assert prompt.placeholder == "명령을 입력하세요. 예: ip -br link"
            await type_command(pilot, "ip netns add red", keys=False)
            prompt.post_message(events.Paste("ip netns add one\nip netns add big" + "x" * MAX_LINE + "\n"))
            await wait_for(pilot, lambda: "붙여넣기를 거부" in console_text(app), 20, "the refusal")
            assert f"한 줄이 {MAX_LINE + 16:,}자입니다" in console_text(app)
            await type_command(pilot, "cd /tmp", keys=False)
            assert "[tutor] 여기서는 모든 명령이 /에서 시작합니다" in console_text(app)
            await type_command(pilot, "false", keys=False)
            assert "[exit 1]" in console_text(app)             # tool-like: as it is
            labels = {b.description for b in prompt._bindings.key_to_bindings["ctrl+c"]}
            assert labels == {"중지"}
            lines = _tutor_lines(app)
            assert lines and all(HANGUL.search(line) and not english_left(line) for line in lines), lines

    run(body())


@pytest.mark.lab
def test_presenter_mode_speaks_korean(lab, state_home, monkeypatch):
    monkeypatch.setenv("TUTOR_LANG", "ko")

    async def body():
        app = demo_app("lesson2", speed=200)
        async with app.run_test(size=SIZE) as pilot:
            demo = _presenter(app)
            await wait_for(pilot, lambda: demo.ready, 30, "the lab reset to the lesson's start")
            bar = str(app.query_one("#demo-bar").render())
            assert bar.startswith("▶ 데모  lesson2 · 단계 1/") and "입력 초당 200자" in bar, bar
            assert "스페이스: 다음 명령" in bar and "발표자" in bar, bar
            await pilot.press("space")
            await wait_for(pilot, lambda: demo.ran.get(1) == 1 and demo.typing is None and not demo.busy, 30,
                           "the first command")
            await pilot.press("p")
            bar = str(app.query_one("#demo-bar").render())
            assert "⏸ 일시정지 · " in bar and not english_left(bar), bar
            labels = {b.description for found in demo._bindings.key_to_bindings.values() for b in found}
            assert {"다음", "이전", "일시정지", "빠르게", "느리게"} <= labels, labels
            assert app.query_one("#console").border_subtitle == "Ctrl+C로 명령을 멈춥니다"
            lines = _tutor_lines(app)
            assert "[tutor] 실습 환경을 lesson2의 시작 상태로 초기화합니다…" in lines, lines
            assert all(HANGUL.search(line) and not english_left(line) for line in lines), lines

    run(body())
