"""The lab's state as plain data: the one model that both readers of the lab fill.

The checks fill it from `ip -j` and `iptables-save` output (`tutor.checks.observe`), the app's
watcher from netlink dumps (`tutor.lab.netlink`) and the same `iptables-save`
(`tutor.lab.watch`); the judges, the hints, the app's tables and its map all read it. Where both
readers read a fact (an interface, its addresses, a route), they write it the same way:
`tests/lab/test_state_readers.py` holds them to that on a real lab.

The lab host is the namespace named HOST (`tutor.lab.HOST`, "host") everywhere, never "".
No I/O here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from tutor.lab import HOST
from tutor.lab.iptables import Iptables, Rule

IP_FORWARD = "net.ipv4.ip_forward"


@dataclass
class Link:
    """One interface, as `ip -d addr` shows it."""
    name: str
    ns: str                         # the namespace it is in (HOST for the lab host)
    ifindex: int
    kind: str = ""                  # veth, bridge, ... ("" for plain devices and loopback)
    admin_up: bool = False          # the UP flag: `ip link set X up` was done
    oper: str = "DOWN"              # operstate: UP only when the other end is up as well
    master: str | None = None       # the bridge this is a port of
    peer_index: int | None = None   # veth: the other end's ifindex (vlan, macvlan: the parent's)
    peer_nsid: int | None = None    # veth: the other end's namespace id, None = same namespace
    addrs: list[tuple[str, int]] = field(default_factory=list)   # IPv4 (address, prefix length)
    mac: str = ""


@dataclass
class Route:
    """One IPv4 route of the main table."""
    dest: str                       # "default" or "A.B.C.D/P" (a host route too: "/32")
    gateway: str | None = None
    dev: str | None = None
    scope: str = "global"


@dataclass
class Neigh:
    """One neighbour (ARP) entry (only the app's watcher reads these)."""
    address: str
    dev: str
    lladdr: str
    state: str


@dataclass
class NsState:
    """One network namespace (or the lab host): its interfaces, routes and rules."""
    name: str
    links: dict[str, Link] = field(default_factory=dict)   # by name, in ifindex order
    routes: list[Route] = field(default_factory=list)
    neighs: list[Neigh] = field(default_factory=list)
    nsids: dict[int, str] = field(default_factory=dict)   # netns id -> name (`ip netns list-id`)
    iptables: Iptables | None = None                      # None: not read
    error: str = ""

    def by_index(self, index: int) -> Link | None:
        """The interface with that ifindex, if any."""
        return next((l for l in self.links.values() if l.ifindex == index), None)

    def name_of(self, index: int) -> str:
        """The name of interface `index`, or `if<index>` the way `ip` shows unknown ones."""
        link = self.by_index(index)
        return link.name if link else f"if{index}"


@dataclass
class LabState:
    """Everything one reading of the lab found."""
    namespaces: list[str] = field(default_factory=list)   # the student's namespaces (/run/netns)
    ns: dict[str, NsState] = field(default_factory=dict)  # those read, and HOST
    sysctls: dict[tuple[str, str], str] = field(default_factory=dict)   # (ns, key) -> value
    resolv: dict[str, str | None] = field(default_factory=dict)         # ns -> file text / None
    hosts: str | None = None   # the lab host's /etc/hosts, when a check needed it
    prelude: tuple[int, str] | None = None   # (exit status, output) of commands run just before
    for_hints: bool = True   # False: what only explains a failed behaviour check was not read
    whole: bool = True       # False: only the namespaces the checks name were read (and the names of all)

    @property
    def rules(self) -> list[Rule]:
        """The lab host's iptables rules (empty when not read)."""
        host = self.ns.get(HOST)
        return host.iptables.rules if host and host.iptables else []

    @property
    def policies(self) -> dict[tuple[str, str], str]:
        """The lab host's chain policies, (table, chain) -> policy (empty when not read)."""
        host = self.ns.get(HOST)
        return host.iptables.policies if host and host.iptables else {}

    def links_named(self, name: str) -> list[Link]:
        """Every interface called `name`, in any namespace."""
        return [s.links[name] for s in self.ns.values() if name in s.links]

    def link(self, name: str, ns: str) -> Link | None:
        """Interface `name` in namespace `ns`, if it is there."""
        state = self.ns.get(ns)
        return state.links.get(name) if state else None

    def owners_of(self, ip: str) -> list[Link]:
        """Interfaces anywhere in the lab that carry address `ip`."""
        return [l for s in self.ns.values() for l in s.links.values() if any(a == ip for a, _ in l.addrs)]

    def peer_of(self, link: Link) -> Link | None:
        """The other end of a veth, wherever it lives (None: not a veth, or its other end is in
        a namespace that was not read, such as the world's)."""
        if link.kind != "veth" or not link.peer_index:
            return None
        if link.peer_nsid is None:
            return self.ns[link.ns].by_index(link.peer_index)
        name = self.ns[link.ns].nsids.get(link.peer_nsid)
        if name and name in self.ns:
            return self.ns[name].by_index(link.peer_index)
        for other in self.ns.values():   # id unknown from this side: find the end pointing back
            cand = other.by_index(link.peer_index)
            if (other.name != link.ns and cand and cand.kind == "veth" and cand.peer_nsid is not None
                    and cand.peer_index == link.ifindex):
                return cand
        return None

    def nat_rules(self, chain: str) -> list[Rule]:
        """The lab host's nat rules in `chain`."""
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
        small, big = ipaddress.ip_network(inner, strict=False), ipaddress.ip_network(outer, strict=False)
    except ValueError:
        return False
    if isinstance(small, ipaddress.IPv4Network) and isinstance(big, ipaddress.IPv4Network):
        return small.subnet_of(big)
    if isinstance(small, ipaddress.IPv6Network) and isinstance(big, ipaddress.IPv6Network):
        return small.subnet_of(big)
    return False   # an IPv4 network never covers an IPv6 one, nor the other way round


def resolv_path(ns: str) -> str:
    """The resolv.conf a namespace's programs read (`ip netns exec` binds /etc/netns/NS/ over
    /etc); the lab host's own is /etc/resolv.conf."""
    return "/etc/resolv.conf" if ns == HOST else f"/etc/netns/{ns}/resolv.conf"
