"""Pilot tests: the course app driven like a student, on a real lab of its own.

Each test gets a private lab (`lab` fixture: TUTOR_LAB set, stopped afterwards even on failure)
and a private progress record (`state_home`).
"""

from __future__ import annotations

import pytest

from pilot_helpers import console_text, run, running_lab, type_command, wait_for
from tutor import progress
from tutor.app.app import TutorApp
from tutor.lab import HOST, client, lifecycle
from tutor.lessons.lesson import BUILTIN_LESSONS, find_lesson, load_lessons

pytestmark = pytest.mark.lab
SIZE = (120, 40)


@pytest.mark.slow(20)
def test_lesson1_typed_step_by_step_turns_every_step_green(lab, state_home):
    """Typing lesson 1's own commands walks through all five steps to the finished screen.

    (Each command's keys go at once, as a fast typist's terminal sends them: one Pilot press
    at a time, ~550 keys, took a minute; the key-by-key tests are test_keys and test_tui_robust.)"""
    lesson = find_lesson("lesson1")

    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            for step in lesson.steps:
                assert app.step == step.number
                await wait_for(pilot, lambda: app.result is not None, 10, "the first verification")
                assert app.result is not None
                assert not next(s for s in app.result.steps if s.number == step.number).passed
                for command in step.commands:
                    await type_command(pilot, command.text, timeout=30, fast=True)
                if step.number < len(lesson.steps):
                    await wait_for(pilot, lambda: app.step == step.number + 1, 15,  # noqa: B023 (awaited here)
                                   f"step {step.number + 1} to open")
            await wait_for(pilot, lambda: app.summary.display, 15, "the lesson summary")
            text = console_text(app)
            assert "blue\nred" in text                         # `ip netns` printed both
            assert "3 packets transmitted, 3 received" in text  # the pings went through the cable
            assert app.result is not None and all(s.passed for s in app.result.steps)
            assert "✓" in app.checks.text
            assert "lesson2" in str(app.summary.render())
            await pilot.press("f8")                             # on to the next lesson
            await wait_for(pilot, lambda: app.lesson.id == "lesson2" and not app.preparing, 15, "lesson2")
            assert not app.summary.display
        assert progress.load().done("lesson1") == {1, 2, 3, 4, 5}

    run(body())


def test_checks_flip_to_passed_when_the_lab_changes_elsewhere(lab, state_home):
    """Another terminal changes the lab: netlink events reach the tables, map and checks."""
    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.result is not None, 10, "the first verification")
            assert "✗" in app.checks.text
            client.run("ip netns add red; ip netns add blue")      # as `tutor shell` would
            await wait_for(pilot, lambda: app.step == 2, 10, "step 2 to open by itself")
            assert {HOST, "red", "blue"} <= set(app.lab_view.snapshot.state.ns)
            assert app.progress.done("lesson1") == {1}

    run(body())


def test_ctrl_c_stops_an_endless_ping_and_the_app_stays_responsive(lab, state_home):
    """`ping` without -c runs until Ctrl+C; afterwards no ping is left in the lab."""
    # names and addresses of no lesson step: the checks never send pings of their own here
    client.run("ip netns add pinged; ip link add px0 type veth peer name px1 netns pinged; "
               "ip a add 10.99.0.2/24 dev px0; ip link set px0 up; "
               "ip -n pinged a add 10.99.0.3/24 dev px1; ip -n pinged link set px1 up")

    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await type_command(pilot, "ping 10.99.0.3", wait=False)
            await wait_for(pilot, lambda: "icmp_seq=2" in console_text(app), 10, "ping replies")
            assert app.cmd_console.running
            # still responsive while it runs: the step can change under it
            await pilot.press("f8")
            assert app.step == 2
            await pilot.press("ctrl+c")
            await wait_for(pilot, lambda: not app.cmd_console.running, 20, "ping to stop")
            text = console_text(app)
            assert "^C" in text and "ping statistics" in text
            await type_command(pilot, "echo still-here")
            assert "still-here" in console_text(app)
        ps = client.run("ps -eo stat,comm").stdout
        assert "ping" not in ps, ps

    run(body())


