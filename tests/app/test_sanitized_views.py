"""The lab view, the map and the checks show names made in the lab as inert text: controls
made visible, and a `[` never read as Textual markup. (Pure, and Pilot without a lab.)"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Tab, Tabs

from pilot_helpers import run, wait_for
from tutor.app import tables, topomap
from tutor.app.widgets.checks_list import ChecksList
from tutor.app.widgets.lab_view import LabView
from tutor.checks.engine import CheckResult, StepResult
from tutor.lab import iptables
from tutor.lab.state import HOST, LabState, Link, NsState
from tutor.lab.watch import LabSnapshot

NS = "x\x1b]0;pwned\x07"
MARKUP = "[@click=app.quit]q"     # as markup: a link that quits the app; shown: these 17 characters
VETH, PEER = "v\x1b#8", "w\x9b2J\u202e"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def _link(ns, index, name, kind="", master=None, peer=None, elsewhere=False, addrs=()):
    return Link(name, ns, index, kind, True, "UP", master, peer, 0 if elsewhere else None, list(addrs),
                f"aa:bb:cc:dd:ee:{index:02x}")


def _ns(name, *links, **rest):
    return NsState(name, links={l.name: l for l in links}, **rest)


def hostile_snapshot() -> LabSnapshot:
    host = _ns(HOST, _link(HOST, 1, "lo"),
               _link(HOST, 2, "eth0", "veth", peer=2, elsewhere=True, addrs=[("172.17.0.3", 16)]),
               _link(HOST, 3, "br\x1bc", "bridge"),
               _link(HOST, 4, VETH, "veth", master="br\x1bc", peer=2, elsewhere=True, addrs=[("10.0.0.1", 24)]),
               iptables=iptables.parse("*filter\n-A INPUT -m comment --comment \"\x1b]52;c;SGVsbG8=\x07\" -j ACCEPT"))
    ns = _ns(NS, _link(NS, 1, "lo"), _link(NS, 2, PEER, "veth", peer=4, elsewhere=True))
    other = _ns(MARKUP, _link(MARKUP, 1, "lo"))
    return LabSnapshot(LabState([NS, MARKUP], {HOST: host, NS: ns, MARKUP: other}))


def _inert(text: str) -> bool:
    return not any(ch in text for ch in RAW)


def test_table_cells_are_sanitized():
    snap = hostile_snapshot()
    cells = [c for t in tables.TABLES for name in snap.names()
             for row in tables.rows(snap.state.ns[name], t) for c in row]
    assert all(_inert(c) for c in cells)
    assert "v^[#8@if2" in cells and "br^[c" in cells and "w\\u009b2J\\u202e@if4" in cells
    assert "-A INPUT -m comment --comment \"^[]52;c;SGVsbG8=^G\" -j ACCEPT" in cells
    assert tables.namespace_label(NS) == "x^[]0;pwned^G" and tables.namespace_label(HOST) == "host"


def test_map_draws_names_sanitized():
    snap = hostile_snapshot()
    topo = topomap.describe(snap)
    assert topo is not None
    plain = topomap.draw(topo, 120).plain
    assert _inert(plain)
    assert "x^[]0;pwned^G" in plain and "br^[c" in plain and MARKUP in plain
    host = {i.name: i for i in topo.host.ifaces}
    assert host["br^[c"].ports == ["v^[#8"]                  # cabling still found by name
    assert host["v^[#8"].peer == "x^[]0;pwned^G:w\\u009b2J\\u202e"


class _ViewApp(App):
    def compose(self) -> ComposeResult:
        yield LabView(id="lab")
        yield ChecksList(id="checks")


def test_tabs_titles_and_checks_show_names_literally():
    async def body():
        app = _ViewApp()
        async with app.run_test(size=(120, 40)) as pilot:
            view = app.query_one(LabView)
            view.show(hostile_snapshot())   # (before its tabs are made: shown once they are)
            await wait_for(pilot, lambda: bool(view.query("#ns-tabs")), 20, "the view's tabs")
            tabs = app.query_one("#ns-tabs", Tabs)
            await wait_for(pilot, lambda: len(tabs.query(Tab)) == 3, 20, "three namespace tabs")
            labels = [t.label.plain for t in tabs.query(Tab)]
            assert labels == ["host", MARKUP, "x^[]0;pwned^G"]
            view.show_namespace(MARKUP)
            await wait_for(pilot, lambda: view.namespace == MARKUP, 20, "the markup-named tab")
            await pilot.pause()
            assert MARKUP in str(view.border_subtitle).replace("\\[", "[")   # getter escapes `[`
            checks = app.query_one(ChecksList)
            found = f"there is no namespace red (the lab has: {NS}, {MARKUP})"
            checks.show_result(StepResult(1, "t", False, [CheckResult("netns red", False, found, "")],
                                          hint=f"Create it; not {NS}"))
            await pilot.pause()
            shown = checks.text
            assert _inert(shown)
            assert "(the lab has: x^[]0;pwned^G, [@click=app.quit]q)" in shown
            assert "Hint: Create it; not x^[]0;pwned^G" in shown
            assert app.is_running                              # no markup link ran app.quit

    run(body())


def test_every_step_s_text_is_shown_sanitized():
    """A lesson file's text goes to the lesson pane with its controls made visible, the first
    step's and every later one's (a later step's went as it was)."""
    from textual.widgets import Markdown

    from tutor.app.widgets.lesson_view import LessonView
    from tutor.lessons.lesson import Lesson, Step

    steps = [Step(n, f"step {n}", f"Text {n} \x1b]0;pwned\x07 and \x9b2J.", [], [], 1) for n in (1, 2)]
    lesson = Lesson("hostile", "Hostile", "hostile.md", [], [], "", steps)

    class One(App):
        def compose(self) -> ComposeResult:
            yield LessonView(id="lesson")

    async def body():
        app = One()
        async with app.run_test(size=(100, 30)) as pilot:
            view = app.query_one(LessonView)
            for number in (1, 2):
                view.show(lesson, number, set())
                await wait_for(pilot, lambda: bool(view.query("#lesson-text")), 10, "the step's text")
                await wait_for(pilot, lambda n=number: f"Text {n}" in view.query_one("#lesson-text", Markdown).source,
                               10, f"step {number}'s text")
                source = view.query_one("#lesson-text", Markdown).source
                assert _inert(source), repr(source)

    run(body())
