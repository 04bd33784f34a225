"""Pure tests of what the lab view shows: table rows, change marks, and the topology map, on a
lab state recorded from a real lab (`recorded.py`). How it looks is in `test_snapshots.py`."""

from __future__ import annotations

import subprocess
import sys

from recorded import load
from tutor.app import tables, topomap
from tutor.lab.state import HOST, LabState, Link, NsState
from tutor.lab.watch import LabSnapshot


def _lo_only() -> LabSnapshot:
    """A lab host with nothing but loopback (the narrowest table there is)."""
    lo = Link("lo", HOST, 1, "", True, "UNKNOWN", None, None, None, [], "00:00:00:00:00:00")
    return LabSnapshot(LabState([], {HOST: NsState(HOST, links={"lo": lo})}))


def lesson2() -> LabSnapshot:
    """Lesson 2 finished, as the watcher read it from a real lab: the lab host with br0 and two
    ports, cabled to container10 and container11 (recorded; see tests/app/recorded.py)."""
    return load("lesson2-done").snapshot


def test_rows_read_like_ip_brief():
    snap = lesson2()
    links = tables.rows(snap.state.ns[HOST], "links")
    brid10, veth10 = snap.state.link("brid10", HOST), snap.state.link("veth10", "container10")
    assert brid10 is not None and veth10 is not None and brid10.peer_index == veth10.ifindex
    assert (f"brid10@if{veth10.ifindex}", "UP", "UP", "veth", "br0", brid10.mac) in links
    assert tables.rows(snap.state.ns["container10"], "addresses") == [("veth10", "10.201.0.4/24", "UP")]
    assert tables.rows(snap.state.ns[HOST], "routes")[0] == ("default", "172.17.0.1", "eth0", "global")
    # tables nobody used yet: their built-in chains, as `iptables -S` lists them
    assert tables.rows(snap.state.ns[HOST], "rules") == [
        ("nat", "-P PREROUTING ACCEPT"), ("nat", "-P INPUT ACCEPT"), ("nat", "-P OUTPUT ACCEPT"),
        ("nat", "-P POSTROUTING ACCEPT"),
        ("filter", "-P INPUT ACCEPT"), ("filter", "-P FORWARD ACCEPT"), ("filter", "-P OUTPUT ACCEPT")]


def test_diff_marks_new_and_gone_rows_only_against_a_baseline():
    before: list[tuple[str, ...]] = [("veth0", "DOWN"), ("lo", "UP")]
    after: list[tuple[str, ...]] = [("veth0", "UP"), ("lo", "UP")]
    assert tables.diff(None, after) == [(("veth0", "UP"), tables.SAME), (("lo", "UP"), tables.SAME)]
    assert tables.diff(before, after) == [(("veth0", "UP"), tables.NEW), (("lo", "UP"), tables.SAME),
                                          (("veth0", "DOWN"), tables.GONE)]


def test_map_pairs_veths_across_namespaces_and_shows_the_world():
    topo = topomap.describe(lesson2())
    assert topo is not None
    host = {i.name: i for i in topo.host.ifaces}
    assert host["brid10"].peer == "container10:veth10"
    assert host["br0"].ports == ["brid10", "brid11"]
    assert host["eth0"].peer == "internet"
    assert [b.name for b in topo.namespaces] == ["container10", "container11"]
    assert all(b.to_host for b in topo.namespaces)
    assert topo.namespaces[0].ifaces[1].peer == "host:brid10"
    art = topomap.draw(topo, 100).plain
    assert "lab host" in art and "internet" in art and "192.168.1.3" in art
    assert "├ brid10 up ⇄ container10:veth10" in art
    assert "veth10 up 10.201.0.4/24 ⇄ host:brid10" in art
    assert max(len(line) for line in art.splitlines()) <= 100


def test_map_fits_narrow_widths_and_an_unread_lab():
    art = topomap.draw(topomap.describe(lesson2()), 40).plain
    assert max(len(line) for line in art.splitlines()) <= 40
    assert topomap.describe(LabSnapshot()) is None
    assert "reading" in topomap.draw(None, 40).plain


