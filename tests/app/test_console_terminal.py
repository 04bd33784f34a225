"""Pilot tests: the console is a terminal (issue 13). Each command runs on a pty of the console's
size and is drawn by a terminal emulator: curl shows no progress meter, ping's first line comes
at once, `\\r` rewrites, long lines wrap, colours stay, title and clipboard sequences go nowhere.
On a real lab of its own (`lab` fixture)."""

from __future__ import annotations

import asyncio
import time

import pytest

from pilot_helpers import console_text, run, type_command, wait_for
from tutor.app.app import TutorApp
from tutor.app.widgets.term_log import TermLog
from tutor.lab import client, lifecycle

pytestmark = pytest.mark.lab
SIZE = (120, 40)


def _log(app) -> TermLog:
    return app.query_one("#console-log", TermLog)


def test_a_failed_curl_shows_its_error_and_no_progress_meter(lab, state_home):
    """On pipes curl drew its meter (`% Total … 0 0 0`) and the error went off-screen."""
    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await type_command(pilot, "curl http://nowhere.invalid/", keys=False, timeout=30)
            text = console_text(app)
            assert "curl: (6) Could not resolve host: nowhere.invalid" in text, text
            assert "% Total" not in text and "Dload" not in text, text
            assert "[exit 6]" in text

    run(body())


def test_ping_shows_its_first_line_before_it_ends(lab, state_home):
    """An address of the lab's own ranges that nobody has: on pipes nothing showed until ping
    ended. This ping ends only at Ctrl+C, so however slow the machine, its PING line must show
    while it runs (a `-c 2` one could end before a busy test looked)."""
    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await type_command(pilot, "ping -W 1 10.99.99.99", wait=False, keys=False)
            await wait_for(pilot, lambda: "PING 10.99.99.99" in console_text(app), 10, "the PING line")
            assert app.cmd_console.running          # shown while ping still waits for an answer
            await pilot.press("ctrl+c")
            await wait_for(pilot, lambda: not app.cmd_console.running, 20, "ping to end")
            assert "packets transmitted, 0 received" in console_text(app)

    run(body())


def test_carriage_return_rewrites_and_a_long_line_wraps(lab, state_home):
    """`\\r` goes back to the line's start (`Xbc`); a line wider than the console wraps at its
    width, its end on screen (it used to be cut); the pty has the console's size."""
    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await type_command(pilot, r"printf 'abc\rX\n'", keys=False)
            assert "Xbc" in _log(app).lines
            columns = _log(app).scrollable_content_region.width
            await type_command(pilot, "seq -s ' ' 1 200; echo", keys=False)
            lines = list(_log(app).lines)
            start = lines.index("root@lab:/# seq -s ' ' 1 200; echo") + 1
            output = lines[start:lines.index("", start)]
            assert len(output) > 1 and max(len(line) for line in output) <= columns, output
            # (a row that ends in the space where it wrapped keeps no trailing blank)
            assert "".join(output).replace(" ", "") == "".join(map(str, range(1, 201))), output
            assert output[-1].endswith("199 200")
            await type_command(pilot, "echo size $(tput cols) $(tput lines)", keys=False)
            region = _log(app).scrollable_content_region
            assert f"size {region.width} {region.height}" in _log(app).lines

    run(body())


def test_colours_are_kept_and_title_or_clipboard_sequences_are_dropped(lab, state_home):
    """grep's match is red on the screen (colours used to be dropped); OSC 0 (title) and OSC 52
    (clipboard) are consumed by the emulator: nothing of them is shown or passed on."""
    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await type_command(pilot, "echo hello | grep --color=always ell", keys=False)
            line = next(line for line in _log(app).lines if line == "hello")
            styles = [(start, end, style) for start, end, style in getattr(line, "spans", ())
                      if style.color is not None]
            assert styles and styles[0][:2] == (1, 4), styles
            assert styles[0][2].color.name == "red" and styles[0][2].bold
            await type_command(pilot, r"printf '\e]0;pwned\a\e]52;c;cHduZWQ=\aok\n'", keys=False)
            text = console_text(app)
            assert "\nok\n" in text
            assert "pwned" not in text.replace("printf '\\e]0;pwned", "") and "]52" not in \
                text.replace("\\e]52", "")
            assert "\x1b" not in text and "\x07" not in text

    run(body())