def test_ctrl_c_stops_sleep_and_a_flood_is_capped(lab, state_home):
    """`sleep 100` stops on Ctrl+C; `yes` cannot grow the scrollback past its cap."""
    from textual.widgets import Log

    from tutor.app.widgets.console import SCROLLBACK

    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await type_command(pilot, "sleep 100", wait=False)
            await wait_for(pilot, lambda: client.run("pgrep -x sleep").returncode == 0, 10, "sleep to run")
            await pilot.press("ctrl+c")
            await wait_for(pilot, lambda: not app.cmd_console.running, 20, "sleep to stop")
            await type_command(pilot, "yes", wait=False)
            await wait_for(pilot, lambda: console_text(app).count("\ny") > 100, 10, "yes to flood")
            await pilot.press("ctrl+c")
            await wait_for(pilot, lambda: not app.cmd_console.running, 20, "yes to stop")
            log = app.query_one("#console-log", Log)
            assert log.line_count <= SCROLLBACK + 1
            assert "y" in console_text(app).split("\n")
        assert "sleep" not in client.run("ps -eo comm").stdout

    run(body())


@pytest.mark.slow(15)
def test_resume_after_restart_rebuilds_a_fresh_lab(lab, state_home):
    """Progress survives the app; a lab that was gone is rebuilt to where the student was."""
    # The course opens at the first unfinished lesson: with the ones before lesson1 done, lesson1.
    for lesson in load_lessons(BUILTIN_LESSONS):
        if lesson.id == "lesson1":
            break
        progress.load().mark(lesson.id, {s.number for s in lesson.steps})

    async def first():
        app = TutorApp(None)
        async with app.run_test(size=SIZE) as pilot:
            assert (app.lesson.id, app.step) == ("lesson1", 1)
            await type_command(pilot, "ip netns add red")
            await type_command(pilot, "ip netns add blue")
            await wait_for(pilot, lambda: app.step == 2, 10, "step 2 to open")

    async def second():
        app = TutorApp(None, fresh_lab=True)
        async with app.run_test(size=SIZE) as pilot:
            assert (app.lesson.id, app.step) == ("lesson1", 2)
            await wait_for(pilot, lambda: app.result is not None and not app.preparing, 15,
                           "the rebuilt lab to be verified")
            assert app.result is not None
            assert next(s for s in app.result.steps if s.number == 1).passed
            assert "ip netns add red" in console_text(app)    # the replay is shown
            assert app.step == 2

    run(first())
    lifecycle.down()
    _, started = lifecycle.up()
    assert started
    assert running_lab().namespaces == ()
    run(second())
    assert set(running_lab().namespaces) == {"red", "blue"}


@pytest.mark.slow(10)
def test_reset_asks_first_then_wipes_the_lab(lab, state_home):
    """F6 asks; Escape keeps the lab, the Reset button resets it to the start (tests/app/test_keys.py
    holds every other answer to nothing)."""
    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await type_command(pilot, "ip netns add red")
            await type_command(pilot, "ip netns add blue")
            await wait_for(pilot, lambda: app.step == 2, 10, "step 2 to open")
            await pilot.press("f6")
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is app.main_screen, 5, "the question to close")
            assert set(running_lab().namespaces) == {"red", "blue"}
            await pilot.press("f6", "left", "enter")        # No has the focus; Reset is left of it
            await wait_for(pilot, lambda: not app.preparing, 15, "the reset")
            assert running_lab().namespaces == ()
            assert app.step == 1
            await wait_for(pilot, lambda: app.result is not None and "red" not in app.lab_view.snapshot.state.ns,
                           10, "the lab view to follow the reset")
            assert app.result is not None and not app.result.steps[0].passed
            assert app.progress.done("lesson1") == {1}    # the record of what was done stays

    run(body())


def test_pasted_lines_run_one_after_another(lab, state_home):
    """A pasted block runs line by line; lines typed during a command wait for it."""
    from textual import events

    from tutor.app.widgets.console import PromptInput

    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            prompt = app.query_one("#prompt", PromptInput)
            prompt.post_message(events.Paste("sleep 0.3\nip netns add red\nip netns add blue\nip net"))
            await wait_for(pilot, lambda: app.cmd_console.running, 20, "the first line to start")
            await wait_for(pilot, lambda: not app.cmd_console.running and not app.cmd_console.queued,
                           10, "the pasted lines to run")
            assert prompt.value == "ip net"                   # the unfinished last line waits
            await pilot.press("n", "s", "enter")
            await wait_for(pilot, lambda: "blue\nred" in console_text(app), 10, "`ip netns` output")
            await wait_for(pilot, lambda: app.step == 2, 10, "step 2 to open")

    run(body())


