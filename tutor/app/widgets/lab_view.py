"""The lab view: the live tables of one namespace (picked with tabs) and the topology map.

Rows that appeared since the last command are marked `+` and highlighted; rows that went
away are shown struck through with `-`, so the student sees exactly what a command changed.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static, Tab, TabbedContent, TabPane, Tabs

from tutor.app import tables
from tutor.app.widgets.topology import TopologyMap
from tutor.i18n import Msg, _, in_lang, lang
from tutor.lab.state import HOST, IP_FORWARD
from tutor.lab.watch import LabSnapshot
from tutor.sanitize import clean

STYLE = {tables.NEW: "bold yellow", tables.GONE: "dim strike", tables.SAME: ""}
MARK = {tables.NEW: "+ ", tables.GONE: "- ", tables.SAME: "  "}
TAB_TITLES: dict[str, str] = {"links": Msg("links"), "addresses": Msg("addr"), "routes": Msg("routes"),
                              "neighbours": "arp", "rules": "iptables", "map": Msg("map")}


def tab_title(name: str) -> str:
    """The tab of table `name` (or "map"), in the course's language."""
    return in_lang(TAB_TITLES[name], lang())

Baseline = dict[str, dict[str, list[tuple[str, ...]]]]
# namespace tabs at once (the lab host's among them); past it, the last tab reads "+N" and F9 or
# a click on it brings the others in turn. A tab bar of 200 (all a lab of 1,000 namespaces
# follows) made every relayout of the screen measure 200 tabs (issue 15).
MAX_TABS = 12
MORE = "ns-more"


def _table(name: str) -> DataTable:
    return DataTable(id=f"table-{name}", show_cursor=False, zebra_stripes=True)


