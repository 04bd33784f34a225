"""Pilot tests of presenter mode (`tutor demo`): the keys of a presenter, on a real lab of its own.

Each lab test gets a private lab (`lab`: TUTOR_LAB set, stopped afterwards even on failure) and
a private progress record (`state_home`). The pure helpers are tested without a lab.
"""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from pilot_helpers import console_text, run, running_lab, wait_for
from tutor import progress
from tutor.app.demo import demo_app, next_speed
from tutor.app.demo_focus import lab_focus
from tutor.app.widgets.console import PromptInput
from tutor.lab import HOST, client
from tutor.lessons.lesson import find_lesson

SIZE = (120, 40)
LESSON = find_lesson("lesson2")
FIRST = LESSON.steps[0].commands[0].text     # ip link add br0 type bridge


def _prompt(app) -> str:
    return app.query_one("#prompt", PromptInput).value


def _bar(app) -> str:
    return str(app.query_one("#demo-bar").render())


def _demo(app):
    """The presenter: the demo app's main screen, which holds what is being played."""
    return app.main_screen


async def _ready(pilot) -> None:
    await wait_for(pilot, lambda: _demo(pilot.app).ready, 30, "the lab reset to the lesson's start")


async def _idle(pilot, timeout: float = 30) -> None:
    demo = _demo(pilot.app)
    await wait_for(pilot, lambda: demo.typing is None and not demo.busy, timeout,
                   "the typed command to finish")


# -- pure helpers -----------------------------------------------------------------------------
@pytest.mark.parametrize("cmdline, focus", [
    ("ip link add br0 type bridge", (HOST, "links")),
    ("ip netns add container10", (None, "map")),
    ("ip link set veth10 netns container10", ("container10", "links")),
    ("ip netns exec container10 ip a add 10.201.0.4/24 dev veth10", ("container10", "addresses")),
    ("ip -n red addr add 10.200.0.3/24 dev veth1", ("red", "addresses")),
    ("ip netns exec blue ip route add default via 10.201.0.1", ("blue", "routes")),
    ("iptables -t nat -A POSTROUTING -s 10.201.0.0/24 -j MASQUERADE", (HOST, "rules")),
    ("sysctl -w net.ipv4.ip_forward=1", (HOST, "routes")),
    ("ip netns exec container10 ping -c 3 10.201.0.5", ("container10", "neighbours")),
    ("bridge link", (HOST, "links")),
    ("lan ip route add 10.201.0.0/24 via 192.168.1.2", (None, None)),
    ("echo 'nameserver 8.8.8.8' > /etc/netns/container10/resolv.conf", (None, None)),
])
def test_lab_focus_names_the_namespace_and_table_a_command_changes(cmdline, focus):
    assert lab_focus(cmdline) == focus


def test_speed_steps_up_and_down_within_bounds():
    assert next_speed(30, 1) == 45 and next_speed(30, -1) == 20
    assert next_speed(1000, 1) == 1000 and next_speed(1, -1) == 1


# -- the app on a real lab --------------------------------------------------------------------
@pytest.mark.lab
def test_space_types_the_next_command_char_by_char_then_runs_it(lab, state_home):
    """Space types the step's first command one character at a time, then Enter runs it in
    the lab through the console; the links table marks the new bridge."""
    async def body():
        app = demo_app("lesson2", speed=12)
        async with app.run_test(size=SIZE) as pilot:
            await _ready(pilot)
            assert _prompt(app) == "" and _demo(app).ran == {}
            await pilot.press("space")
            seen = []

            def typed_and_entered() -> bool:
                seen.append(_prompt(app))
                return _demo(app).ran.get(1) == 1
            await wait_for(pilot, typed_and_entered, 15, "the Enter")
            partial = [v for v in dict.fromkeys(seen) if v and v != FIRST]
            assert len(partial) >= 5, f"too few partial lines seen: {partial}"
            assert all(FIRST.startswith(v) for v in partial)
            assert [len(v) for v in partial] == sorted(len(v) for v in partial)   # it grows
            await _idle(pilot)
            assert f"root@lab:/# {FIRST}" in console_text(app)
            assert _demo(app).ran == {1: 1} and _prompt(app) == ""
            assert "command 1/3" in _bar(app)
            table = app.query_one("#table-links", DataTable)
            await wait_for(pilot, lambda: any(str(table.get_row_at(i)[0]).startswith("+ br0")
                                              for i in range(table.row_count)), 10,
                           "br0 marked new in the links table")
        assert "br0" in client.run("ip -br link").stdout
        assert progress.load().done("lesson2") == set()     # a demo is not the student's work

    run(body())


@pytest.mark.lab
def test_above_a_hundred_chars_a_second_several_characters_go_in_a_tick(lab, state_home):
    """Timers tick at most every 10 ms: at 1000 chars/s ten characters go in each tick, so the
    speed asked for is the speed typed (it used to type at most 100 a second, whatever asked)."""
    async def body():
        app = demo_app("lesson2", speed=1000)
        async with app.run_test(size=SIZE) as pilot:
            await _ready(pilot)
            shown: list[str] = []
            real = app.cmd_console.show_in_prompt

            def show_in_prompt(text: str) -> None:
                shown.append(text)
                real(text)
            app.cmd_console.show_in_prompt = show_in_prompt   # type: ignore[method-assign]
            await pilot.press("space")
            await wait_for(pilot, lambda: _demo(app).ran.get(1) == 1, 15, "the Enter")
            lines = [v for v in shown if v]
            assert [len(v) for v in lines[:-1]] == list(range(10, len(FIRST), 10)), lines
            assert lines[-1] == FIRST

    run(body())


