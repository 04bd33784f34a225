"""What was read from the lab: plain data the judges look at (no I/O here)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

HOST = "host"


@dataclass
class Link:
    """One interface as `ip -d addr` shows it."""
    name: str
    ns: str
    ifindex: int
    kind: str = ""                  # veth, bridge, ... ("" for plain devices)
    admin_up: bool = False          # the UP flag: `ip link set X up` was done
    oper: str = "DOWN"              # operstate: UP only when the other end is up as well
    master: str | None = None
    peer_index: int | None = None   # veth: the other end's ifindex
    peer_nsid: int | None = None    # veth: the other end's namespace id, None = same namespace
    addrs: list[tuple[str, int]] = field(default_factory=list)

    def where(self) -> str:
        return f"{self.name} in {self.ns}" if self.ns != HOST else f"{self.name} on the lab host"


@dataclass
class Route:
    """One route of the main table."""
    dest: str                       # "default" or "A.B.C.D/P"
    gateway: str | None
    dev: str | None


@dataclass
class NsState:
    """Links and routes of one network namespace."""
    name: str
    links: dict[str, Link] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    nsids: dict[int, str] = field(default_factory=dict)   # netns id -> name (`ip netns list-id`)
    error: str = ""

    def by_index(self, index: int) -> Link | None:
        return next((l for l in self.links.values() if l.ifindex == index), None)


@dataclass
class Rule:
    """One iptables rule, as `iptables-save` prints it, split into its options."""
    table: str
    chain: str
    text: str
    opts: dict[str, str]
    matches: tuple[str, ...] = ()   # the options that select packets (before -j, comments left out)


@dataclass
class LabState:
    """Everything one observation read from the lab."""
    namespaces: list[str]
    ns: dict[str, NsState]
    rules: list[Rule] = field(default_factory=list)
    policies: dict[tuple[str, str], str] = field(default_factory=dict)  # (table, chain) -> policy
    sysctls: dict[tuple[str, str], str] = field(default_factory=dict)   # (ns, key) -> value
    resolv: dict[str, str | None] = field(default_factory=dict)         # ns -> file text / None
    probes: dict[str, tuple[bool, str]] = field(default_factory=dict)   # behaviour key -> (ok, found)
    prelude: tuple[int, str] | None = None   # (exit status, output) of commands run just before
    for_hints: bool = True   # False: what only explains a failed behaviour check was not read

    def links_named(self, name: str) -> list[Link]:
        """Every interface called `name`, in any namespace."""
        return [s.links[name] for s in self.ns.values() if name in s.links]

    def link(self, name: str, ns: str) -> Link | None:
        state = self.ns.get(ns)
        return state.links.get(name) if state else None

    def owners_of(self, ip: str) -> list[Link]:
        """Interfaces anywhere in the lab that carry address `ip`."""
        return [l for s in self.ns.values() for l in s.links.values() if any(a == ip for a, _ in l.addrs)]

    def peer_of(self, link: Link) -> Link | None:
        """The other end of a veth, wherever it lives."""
        if link.kind != "veth" or link.peer_index is None:
            return None
        if link.peer_nsid is None:
            return self.ns[link.ns].by_index(link.peer_index)
        name = self.ns[link.ns].nsids.get(link.peer_nsid)
        if name and name in self.ns:
            return self.ns[name].by_index(link.peer_index)
        for other in self.ns.values():   # id unknown from this side: find the end pointing back
            cand = other.by_index(link.peer_index)
            if other.name != link.ns and cand and cand.kind == "veth" and cand.peer_index == link.ifindex:
                return cand
        return None

    def nat_rules(self, chain: str) -> list[Rule]:
        return [r for r in self.rules if r.table == "nat" and r.chain == chain]


def in_subnet(ip: str, net: str) -> bool:
    """True when address `ip` lies in network `net`."""
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(net, strict=False)
    except ValueError:
        return False


def covers(outer: str, inner: str) -> bool:
    """True when network `outer` contains all of network `inner`."""
    try:
        return ipaddress.ip_network(inner, strict=False).subnet_of(ipaddress.ip_network(outer, strict=False))
    except (ValueError, TypeError):
        return False