def test_an_overlong_line_or_paste_is_refused_and_nothing_runs(lab, state_home):
    """Past MAX_LINE characters in a line or MAX_PASTE_LINES lines in a paste, the console
    refuses with one sentence and runs nothing; the next line runs as usual."""
    from textual import events

    from tutor.app.widgets.console import MAX_LINE, MAX_PASTE_LINES, PromptInput

    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            prompt = app.query_one("#prompt", PromptInput)
            console = app.cmd_console
            prompt.post_message(events.Paste("ip netns add one\nip netns add big" + "x" * MAX_LINE + "\n"))
            await wait_for(pilot, lambda: "paste refused" in console_text(app), 20, "the refusal")
            assert f"a line of {MAX_LINE + 16:,} characters" in console_text(app)
            prompt.post_message(events.Paste("ip netns add two\n" * (MAX_PASTE_LINES + 1)))
            await wait_for(pilot, lambda: f"{MAX_PASTE_LINES + 1} lines" in console_text(app), 5,
                           "the refusal of too many lines")
            console.insert("ip netns add big" + "x" * (MAX_LINE - 16))
            await pilot.press("y", "z")                   # one past the limit, then another
            await pilot.pause(0.1)
            assert len(prompt.value) == MAX_LINE
            assert console_text(app).count(f"at most {MAX_LINE:,} characters") == 1
            await pilot.press("enter")                    # the cut line is dropped, not run
            await pilot.pause(0.3)
            assert prompt.value == "" and not console.running and console.history == []
            await type_command(pilot, "ip netns add red")
            await type_command(pilot, "ip netns", keys=False)
            assert console.history == ["ip netns add red", "ip netns"]
        assert client.run("ip netns").stdout.split() == ["red"]

    run(body())


@pytest.mark.slow(10)
def test_help_and_the_lesson_list_jump_between_lessons(lab, state_home):
    """F1 shows the keys; F4 lists the lessons and opens another, keeping the lab if asked to."""
    from tutor.app.screens.help import HelpScreen
    from tutor.app.screens.lessons import LessonsScreen

    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            client.run("ip netns add red")
            await pilot.press("f1")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            await pilot.press("f4")
            assert isinstance(app.screen, LessonsScreen)
            await pilot.press("down", "enter")              # lesson2
            await pilot.press("enter")                      # "Keep the lab" has the focus
            await wait_for(pilot, lambda: app.lesson.id == "lesson2", 20, "lesson2 to open")
            assert app.step == 1
            assert "lesson2" in str(app.lesson_view.border_title)
            await wait_for(pilot, lambda: app.result is not None and app.result.lesson_id == "lesson2",
                           10, "lesson2's checks")
            assert running_lab().namespaces == ("red",)
            await pilot.press("f8", "f8")
            assert app.step == 3
            await pilot.press("f7")
            assert app.step == 2

    run(body())


def test_a_step_timer_that_fires_after_the_app_closed_does_nothing(lab, state_home):
    """The step that passed opens the next one ADVANCE_DELAY later; a test (or the student) may
    close the app first. Seen in a CI run: NoMatches '#lesson-heading' from the late timer."""
    app = TutorApp("lesson1")

    async def body():
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.result is not None, 20, "the first verification")
            app.celebrated = True

    run(body())
    app._advance(app.step)                        # the timers' work, after the app has closed
    app._celebrate(app.lesson.id)


@pytest.mark.slow(10)
def test_a_step_done_while_the_previous_one_waits_to_advance_is_passed_over(lab, state_home, monkeypatch):
    """Step 2 turns green, and before the course moves on (ADVANCE_DELAY) step 3 is done too, from
    another terminal: the course goes on to step 4. It used to open step 3, already green, and
    stay there (no later result came to move it on)."""
    import tutor.app.app as app_module
    monkeypatch.setattr(app_module, "ADVANCE_DELAY", 3.0)   # room for the second result to come first

    def passed(app) -> set[int]:
        return {s.number for s in app.result.steps if s.passed} if app.result else set()

    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            client.run("ip netns add red; ip netns add blue")
            await wait_for(pilot, lambda: app.step == 2, 15, "step 2")
            client.run("ip -n red link set dev lo up")
            await wait_for(pilot, lambda: 2 in passed(app), 10, "step 2 to pass")
            assert app.step == 2 and 3 not in passed(app)
            client.run("ip link add veth0 type veth peer name veth1")
            await wait_for(pilot, lambda: 3 in passed(app), 10, "step 3 to pass")
            assert app.step == 2, "the course moved on before the test could check the race"
            await wait_for(pilot, lambda: app.step == 4, 10, "step 4")

    run(body())