@pytest.mark.lab
def test_p_pauses_typing_and_resumes_it(lab, state_home):
    async def body():
        app = demo_app("lesson2", speed=10)
        async with app.run_test(size=SIZE) as pilot:
            await _ready(pilot)
            await pilot.press("space")
            await wait_for(pilot, lambda: len(_prompt(app)) >= 3, 10, "typing to start")
            await pilot.press("p")
            held = _prompt(app)
            assert _demo(app).paused and "PAUSED" in _bar(app)
            await pilot.pause(1.0)                        # ten characters' time at 10 chars/s
            assert _prompt(app) == held and held != FIRST
            assert not app.cmd_console.running and _demo(app).ran == {}
            await pilot.press("p")
            assert not _demo(app).paused and "PAUSED" not in _bar(app)
            await wait_for(pilot, lambda: len(_prompt(app)) > len(held), 20, "typing to go on")
            await _idle(pilot)
            assert _demo(app).ran == {1: 1} and f"root@lab:/# {FIRST}" in console_text(app)

    run(body())


@pytest.mark.lab
def test_plus_and_minus_change_the_typing_speed_shown_in_the_bar(lab, state_home):
    async def body():
        app = demo_app("lesson2")
        async with app.run_test(size=SIZE) as pilot:
            await _ready(pilot)
            assert _demo(app).speed == 30 and "typing 30 chars/s" in _bar(app)
            await pilot.press("plus")
            assert _demo(app).speed == 45 and "typing 45 chars/s" in _bar(app)
            await pilot.press("minus", "minus")
            assert _demo(app).speed == 20 and "typing 20 chars/s" in _bar(app)
            await pilot.press("equals_sign")                 # + without Shift
            assert _demo(app).speed == 30

    run(body())


@pytest.mark.lab
def test_left_goes_back_a_step_and_space_returns_without_rerunning(lab, state_home):
    """← re-shows the previous step's prose; its commands already ran, so space moves on."""
    async def body():
        app = demo_app("lesson2", speed=400)
        async with app.run_test(size=SIZE) as pilot:
            await _ready(pilot)
            for _ in LESSON.steps[0].commands:
                await pilot.press("space")
                await _idle(pilot)
            await wait_for(pilot, lambda: "space: next step" in _bar(app), 10, "the bar to offer the next step")
            assert app.step == 1
            await pilot.press("space")
            assert app.step == 2
            assert "Step 2 of 4" in str(app.query_one("#lesson-heading").render())
            await pilot.press("left")
            assert app.step == 1
            assert "Step 1 of 4" in str(app.query_one("#lesson-heading").render())
            await pilot.press("left")                           # nothing before step 1
            assert app.step == 1
            await pilot.press("space")
            assert app.step == 2 and _demo(app).typing is None          # no step-1 command again
            await pilot.press("space")
            await _idle(pilot)
            assert _demo(app).ran == {1: 3, 2: 1}
            assert console_text(app).count(f"root@lab:/# {FIRST}") == 1

    run(body())


@pytest.mark.lab
def test_q_before_the_end_of_an_auto_demo_exits_1(lab, state_home):
    """--auto promises exit 0 only for a finished, verified lesson."""
    async def body():
        app = demo_app("lesson2", auto=True, delay=5)
        async with app.run_test(size=SIZE) as pilot:
            await _ready(pilot)
            assert "auto, 5 s apart" in _bar(app)
            await pilot.press("q")
        assert app.return_code == 1

    run(body())


@pytest.mark.lab
def test_f6_after_the_lab_dies_under_the_demo_starts_a_new_one_at_step_one(lab, state_home):
    """The banner says "F6 starts a new lab": in the demo too, F6 does (and only then)."""
    import os
    import signal

    async def body():
        app = demo_app("lesson2", speed=200)
        async with app.run_test(size=SIZE) as pilot:
            await _ready(pilot)
            await pilot.press("f6")                    # the lab is fine: F6 changes nothing
            await pilot.pause(0.3)
            assert _demo(app).ready and not app.preparing
            await pilot.press("space")
            await wait_for(pilot, lambda: _demo(app).ran.get(1) == 1, 15, "the first command")
            await _idle(pilot)
            agent = running_lab().pid
            os.kill(agent, signal.SIGKILL)
            await wait_for(pilot, lambda: app.lab_down, 20, "the demo to notice")
            assert app.lab_down_banner.display and "F6" in console_text(app)
            await pilot.press("f6")
            await wait_for(pilot, lambda: not app.lab_down and _demo(app).ready, 30, "a new lab, reset")
            assert not app.lab_down_banner.display
            assert running_lab().pid != agent
            assert _demo(app).ran == {} and app.step == LESSON.steps[0].number
            await pilot.press("space")
            await wait_for(pilot, lambda: _demo(app).ran.get(1) == 1, 15, "the first command, again")
            await _idle(pilot)
        assert "br0" in client.run("ip -br link").stdout

    run(body())
