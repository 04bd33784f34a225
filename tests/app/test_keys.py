"""Typing is never stolen: Tab completes in the prompt, letters always reach it, and a question
before a reset or a lesson switch is answered only by a pressed button (Escape changes nothing).

Each test gets a private lab (`lab` fixture) and progress record (`state_home`). Keys typed
"fast" go in all at once (`type_fast`), as from a typist's terminal, none waiting for the app.
"""

from __future__ import annotations

import re

import pytest

from pilot_helpers import console_text, run, running_lab, type_command, type_fast, wait_for
from tutor.app.app import TutorApp
from tutor.app.screens.confirm import ConfirmScreen
from tutor.app.screens.lessons import LessonsScreen
from tutor.app.widgets.console import PromptInput
from tutor.lab import client

pytestmark = pytest.mark.lab
SIZE = (120, 40)


async def _settled(pilot, app) -> None:
    """The first verification is in (the app is done starting)."""
    await wait_for(pilot, lambda: app.result is not None, 15, "the first verification")


async def _back_on_main_screen(pilot, app) -> None:
    await wait_for(pilot, lambda: app.screen is app.main_screen, 5, "the question to close")
    await pilot.pause()


def test_ip_net_tab_r_types_into_the_prompt_and_opens_no_question(lab, state_home):
    """The issue's case: `ip net`, Tab, `r`, typed fast. Tab used to move the focus off the
    prompt and `r` then asked to reset the lab."""
    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await _settled(pilot, app)
            prompt = app.query_one("#prompt", PromptInput)
            type_fast(app, "ip net\tr")
            await wait_for(pilot, lambda: prompt.value == "ip netns r", 10, "`ip netns r` in the prompt")
            assert app.focused is prompt
            assert app.screen is app.main_screen and not app.preparing
            await pilot.press("shift+tab")                  # does not leave the prompt either
            type_fast(app, "?")
            await wait_for(pilot, lambda: prompt.value == "ip netns r?", 10, "`?` in the prompt")
            assert app.focused is prompt and app.screen is app.main_screen

    run(body())


def test_a_fast_line_with_tabs_loses_nothing_and_completes_from_the_lab(lab, state_home):
    """Whole lines typed at once, Tabs inside, each completing a command, a namespace or an
    interface read from the real lab, run as typed; a second Tab lists the choices."""
    client.run("ip netns add red; ip netns add blue; ip link add veth-red type veth peer name veth-blue; "
               "ip link set veth-red netns red; ip link set veth-blue netns blue")

    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await _settled(pilot, app)
            state = lambda: app.lab_view.snapshot.state   # noqa: E731
            await wait_for(pilot, lambda: all(f"veth-{n}" in getattr(state().ns.get(n), "links", {})
                                              for n in ("red", "blue")), 15, "the watcher to see both veths")
            prompt = app.query_one("#prompt", PromptInput)
            type_fast(app, "ip netns exec r\tip link set v\tup\n")
            await wait_for(pilot, lambda: "ip netns exec red ip link set veth-red up" in console_text(app),
                           10, "the completed line to run")
            await wait_for(pilot, lambda: not app.cmd_console.running, 10, "the line to finish")
            assert re.search(r"[<,]UP[,>]", client.run("ip -n red -o link show veth-red").stdout)
            type_fast(app, "ip -n b\tlink set dev veth-b\tup\n")
            await wait_for(pilot, lambda: "ip -n blue link set dev veth-blue up" in console_text(app),
                           10, "the second completed line to run")
            await wait_for(pilot, lambda: not app.cmd_console.running, 10, "the line to finish")
            assert app.cmd_console.history[-2:] == ["ip netns exec red ip link set veth-red up",
                                                    "ip -n blue link set dev veth-blue up"]
            type_fast(app, "ip netns exec \t\t")            # two namespaces: the second Tab lists them
            await wait_for(pilot, lambda: "blue  red" in console_text(app), 10, "the choices listed")
            assert prompt.value == "ip netns exec "

    run(body())


def test_typing_while_a_pane_has_the_focus_goes_to_the_prompt(lab, state_home):
    """A click (or a key) can put the focus on a pane; what is typed then still reaches the
    prompt, in order, and a letter never runs an app action."""
    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await _settled(pilot, app)
            prompt = app.query_one("#prompt", PromptInput)
            app.set_focus(app.lesson_view)
            await pilot.pause()
            type_fast(app, "r?echo typed-elsewhere")
            await wait_for(pilot, lambda: prompt.value == "r?echo typed-elsewhere", 10, "the keys in the prompt")
            assert app.focused is prompt and app.screen is app.main_screen

    run(body())


def test_the_reset_question_is_answered_only_by_a_button(lab, state_home):
    """F6 asks. Typed letters answer nothing, Enter picks the focused No, Escape keeps the lab;
    only the Reset button resets."""
    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await type_command(pilot, "ip netns add red", keys=False)
            await type_command(pilot, "ip netns add blue", keys=False)
            await wait_for(pilot, lambda: app.step == 2, 15, "step 2 to open")
            for answer in (["y", "Y", "r", "space"], ["enter"], ["escape"]):
                await pilot.press("f6")
                assert isinstance(app.screen, ConfirmScreen)
                await pilot.press(*answer)
                if answer[0] == "y":                           # letters: still asking
                    assert isinstance(app.screen, ConfirmScreen)
                    await pilot.press("escape")
                await _back_on_main_screen(pilot, app)
                assert not app.preparing, f"{answer} started a reset"
                assert set(running_lab().namespaces) == {"red", "blue"}
                assert app.step == 2
            await pilot.press("f6", "left", "enter")         # the Reset button itself
            await wait_for(pilot, lambda: not app.preparing and running_lab().namespaces == (), 20, "the reset")
            assert app.step == 1

    run(body())


def test_escape_on_the_lesson_question_keeps_the_lesson_and_the_lab(lab, state_home):
    """F4, another lesson, then Escape (or Cancel) on "Set the lab up for lesson2?": nothing
    changes. Enter picks the focused "Keep the lab": the lesson opens on the lab as it is."""
    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await _settled(pilot, app)
            client.run("ip netns add red")
            for cancel in (["escape"], ["right", "enter"]):   # Escape; the Cancel button
                await pilot.press("f4")
                assert isinstance(app.screen, LessonsScreen)
                await pilot.press("down", "enter")
                await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "the question")
                await pilot.press(*cancel)
                await _back_on_main_screen(pilot, app)
                assert app.lesson.id == "lesson1" and not app.preparing, f"{cancel} switched lessons"
                assert running_lab().namespaces == ("red",)
            await pilot.press("f4", "down", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "the question")
            await pilot.press("enter")                         # Keep the lab (focused)
            await wait_for(pilot, lambda: app.lesson.id == "lesson2", 5, "lesson2 to open")
            assert not app.preparing and running_lab().namespaces == ("red",)

    run(body())
