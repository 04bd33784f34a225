"""The Packets view (F11) on a real lab: tcpdump in a namespace, its lines shown sanitized, and
nothing left running once the view closes or the app quits."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from textual.widgets import Input, Log

from pilot_helpers import console_text, run, type_command, wait_for
from tutor.app.app import TutorApp
from tutor.app.screens.packets import PacketsScreen
from tutor.lab import HOST, client, lifecycle
from tutor.lab.runner import group_members
from tutor.sanitize import cell

pytestmark = pytest.mark.lab
SIZE = (120, 40)
SLOW = 30   # seconds a condition may take on a loaded machine
# names and addresses of no lesson step: the checks never touch them
CABLE = ("ip netns add pk; ip link add pk0 type veth peer name pk1 netns pk; "
         "ip a add 10.99.1.2/24 dev pk0; ip link set pk0 up; "
         "ip -n pk a add 10.99.1.3/24 dev pk1; ip -n pk link set pk1 up")
HOSTILE = "pv\x1b]0;pwned\x07"   # an interface name that retitles the terminal, if printed raw


def _log(app) -> list[str]:
    return list(app.screen.query_one("#packets-log", Log).lines)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _capture_pids(screen: PacketsScreen) -> list[int]:
    """Every process of the running capture (nsenter … tcpdump), as this machine sees them."""
    assert screen.capture is not None and screen.capture.pid is not None
    return group_members(screen.capture.pid)


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _wait_gone(pids: list[int], timeout: float = SLOW) -> None:
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids):
        assert time.monotonic() < deadline, f"still running: {[(p, _comm(p)) for p in pids if _alive(p)]}"
        time.sleep(0.05)


async def _open_on(pilot, app, ns: str) -> PacketsScreen:
    await wait_for(pilot, lambda: ns in app.lab_view.snapshot.state.ns, SLOW, f"the watcher to see {ns}")
    assert app.lab_view.show_namespace(ns)
    await wait_for(pilot, lambda: app.lab_view.namespace == ns, SLOW, f"the lab view to show {ns}")
    await pilot.press("f11")
    await wait_for(pilot, lambda: isinstance(app.screen, PacketsScreen), SLOW, "the Packets view")
    assert isinstance(app.screen, PacketsScreen)
    return app.screen


@pytest.mark.slow(10)
def test_packets_show_a_ping_and_tcpdump_ends_when_the_view_closes(lab, state_home):
    """F11 captures on the lab view's namespace, first interface; Escape ends tcpdump."""
    client.run(CABLE)

    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            screen = await _open_on(pilot, app, "pk")
            assert screen.query_one("#packets-choice", Input).value == "pk pk1"
            assert screen.query_one("#packets-choice", Input).has_focus
            await wait_for(pilot, lambda: any(l.startswith("listening on pk1") for l in _log(app)),
                           SLOW, "tcpdump to listen")
            await wait_for(pilot, lambda: any(_comm(p) == "tcpdump" for p in _capture_pids(screen)),
                           SLOW, "the tcpdump process")
            pids = _capture_pids(screen)
            await asyncio.to_thread(client.run, "ping -c 3 -i 0.2 10.99.1.3")
            await wait_for(pilot, lambda: any("ICMP echo request" in l and "10.99.1.3" in l for l in _log(app)),
                           SLOW, "an ICMP line")
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, PacketsScreen), SLOW, "the view to close")
            await asyncio.to_thread(_wait_gone, pids)
            # the console has the keys again
            await type_command(pilot, "echo after-packets", timeout=SLOW)
            assert "\nafter-packets" in console_text(app)
        assert "tcpdump" not in client.run("ps -eo comm").stdout

    run(body())


