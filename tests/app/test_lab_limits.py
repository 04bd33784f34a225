"""Pilot tests: the app on a lab pushed to the limits of this process (issue 9).

A thousand namespaces, a low `ulimit -n`, a process that has run out of file descriptors: the
lab view follows as many namespaces as it may, says how many it left out, and the app goes on
running commands. Each test gets a private lab (`lab`) and ends everything it started.
"""

from __future__ import annotations

import os
import resource
from contextlib import contextmanager

import pytest

from pilot_helpers import console_text, run, type_command, wait_for
from tutor.app.app import TutorApp
from tutor.lab import client
from tutor.lab.watch import MAX_FOLLOWED

pytestmark = pytest.mark.lab
SIZE = (120, 40)


def _add_namespaces(count: int) -> None:
    """`count` namespaces n1..nCOUNT, in one `ip -batch` (a second or two for a thousand)."""
    batch = "".join(f"netns add n{i}\n" for i in range(1, count + 1))
    r = client.run("ip -batch -", input=batch, timeout=120)
    assert r.returncode == 0, r.stderr


@contextmanager
def _nofile(soft: int):
    """This process may open only `soft` files meanwhile (the hard limit stays)."""
    old = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, old)


def _watching(app) -> bool:
    """The lab watcher's worker is still running (an exception would have ended it)."""
    return any(w.group == "lab-watch" and w.is_running for w in app.workers)


def test_a_thousand_namespaces_neither_crash_nor_stall_the_app(lab, state_home):
    """1,100 namespaces made while the app runs (select() failed past fd 1023): the view
    follows MAX_FOLLOWED of them and says so, and the console still runs commands."""
    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.result is not None, 15, "the first verification")
            _add_namespaces(1100)
            await wait_for(pilot, lambda: "of 1100 namespaces" in app.lab_view.snapshot.note, 30,
                           "the view to say it follows fewer")
            snapshot = app.lab_view.snapshot
            assert f"following {MAX_FOLLOWED} of 1100" in snapshot.note
            assert len(snapshot.state.ns) == MAX_FOLLOWED + 1            # and the lab host
            assert snapshot.note in str(app.lab_view.border_subtitle)
            await type_command(pilot, "ip netns | wc -l", keys=False)
            assert "\n1100\n" in console_text(app) + "\n"
            assert _watching(app)
    run(body())


def test_a_low_ulimit_means_fewer_namespaces_followed_not_a_crash(lab, state_home):
    """300 namespaces under `ulimit -n 256`: fewer followed, said so; commands still run."""
    _add_namespaces(300)

    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: "of 300 namespaces" in app.lab_view.snapshot.note, 30,
                           "the view to say it follows fewer")
            assert "ulimit -n" in app.lab_view.snapshot.note
            followed = len(app.lab_view.snapshot.state.ns) - 1
            assert 0 < followed < 256
            await type_command(pilot, "ip netns add red", keys=False)
            await wait_for(pilot, lambda: app.result is not None and app.result.steps[0].checks[0].passed,
                           15, "the checks to see red")
            assert "[exit" not in console_text(app) and _watching(app)
    with _nofile(256):
        run(body())


def test_running_out_of_descriptors_meanwhile_is_said_and_survived(lab, state_home):
    """Something else takes every free descriptor while the watcher follows the lab: it
    notices (EMFILE), says it follows fewer, and follows the lab again once they are back."""
    _add_namespaces(20)

    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: len(app.lab_view.snapshot.state.ns) == 21, 15,
                           "every namespace followed")
            hogs = []
            try:
                while True:
                    hogs.append(os.open("/dev/null", os.O_RDONLY))
            except OSError:
                pass
            try:
                app.watcher.refresh(rules=True)      # the rules read needs a pipe: none left
                # first "ran out of file descriptors"; once it connects again while they are
                # still taken, "may open only N files": either way the view says why
                await wait_for(pilot, lambda: any(why in app.lab_view.snapshot.note for why in (
                    "ran out of file descriptors", "may open only")), 10, "the view to say so")
            finally:
                for fd in hogs:
                    os.close(fd)
            client.run("ip netns add red")    # the watcher connects again: with every one
            await wait_for(pilot, lambda: "red" in app.lab_view.snapshot.state.ns, 15,
                           "the watcher to follow the whole lab again")
            assert app.lab_view.snapshot.note == "" and _watching(app)
            await type_command(pilot, "ip netns | wc -l", keys=False)
            assert "\n21\n" in console_text(app) + "\n"
    with _nofile(1024):   # (fewer descriptors to take)
        run(body())


@pytest.mark.slow(15)
def test_many_namespaces_get_a_few_tabs_and_f9_or_plus_n_brings_the_rest(lab, state_home):
    """30 namespaces: MAX_TABS tabs and a "+N" one (a bar of 200 tabs made every relayout of the
    screen slow); F9 goes through every namespace, those without a tab too, and the table shows
    the one picked; "+N" brings the first without a tab."""
    from textual.widgets import DataTable, Tabs

    from tutor.app.widgets.lab_view import MAX_TABS, MORE

    def tab_labels(app) -> list[str]:
        return [str(t.label) for t in app.lab_view.query_one(Tabs).query("Tab")]

    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.result is not None, 15, "the first verification")
            client.run("ip -batch - <<'EOF'\n" + "".join(f"netns add n{i:02}\n" for i in range(30)) + "EOF")
            await wait_for(pilot, lambda: len(app.lab_view.snapshot.state.ns) == 31, 20, "30 namespaces")
            await wait_for(pilot, lambda: tab_labels(app)[-1:] == [f"+{31 - (MAX_TABS - 1)}"], 10, "the +N tab")
            assert len(tab_labels(app)) == MAX_TABS and tab_labels(app)[0] == "host"
            for _ in range(MAX_TABS):                      # host, n00 … n10, then n11: no tab before
                await pilot.press("f9")
            await wait_for(pilot, lambda: app.lab_view.namespace == "n11", 5, "n11 on screen")
            await wait_for(pilot, lambda: "n11" in tab_labels(app), 5, "n11's tab")
            assert len(tab_labels(app)) == MAX_TABS
            links = app.lab_view.query_one("#table-links", DataTable)
            await wait_for(pilot, lambda: any("lo" in str(links.get_row_at(i)[0]) for i in range(links.row_count)),
                           5, "n11's links")
            await pilot.click(f"#{MORE}")
            await wait_for(pilot, lambda: app.lab_view.namespace not in ("n11", "host")
                           and app.lab_view.namespace.startswith("n"), 5, "another namespace from +N")
            assert len(tab_labels(app)) == MAX_TABS
    run(body())
