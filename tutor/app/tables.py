"""The lab view's tables as plain rows, and what changed since a baseline (pure functions).

Rows read like `ip -br link`, `ip -br addr`, `ip route`, `ip neigh` and `iptables -S`, so what
the student sees in the tables matches what the same commands print in the console. Names and
rules are whatever was typed in the lab: every cell is shown through `tutor.sanitize.cell`, here,
so the view, its diff and its widths all see the same safe text.
"""

from __future__ import annotations

from tutor.i18n import Msg
from tutor.lab import iptables
from tutor.lab.state import HOST, Link, NsState
from tutor.sanitize import cell

TABLES = ("links", "addresses", "routes", "neighbours", "rules")
# Column headers: Msgs where a word is translated (`in_lang` shows them in the course's
# language); `dev`, `lladdr` and `mac` are ip's own words, the same in every language.
COLUMNS: dict[str, tuple[str, ...]] = {
    "links": (Msg("interface"), Msg("state"), Msg("flags"), Msg("type"), Msg("master"), "mac"),
    "addresses": (Msg("interface"), Msg("address"), Msg("state")),
    "routes": (Msg("destination"), Msg("via"), "dev", Msg("scope")),
    "neighbours": (Msg("address"), "dev", "lladdr", Msg("state")),
    "rules": (Msg("table"), Msg("rule")),
}
NEW, SAME, GONE = "new", "same", "gone"


def link_label(ns: NsState, link: Link) -> str:
    """`veth0@veth1`, `veth1@if5` (peer in another namespace), or just the name."""
    if link.peer_index and link.kind == "veth":
        peer = f"if{link.peer_index}" if link.peer_nsid is not None else ns.name_of(link.peer_index)
        return f"{link.name}@{peer}"
    return link.name


def rows(ns: NsState | None, table: str) -> list[tuple[str, ...]]:
    """The rows of one table for one namespace, every cell sanitized for the screen."""
    return [tuple(cell(str(c)) for c in row) for row in _raw_rows(ns, table)]


def _raw_rows(ns: NsState | None, table: str) -> list[tuple[str, ...]]:
    if ns is None:
        return []
    links = ns.links.values()
    if table == "links":
        return [(link_label(ns, l), l.oper, "UP" if l.admin_up else "DOWN", l.kind or "-",
                 l.master or "-", l.mac) for l in links]
    if table == "addresses":
        return [(l.name, f"{a}/{p}", l.oper) for l in links for a, p in l.addrs]
    if table == "routes":
        return [(r.dest, r.gateway or "-", r.dev or "-", r.scope) for r in ns.routes]
    if table == "neighbours":
        return [(n.address, n.dev, n.lladdr or "-", n.state) for n in ns.neighs]
    if table == "rules":
        return rule_rows(ns.iptables)
    raise KeyError(table)


def rule_rows(rules: iptables.Iptables | None) -> list[tuple[str, ...]]:
    """(table, rule) rows: what `iptables -t nat -S` and then `iptables -S` print."""
    if rules is None:
        return []
    return [(table, line) for table in ("nat", "filter") for line in iptables.listing(rules, table)]


def diff(before: list[tuple[str, ...]] | None, after: list[tuple[str, ...]]) -> list[tuple[tuple[str, ...], str]]:
    """Rows of `after` marked NEW or SAME against `before`, then the rows that are GONE.

    With no baseline (`before` None) nothing is marked: there is no "since" yet.
    """
    if before is None:
        return [(row, SAME) for row in after]
    had = set(before)
    now = set(after)
    marked = [(row, SAME if row in had else NEW) for row in after]
    return marked + [(row, GONE) for row in before if row not in now]


def namespace_label(name: str) -> str:
    """How a namespace is named in the view (sanitized): the lab host is `host`."""
    return "host" if name == HOST else cell(name)