def test_a_hostile_interface_name_is_shown_sanitized_and_quitting_ends_tcpdump(lab, state_home):
    """A name with an escape sequence reaches the screen as `^[`…; the app quitting with the
    view open ends the capture."""
    made = client.run("name=$(printf 'pv\\033]0;pwned\\007'); ip link add \"$name\" type veth peer name pw0 && "
                      "ip link set dev \"$name\" up && ip link set pw0 up")
    assert made.returncode == 0, made.stderr

    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: bool(app.lab_view.snapshot.state.link(HOSTILE, HOST)),
                           SLOW, "the watcher to see the interface")
            await pilot.press("f11")
            await wait_for(pilot, lambda: isinstance(app.screen, PacketsScreen), SLOW, "the Packets view")
            screen = app.screen
            assert isinstance(screen, PacketsScreen)
            await wait_for(pilot, lambda: any(_comm(p) == "tcpdump" for p in _capture_pids(screen)),
                           SLOW, "the first tcpdump (host eth0)")
            first = _capture_pids(screen)
            choice = screen.query_one("#packets-choice", Input)
            choice.value = f"host {cell(HOSTILE)}"      # typed as it is shown
            await pilot.press("enter")
            await asyncio.to_thread(_wait_gone, first)  # switching ended the first capture
            shown = "pv^[]0;pwned^G"
            await wait_for(pilot, lambda: any(l.startswith(f"listening on {shown}") for l in _log(app)),
                           SLOW, "tcpdump to listen on the hostile name")
            assert screen.capture is not None and screen.capture.iface == HOSTILE
            assert f"[tutor] capturing on host {shown}" in _log(app)
            assert shown in str(screen.query_one("#packets-choices").render())
            assert not any(ch in line for line in _log(app) for ch in "\x1b\x07")
            assert "\x1b" not in str(screen.query_one("#packets-box").border_title)
            await wait_for(pilot, lambda: any(_comm(p) == "tcpdump" for p in _capture_pids(screen)),
                           SLOW, "the tcpdump process")
            pids = _capture_pids(screen)
        await asyncio.to_thread(_wait_gone, pids)     # the app quit with the view open
        assert "tcpdump" not in client.run("ps -eo comm").stdout

    run(body())


def test_a_missing_interface_is_one_sentence(lab, state_home):
    """A name the namespace lacks is refused before tcpdump runs; one tcpdump refuses is its own
    error line."""
    client.run(CABLE)

    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            screen = await _open_on(pilot, app, "pk")
            choice = screen.query_one("#packets-choice", Input)
            choice.value = "pk nosuch0"
            await pilot.press("enter")
            assert screen.problem == "there is no interface nosuch0 in pk: it has lo, pk1"
            choice.value = "nowhere pk1"
            await pilot.press("enter")
            assert screen.problem.startswith("there is no namespace nowhere in the lab: it has host, ")
            screen.capture_on("pk", "nosuch0")       # the lab changed under the view: tcpdump says so
            await wait_for(pilot, lambda: screen.capture is None, SLOW, "tcpdump to fail")
            assert screen.problem.startswith("the capture failed: tcpdump: nosuch0: "), screen.problem
            assert "\n" not in screen.problem
            await pilot.press("f11")
            await wait_for(pilot, lambda: not isinstance(app.screen, PacketsScreen), SLOW, "the view to close")
        assert "tcpdump" not in client.run("ps -eo comm").stdout

    run(body())


def test_the_capture_ends_when_the_lab_goes_away(lab, state_home):
    """The lab stops under the view: tcpdump is gone and the view says why in one sentence."""
    client.run(CABLE)

    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            screen = await _open_on(pilot, app, "pk")
            await wait_for(pilot, lambda: any(_comm(p) == "tcpdump" for p in _capture_pids(screen)),
                           SLOW, "the tcpdump process")
            pids = _capture_pids(screen)
            await asyncio.to_thread(lifecycle.down, lab.name)
            await wait_for(pilot, lambda: screen.capture is None, SLOW, "the capture to end")
            await wait_for(pilot, lambda: screen.problem.startswith("the capture ended: the lab "), SLOW,
                           "the view to say the lab went away")
            assert "\n" not in screen.problem
            await asyncio.to_thread(_wait_gone, pids)

    run(body())