def test_the_apps_lab_reading_modules_do_not_import_textual():
    """Like the core, the reading and drawing half of the app stays free of Textual."""
    code = ("import sys; import tutor.app, tutor.lab.netlink, tutor.lab.watch, tutor.lab.runner, "
            "tutor.app.tables, tutor.app.topomap; print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_app_imports_the_screens_a_key_opens_when_it_opens_them():
    """Help, lessons, packets, trace and the questions are not imported with the app (issue 13:
    ~5 ms of its first paint)."""
    screens = ["tutor.app.screens.confirm", "tutor.app.screens.help", "tutor.app.screens.lessons",
               "tutor.app.screens.packets", "tutor.app.screens.trace", "tutor.checks.trace"]
    code = f"import sys; import tutor.app.app; print(sorted(m for m in {screens!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_what_moved_below_the_app_imports_no_ui_and_no_pyroute2():
    """The watcher, the netlink reader, the runner, the keeper and the F2 shell live in tutor.lab:
    no Textual, no Rich, no pyroute2 (0.17-0.3 s; tutor.lab.rtnl reads the dumps, and
    tests/lab/test_rtnl.py shows that a reading imports none either)."""
    code = ("import sys; import tutor.lab.netlink, tutor.lab.watch, tutor.lab.watchfds, tutor.lab.runner, "
            "tutor.lab.keeper, tutor.lab.shell, tutor.lab.state, tutor.lab.iptables; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'rich', 'pyroute2'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_table_columns_fit_every_name_even_when_fed_faster_than_the_app_goes_idle():
    """Snapshots arriving back to back (a busy app) still show `brid10@ifN` whole, not cut short."""
    import asyncio

    from textual.app import App
    from textual.widgets import DataTable

    from tutor.app.widgets.lab_view import LabView

    lab = lesson2().state
    veth10, brid11 = lab.link("veth10", "container10"), lab.link("brid11", HOST)
    assert veth10 is not None and brid11 is not None
    ifindex, brid11_mac = veth10.ifindex, brid11.mac   # the last column's widest cells

    class Bare(App):
        def compose(self):
            yield LabView()

    async def body():
        app = Bare()
        async with app.run_test(size=(120, 30)) as pilot:
            view = app.query_one(LabView)
            while not view.query("#table-links"):   # made after the first frame
                await pilot.pause()
            view.show(_lo_only())
            view.mark_baseline()
            view.show(lesson2())      # no pause: the table never went idle in between
            view.show(lesson2())
            table = app.query_one("#table-links", DataTable)
            for y in range(table.size.height):   # a screen update that comes before the idle
                table.render_line(y)
            await pilot.pause()
            shown = "\n".join(table.render_line(y).text for y in range(table.size.height))
            assert f"+ brid10@if{ifindex}" in shown and "+ br0 " in shown, shown
            assert brid11_mac in shown, shown
            # and a narrower lab afterwards narrows the columns again
            view.show(_lo_only())
            await pilot.pause()
            header = table.render_line(0).text
            assert " interface  state " in header, header

    asyncio.run(body())


def _hangul_lab() -> LabSnapshot:
    """The lab host cabled to a namespace named in Hangul (`ip netns add 빨강`), whose end of
    the cable is named in Hangul too, next to the recorded lesson 2."""
    snap = lesson2()
    host = snap.state.ns[HOST]
    host.links["브리지끝"] = Link("브리지끝", HOST, 90, "veth", True, "UP", None, 2, 7, [("10.9.0.1", 24)])
    red = NsState("빨강", links={"빨강끝": Link("빨강끝", "빨강", 2, "veth", True, "UP", None, 90, 0,
                                               [("10.9.0.2", 24)])})
    red.nsids[0] = HOST
    host.nsids[7] = "빨강"
    snap.state.ns["빨강"] = red
    return snap


def test_the_map_measures_hangul_names_in_cells():
    """A Hangul name takes two cells a character: boxes are as wide as what they hold, their
    right edges line up, and no line is wider than the map, at any width."""
    from rich.cells import cell_len
    topo = topomap.describe(_hangul_lab())
    assert topo is not None and "빨강" in [b.name for b in topo.namespaces]
    for width in (100, 60, 40, 30):
        art = topomap.draw(topo, width)
        lines = art.plain.splitlines()
        assert max(cell_len(line) for line in lines) <= width, art.plain
        assert all(line.rstrip() == line[:len(line.rstrip())] for line in lines)
    art_text = topomap.draw(topo, 100).plain
    assert "╭─ 빨강 ─" in art_text and "빨강끝 up 10.9.0.2/24 ⇄ host:브리지끝" in art_text, art_text
    assert "브리지끝 up 10.9.0.1/24 ⇄ 빨강:빨강끝" in art_text, art_text
    # the box of 빨강: its right border is where its top-right corner is, on every line of it
    lines = art_text.splitlines()
    top = next(n for n, line in enumerate(lines) if "╭─ 빨강 ─" in line)
    start = lines[top].index("╭─ 빨강 ─")
    right = cell_len(lines[top][:start]) + cell_len(lines[top][start:].split("╮")[0])
    for line in lines[top + 1:top + 3]:
        cells_before = [cell_len(line[:i]) for i, ch in enumerate(line) if ch in "│╯"]
        assert right in cells_before, (line, right, cells_before)


def test_the_map_speaks_korean(monkeypatch):
    monkeypatch.setenv("TUTOR_LANG", "ko")
    assert topomap.draw(None, 40).plain == "실습 환경을 읽는 중…"
    assert "╭─ 실습 호스트 ─" in topomap.draw(topomap.describe(lesson2()), 100).plain


def test_the_view_makes_its_tabs_after_the_first_frame_and_shows_what_came_before():
    """The lab view's tabs and table come one frame after the app's (issue 13: ~45 ms of the
    first paint); a reading and a table asked for before then are shown once they are there."""
    import asyncio

    from textual.app import App
    from textual.widgets import DataTable, Tabs

    from pilot_helpers import wait_for
    from tutor.app.widgets.lab_view import LabView

    frames: list[bool] = []   # whether the view had its tabs, at each frame the app drew

    class Bare(App):
        def compose(self):
            yield LabView()

        def on_mount(self) -> None:
            view = self.query_one(LabView)
            view.show(lesson2())
            view.show_table("addresses")

        def _display(self, screen, renderable) -> None:
            frames.append(bool(self.query("#ns-tabs")))
            super()._display(screen, renderable)

    async def body():
        app = Bare()
        async with app.run_test(size=(120, 30)) as pilot:
            view = app.query_one(LabView)
            await wait_for(pilot, lambda: bool(view.query("#table-addresses")), 10, "the addresses table")
            assert frames and frames[0] is False, frames
            tabs = app.query_one("#ns-tabs", Tabs)
            await wait_for(pilot, lambda: len(tabs.query("Tab")) == 3, 10, "a tab per namespace")
            table = app.query_one("#table-addresses", DataTable)
            await pilot.pause()
            shown = "\n".join(table.render_line(y).text for y in range(table.size.height))
            assert "eth0" in shown and "172.17.0.3/16" in shown, shown

    asyncio.run(body())


def test_keys_for_the_lab_view_while_it_makes_its_tabs_wait_for_them():
    """A table or namespace asked for while the view is still making its tabs (F-keys pressed
    at once, the bench's Pilot) is neither lost nor an error: the table comes once they are."""
    import asyncio

    from textual.app import App
    from textual.widgets import TabbedContent

    from pilot_helpers import wait_for
    from tutor.app.widgets.lab_view import LabView

    class SlowView(LabView):
        async def recompose(self) -> None:
            await asyncio.sleep(0.1)   # the window in which its tabs are on their way
            await super().recompose()

    class Bare(App):
        def compose(self):
            yield SlowView()

    async def body():
        app = Bare()
        async with app.run_test(size=(120, 30)) as pilot:
            view = app.query_one(SlowView)
            await wait_for(pilot, lambda: view._building, 10, "the tabs on their way")
            view.show(lesson2())
            view.show_table("routes")
            view.select_next_table()
            view.select_next_namespace()
            assert not view.show_namespace("container10")
            await wait_for(pilot, lambda: view.built, 10, "the tabs made")
            await pilot.pause()
            assert app.query_one(TabbedContent).active == "pane-routes"
            assert view.query("#table-routes")

    asyncio.run(body())


def test_the_lab_down_banner_is_empty_until_the_lab_goes_down():
    """Its Button's default CSS (~7 ms to parse) was the only Button on the main screen and held
    back the app's first frame (issue 13): nothing of the banner exists until it is shown, and
    showing it twice says the newer sentence once."""
    import asyncio

    from textual.app import App
    from textual.widgets import Button, Static

    from tutor.app.widgets.lab_down import LabDownBanner

    parsed: list[bool] = []   # whether Button's default CSS was in the stylesheet, at each frame

    class Bare(App):
        def compose(self):
            yield LabDownBanner(id="lab-down")

        def _display(self, screen, renderable) -> None:
            parsed.append(any("Button.DEFAULT_CSS" in where for where, _ in self.stylesheet.source))
            super()._display(screen, renderable)

    async def body():
        app = Bare()
        async with app.run_test(size=(100, 20)) as pilot:
            banner = app.query_one(LabDownBanner)
            banner.display = False
            await pilot.pause()
            assert parsed and not any(parsed) and not banner.query(Button), parsed
            banner.show_down("the lab 'x' stopped (agent pid 1 is gone)", 2)
            banner.show_down("the lab 'x' stopped (agent pid 2 is gone)", 3)
            await pilot.pause()
            assert banner.display and len(banner.query(Button)) == 1
            text = str(banner.query_one("#lab-down-text", Static).render())
            assert "agent pid 2" in text and "step 3" in text and "pid 1" not in text, text

    asyncio.run(body())