class LabView(Vertical):
    """Namespace tabs above table tabs; `show()` feeds it a LabSnapshot.

    Its tabs and first table are made right after the app's first frame, not with it: they
    were ~30 of the ~75 widgets of that frame, and ~45 ms of the first paint (issue 13); the
    lab's first reading comes after that frame anyway. Each other table, and the map, is made
    the first time its tab is shown (four tables and a map that no one sees yet were ~8% more).
    What comes before the tabs do is kept and shown once they are there."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.snapshot = LabSnapshot()
        self.baseline: Baseline | None = None
        self.namespace = HOST
        self._tab_ids: dict[str, str] = {}   # namespace -> tab id (names may not be valid ids)
        self._next_tab = 0
        self._mounting: dict[str, AwaitComplete] = {}   # tab id -> its mounting, while `_pick` may wait on it
        self.built = False          # its tabs are made and mounted (`_build`)
        self._building = False
        self._table_wanted = ""     # a table asked for before that, shown once they are

    def on_mount(self) -> None:
        self.call_after_refresh(self._build)

    async def _build(self) -> None:
        self._building = True
        await self.recompose()
        self.built = True
        if self.snapshot.state.ns:
            self.show(self.snapshot)
        if self._table_wanted:
            self.show_table(self._table_wanted)

    def compose(self) -> ComposeResult:
        if not self._building:
            return
        yield Tabs(Tab("host", id="ns-0"), id="ns-tabs")
        self._tab_ids[HOST] = "ns-0"
        with TabbedContent(id="lab-tables"):
            for name in tables.TABLES:
                with TabPane(tab_title(name), id=f"pane-{name}"):
                    if name == "routes":
                        yield Static(id="forwarding")
                    if name == tables.TABLES[0]:
                        yield _table(name)
            yield TabPane(tab_title("map"), id="pane-map")

    # -- feeding -------------------------------------------------------------------------------
    def show(self, snapshot: LabSnapshot) -> None:
        """A fresh reading of the lab."""
        self.snapshot = snapshot
        if self.baseline is None and snapshot.state.ns:
            self.mark_baseline()
        if not self.built:
            return
        self._sync_tabs()
        self._fill()
        for shown in self.query("#tab-map").results(TopologyMap):
            shown.show(snapshot)

    def mark_baseline(self) -> None:
        """Remember the lab as it is now: later changes are highlighted against it."""
        self.baseline = {ns: {t: tables.rows(state, t) for t in tables.TABLES}
                         for ns, state in self.snapshot.state.ns.items()}

    def select_next_namespace(self) -> None:
        """Cycle through the lab host and the namespaces (those without a tab too)."""
        if not self.built:
            return
        names = self.snapshot.names() or [HOST]
        i = names.index(self.namespace) if self.namespace in names else -1
        self._pick(names[(i + 1) % len(names)])

    def select_next_table(self) -> None:
        """Cycle through the tables and the map."""
        if not self.built:
            return
        names = [*tables.TABLES, "map"]
        active = self.query_one(TabbedContent).active.removeprefix("pane-")
        self.show_table(names[(names.index(active) + 1) % len(names)] if active in names else names[0])

    def show_namespace(self, name: str) -> bool:
        """Bring namespace `name` (HOST the lab host) to the front; False while it has no tab yet."""
        if name not in self._tab_ids:
            return False
        self._select(name)
        return True

    def show_table(self, name: str) -> None:
        """Bring table `name` (one of `tables.TABLES`, or "map") to the front."""
        if not self.built:
            self._table_wanted = name
            return
        self._make(name)
        self.query_one(TabbedContent).active = f"pane-{name}"

    @on(TabbedContent.TabActivated, "#lab-tables")
    def _table_shown(self, event: TabbedContent.TabActivated) -> None:
        """A table's tab came to the front (a click, say): its table is made now if it was not yet."""
        self._make((event.pane.id or "").removeprefix("pane-"))

    def _make(self, name: str) -> None:
        """Table `name`'s widget (or the map's), the first time it is to be shown."""
        found = self.query(f"#pane-{name}")
        if not found:
            return
        pane = found.first(TabPane)
        if name == "map":
            if not pane.query("#tab-map"):
                topology = TopologyMap(id="tab-map")
                pane.mount(topology)
                topology.show(self.snapshot)
        elif not pane.query(DataTable):
            pane.mount(_table(name))
            self._fill()

    def _select(self, name: str) -> None:
        if name in self._tab_ids:
            self._activate(self._tab_ids[name])

    def _activate(self, tab_id: str) -> None:
        """Make tab `tab_id` the active one, if it is mounted (Tabs refuses one that is not)."""
        tabs = self.query_one(Tabs)
        if tabs.query(f"#tabs-list > #{tab_id}"):
            tabs.active = tab_id

    async def _activate_mounted(self, tab_id: str, mounting: AwaitComplete | None) -> None:
        if mounting is not None:
            await mounting
        self._activate(tab_id)
        self._sync_tabs()   # now the tab that was active may go

    def _pick(self, name: str) -> None:
        """Put namespace `name` on screen, giving it a tab first if it has none (`MAX_TABS`)."""
        if name in self._tab_ids:
            self._select(name)
            return
        self.namespace = name
        self._sync_tabs()
        self._fill()
        self.post_message(self.NamespacePicked(name))
        tab_id = self._tab_ids.get(name)
        if tab_id:
            self.call_later(self._activate_mounted, tab_id, self._mounting.pop(tab_id, None))

    # -- internals ---------------------------------------------------------------------------
    def _tab_names(self, names: list[str]) -> list[str]:
        """The namespaces that get a tab: the first MAX_TABS - 1, the one on screen among them."""
        if len(names) <= MAX_TABS:
            return names
        shown = names[:MAX_TABS - 1]
        if self.namespace in names and self.namespace not in shown:
            shown[-1] = self.namespace
        return shown

    def _sync_tabs(self) -> None:
        """A tab per namespace, added and removed as namespaces come and go (at most MAX_TABS;
        then a last tab "+N" for the rest)."""
        tabs = self.query_one(Tabs)
        self._mounting.clear()
        names = self.snapshot.names() if self.snapshot.state.ns else [HOST]
        if self.namespace not in names:
            self.namespace = HOST
        shown = self._tab_names(names)
        more = self._more_tab()
        for name in list(self._tab_ids):
            # the active tab goes only once another is active (`_activate_mounted` syncs again):
            # removed first, Tabs would activate its neighbour and put that on screen instead
            if name not in shown and (name not in names or tabs.active != self._tab_ids[name]):
                tabs.remove_tab(self._tab_ids.pop(name))
        for name in shown:
            if name not in self._tab_ids:
                self._next_tab += 1
                tab_id = self._tab_ids[name] = f"ns-{self._next_tab}"
                # a Text, not a str: Textual reads a str label as markup (`[@click=…]`)
                self._mounting[tab_id] = tabs.add_tab(Tab(Text(tables.namespace_label(name)), id=tab_id),
                                                      before=more)
        hidden = len(names) - len(shown)
        if hidden and more is None:
            tabs.add_tab(Tab(Text(f"+{hidden}"), id=MORE))
        elif hidden and more is not None:
            more.label = Text(f"+{hidden}")
        elif more is not None:
            tabs.remove_tab(MORE)

    def _more_tab(self) -> Tab | None:
        found = self.query(f"#{MORE}")
        return found.first(Tab) if found else None

    class NamespacePicked(Message):
        """The namespace on screen changed (its iptables are read from now on)."""

        def __init__(self, name: str):
            super().__init__()
            self.name = name

    @on(Tabs.TabActivated, "#ns-tabs")
    def _namespace_picked(self, event: Tabs.TabActivated) -> None:
        event.stop()
        if event.tab.id == MORE:   # the first namespace without a tab comes on screen
            names = self.snapshot.names()
            self._pick(next((n for n in names if n not in self._tab_ids), HOST))
            return
        picked = next((n for n, t in self._tab_ids.items() if t == event.tab.id), HOST)
        if picked != self.namespace:
            self.namespace = picked
            self._fill()
            self.post_message(self.NamespacePicked(picked))

    def _set_columns(self, table: DataTable, name: str, rows: list[list[Text]]) -> None:
        """Give each column the width of its widest cell, set here rather than measured later.

        DataTable measures new rows only when it next goes idle; a busy app could show a
        table whose rows were never measured, with `veth0@veth1` cut to `veth0@ve`.
        """
        code = lang()
        labels = [in_lang(label, code) for label in tables.COLUMNS[name]]
        widths = [max([cell_len(label), *(row[i].cell_len for row in rows)])
                  for i, label in enumerate(labels)]
        if [c.width for c in table.ordered_columns] != widths:
            table.clear(columns=True)
            for label, width in zip(labels, widths, strict=True):
                table.add_column(label, width=width)

    def _fill(self) -> None:
        ns = self.snapshot.state.ns.get(self.namespace)
        before_ns = None if self.baseline is None else self.baseline.get(self.namespace, {})
        for name in tables.TABLES:
            before = None if before_ns is None else before_ns.get(name, [])
            marked = tables.diff(before, tables.rows(ns, name))
            for table in self.query(f"#table-{name}").results(DataTable):   # once it is made
                rows = [[Text(MARK[status] + row[0], style=STYLE[status]),
                         *(Text(c, style=STYLE[status]) for c in row[1:])] for row, status in marked]
                self._set_columns(table, name, rows)
                table.clear()
                for cells in rows:
                    table.add_row(*cells)
            changed = sum(status != tables.SAME for _, status in marked)
            # a label or a line set, even to what it says, lays the whole screen out: only changes
            label = tab_title(name) + (f" +{changed}" if changed else "")
            pane = self.query_one(TabbedContent).get_tab(f"pane-{name}")
            if pane.label_text != label:
                pane.label = label
        fwd = self.snapshot.state.sysctls.get((self.namespace, IP_FORWARD), "")
        routes = "  " + _("(this namespace routes packets between interfaces)") if fwd == "1" else ""
        line, forwarding = f"ip_forward = {fwd or '?'}{routes}", self.query_one("#forwarding", Static)
        if forwarding.content != line:
            forwarding.update(line)
        # border titles read a str as markup: Text keeps a `[` in a name a `[`
        if self.snapshot.error:
            self.border_subtitle = Text(clean(self.snapshot.error))
        else:
            live = _("{ns} · live").format(ns=tables.namespace_label(self.namespace))
            self.border_subtitle = Text(f"{live} · {clean(self.snapshot.note)}" if self.snapshot.note else live)