def test_the_pty_follows_the_console_when_it_is_resized(lab, state_home):
    """A command running while the window grows reads the new width from its pty, and its
    output wraps at the new width."""
    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            before = _log(app).scrollable_content_region.width
            # the command waits (up to 20 s) until its pty is no longer `before` wide: under load a
            # fixed `sleep 2` could end before the resize reached it (seen in a CI run)
            wait = f"for i in $(seq 400); do [ \"$(tput cols)\" != {before} ] && break; sleep 0.05; done"
            await type_command(pilot, f"{wait}; echo cols $(tput cols); seq -s ' ' 1 200", wait=False,
                               keys=False)
            await wait_for(pilot, lambda: app.cmd_console.running, 20, "the command to start")
            await pilot.resize_terminal(160, 40)
            await wait_for(pilot, lambda: _log(app).scrollable_content_region.width != before, 20,
                           "the console to grow")
            after = _log(app).scrollable_content_region.width
            await wait_for(pilot, lambda: not app.cmd_console.running, 40, "the command to end")
            lines = list(_log(app).lines)
            assert f"cols {after}" in lines, lines[-8:]
            assert max(len(line) for line in lines[lines.index(f"cols {after}"):]) > before

    run(body())


def _waiting_in(lab) -> list[str]:
    """Console commands started ahead (`client.Standby`) that wait inside `lab`, as its `ps`
    shows them (the lab's own view: a plain account may not look into the lab's /proc links)."""
    shown = client.run("ps -eo pid=,args=", info=lab).stdout
    return [line.split()[0] for line in shown.splitlines() if 'read -r -d ""' in line]


def test_a_line_typed_before_a_reset_elsewhere_runs_in_the_new_lab(lab, lab_name, state_home):
    """While the student types, the command's process starts ahead (Enter -> first output is
    then a few ms): when `tutor reset` in another terminal switched the lab meanwhile, Enter
    runs the line in the lab as it is now. Closing the app leaves no such process behind."""
    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            app.cmd_console.insert("ip link add new0 type bridge")
            await wait_for(pilot, lambda: _waiting_in(lab), 15, "the command to be started ahead")
            lifecycle.reset(lab_name)
            await pilot.press("enter")
            await pilot.pause(0.05)
            await wait_for(pilot, lambda: not app.cmd_console.running, 20, "the command to end")
            assert client.run("ip link show new0").returncode == 0, console_text(app)
            app.cmd_console.insert("echo typed")
            await wait_for(pilot, lambda: _waiting_in(lab), 15, "the next one")
        deadline = time.monotonic() + 10
        while _waiting_in(lab) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not _waiting_in(lab)

    run(body())


def test_typing_and_output_do_not_lay_the_whole_screen_out(lab, state_home):
    """A key in the prompt and a line of output change only what those widgets hold: Textual
    laid the whole screen out for each (10-30 ms on 2 cores, on every key and every output
    line). The prompt still scrolls to its cursor; the log's scrollbar still knows its length,
    and the log follows the end."""
    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.result is not None, 15, "the first verification")
            await wait_for(pilot, lambda: bool(app.lab_view.snapshot.state.ns), 15, "the lab's first reading")
            layouts = 0
            screen = app.screen
            real = screen._refresh_layout

            def counted(*args, **kwargs):
                nonlocal layouts
                layouts += 1
                return real(*args, **kwargs)
            screen._refresh_layout = counted  # type: ignore[method-assign]
            # what the start left the app to do (on a busy machine the lab's first reading can
            # land late): done once 0.3 s pass without a layout
            deadline = time.monotonic() + 15
            while True:
                before = layouts
                await pilot.pause(0.3)
                if layouts == before:
                    break
                assert time.monotonic() < deadline, "the app never settled after its start"
            layouts = 0
            await pilot.press(*"echo " + "x" * 150)    # past the prompt's width: it scrolls
            assert app.cmd_console.prompt.value.endswith("x" * 150)
            assert app.cmd_console.prompt.scroll_x > 0
            assert layouts == 0, f"{layouts} layouts while typing"
            await pilot.press("ctrl+u")
            log = _log(app)
            for first, last in ((1, 60), (61, 90)):
                before = layouts
                await type_command(pilot, f"seq {first} {last}", keys=False)
                assert f"\n{last}\n" in console_text(app) + "\n"
                assert layouts == before, f"{layouts - before} layouts for {last - first + 1} lines"
                assert log.scroll_y == log.max_scroll_y > 0                 # the end in view
                assert log.vertical_scrollbar.window_virtual_size == log.virtual_size.height

    run(body())
