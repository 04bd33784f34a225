"""Pure tests of what the lab view shows: table rows, change marks, and the topology map."""

from __future__ import annotations

import subprocess
import sys

from tutor.app import tables, topomap
from tutor.lab import iptables
from tutor.lab.state import HOST, LabState, Link, NsState, Route
from tutor.lab.watch import LabSnapshot


def _link(ns, index, name, kind="", up=True, oper="UP", master=None, peer=None, elsewhere=False, addrs=()):
    return Link(name, ns, index, kind, up, oper if up else "DOWN", master, peer, 0 if elsewhere else None,
                list(addrs), f"aa:bb:cc:dd:ee:{index:02x}")


def _ns(name, *links, **rest):
    return NsState(name, links={l.name: l for l in links}, **rest)


def lesson2_snapshot() -> LabSnapshot:
    """The lab host with br0 and two ports, cabled to container10 and container11."""
    host = _ns(HOST,
               _link(HOST, 1, "lo", oper="UNKNOWN"),
               _link(HOST, 2, "eth0", "veth", peer=2, elsewhere=True, addrs=[("172.17.0.3", 16)]),
               _link(HOST, 3, "eth1", "veth", peer=2, elsewhere=True, addrs=[("192.168.1.2", 24)]),
               _link(HOST, 4, "br0", "bridge"),
               _link(HOST, 5, "brid10", "veth", master="br0", peer=2, elsewhere=True),
               _link(HOST, 6, "brid11", "veth", master="br0", peer=2, elsewhere=True),
               routes=[Route("default", "172.17.0.1", "eth0", "global")],
               iptables=iptables.parse("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n"
                                       "*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n"))
    c10 = _ns("container10", _link("container10", 1, "lo", up=False),
              _link("container10", 2, "veth10", "veth", peer=5, elsewhere=True, addrs=[("10.201.0.4", 24)]))
    c11 = _ns("container11", _link("container11", 1, "lo", up=False),
              _link("container11", 2, "veth11", "veth", peer=6, elsewhere=True, addrs=[("10.201.0.5", 24)]))
    return LabSnapshot(LabState(["container10", "container11"], {HOST: host, "container10": c10, "container11": c11},
                                sysctls={(HOST, "net.ipv4.ip_forward"): "0"}))


def test_rows_read_like_ip_brief():
    snap = lesson2_snapshot()
    links = tables.rows(snap.state.ns[HOST], "links")
    assert ("brid10@if2", "UP", "UP", "veth", "br0", "aa:bb:cc:dd:ee:05") in links
    assert tables.rows(snap.state.ns["container10"], "addresses") == [("veth10", "10.201.0.4/24", "UP")]
    assert tables.rows(snap.state.ns[HOST], "routes") == [("default", "172.17.0.1", "eth0", "global")]
    assert tables.rows(snap.state.ns[HOST], "rules") == [("nat", "-P PREROUTING ACCEPT"),
                                                         ("filter", "-P FORWARD ACCEPT")]


def test_diff_marks_new_and_gone_rows_only_against_a_baseline():
    before: list[tuple[str, ...]] = [("veth0", "DOWN"), ("lo", "UP")]
    after: list[tuple[str, ...]] = [("veth0", "UP"), ("lo", "UP")]
    assert tables.diff(None, after) == [(("veth0", "UP"), tables.SAME), (("lo", "UP"), tables.SAME)]
    assert tables.diff(before, after) == [(("veth0", "UP"), tables.NEW), (("lo", "UP"), tables.SAME),
                                          (("veth0", "DOWN"), tables.GONE)]


def test_map_pairs_veths_across_namespaces_and_shows_the_world():
    topo = topomap.describe(lesson2_snapshot())
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
    art = topomap.draw(topomap.describe(lesson2_snapshot()), 40).plain
    assert max(len(line) for line in art.splitlines()) <= 40
    assert topomap.describe(LabSnapshot()) is None
    assert "reading" in topomap.draw(None, 40).plain


def test_the_apps_lab_reading_modules_do_not_import_textual():
    """Like the core, the reading and drawing half of the app stays free of Textual."""
    code = ("import sys; import tutor.app, tutor.lab.netlink, tutor.lab.watch, tutor.lab.runner, "
            "tutor.app.tables, tutor.app.topomap; print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_what_moved_below_the_app_imports_no_ui_and_pyroute2_only_when_reading():
    """The watcher, the netlink reader, the runner, the keeper and the F2 shell live in tutor.lab:
    no Textual, no Rich; pyroute2 (~0.1 s) comes with the first NetlinkReader, not the import."""
    code = ("import sys; import tutor.lab.netlink, tutor.lab.watch, tutor.lab.watchfds, tutor.lab.runner, "
            "tutor.lab.keeper, tutor.lab.shell, tutor.lab.state, tutor.lab.iptables; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'rich', 'pyroute2'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_table_columns_fit_every_name_even_when_fed_faster_than_the_app_goes_idle():
    """Snapshots arriving back to back (a busy app) still show `brid10@if2` whole, not cut short."""
    import asyncio

    from textual.app import App
    from textual.widgets import DataTable

    from tutor.app.widgets.lab_view import LabView

    class Bare(App):
        def compose(self):
            yield LabView()

    async def body():
        app = Bare()
        async with app.run_test(size=(120, 30)) as pilot:
            view = app.query_one(LabView)
            view.show(LabSnapshot(LabState([], {HOST: _ns(HOST, _link(HOST, 1, "lo", oper="UNKNOWN"))})))
            view.mark_baseline()
            view.show(lesson2_snapshot())      # no pause: the table never went idle in between
            view.show(lesson2_snapshot())
            table = app.query_one("#table-links", DataTable)
            for y in range(table.size.height):   # a screen update that comes before the idle
                table.render_line(y)
            await pilot.pause()
            shown = "\n".join(table.render_line(y).text for y in range(table.size.height))
            assert "+ brid10@if2" in shown and "+ br0 " in shown, shown
            assert "aa:bb:cc:dd:ee:06" in shown, shown
            # and a narrower lab afterwards narrows the columns again
            view.show(LabSnapshot(LabState([], {HOST: _ns(HOST, _link(HOST, 1, "lo", oper="UNKNOWN"))})))
            await pilot.pause()
            header = table.render_line(0).text
            assert " interface  state " in header, header

    asyncio.run(body())
