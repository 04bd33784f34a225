"""The lab's state as plain data: the one model that both readers of the lab fill.

The checks fill it from netlink dumps and `iptables-save` output (`tutor.checks.observe`; the
recorded labs of the unit tests, from `ip -j`), the app's watcher from netlink dumps too
(`tutor.lab.netlink`) and the same `iptables-save` (`tutor.lab.watch`); the judges, the hints,
the app's tables and its map all read it. Where the readers read a fact (an interface, its
addresses, a route), they write it the same way: `tests/lab/test_state_readers.py` holds them
to that on a real lab.

The lab host is the namespace named HOST (`tutor.lab.HOST`, "host") everywhere, never "".
No I/O here.
"""

from __future__ import annotations

import ipaddress
from collections import namedtuple

from tutor.lab import HOST
from tutor.lab.iptables import Iptables, Rule
from tutor.plain import Plain

IP_FORWARD = "net.ipv4.ip_forward"


# Plain classes and named tuples, not dataclasses: see `tutor.plain`.
class Link(Plain):
    """One interface, as `ip -d addr` shows it."""
    __slots__ = ("name", "ns", "ifindex", "kind", "admin_up", "oper", "master", "peer_index", "peer_nsid",
                 "addrs", "mac")

    def __init__(self, name: str, ns: str, ifindex: int, kind: str = "", admin_up: bool = False,
                 oper: str = "DOWN", master: str | None = None, peer_index: int | None = None,
                 peer_nsid: int | None = None, addrs: list[tuple[str, int]] | None = None, mac: str = ""):
        self.name = name
        self.ns = ns                    # the namespace it is in (HOST for the lab host)
        self.ifindex = ifindex
        self.kind = kind                # veth, bridge, ... ("" for plain devices and loopback)
        self.admin_up = admin_up        # the UP flag: `ip link set X up` was done
        self.oper = oper                # operstate: UP only when the other end is up as well
        self.master = master            # the bridge this is a port of
        self.peer_index = peer_index    # veth: the other end's ifindex (vlan, macvlan: the parent's)
        self.peer_nsid = peer_nsid      # veth: the other end's namespace id, None = same namespace
        self.addrs = [] if addrs is None else addrs   # IPv4 (address, prefix length)
        self.mac = mac


class Route(namedtuple("Route", "dest gateway dev scope", defaults=(None, None, "global"))):
    """One IPv4 route of the main table: `dest` is "default" or "A.B.C.D/P" (a host route too:
    "/32")."""
    __slots__ = ()


class Neigh(namedtuple("Neigh", "address dev lladdr state")):
    """One neighbour (ARP) entry (only the app's watcher reads these)."""
    __slots__ = ()


class NsState(Plain):
    """One network namespace (or the lab host): its interfaces, routes and rules."""
    __slots__ = ("name", "links", "routes", "neighs", "nsids", "iptables", "error")

    def __init__(self, name: str, links: dict[str, Link] | None = None, routes: list[Route] | None = None,
                 neighs: list[Neigh] | None = None, nsids: dict[int, str] | None = None,
                 iptables: Iptables | None = None, error: str = ""):
        self.name = name
        self.links = {} if links is None else links       # by name, in ifindex order
        self.routes = [] if routes is None else routes
        self.neighs = [] if neighs is None else neighs
        self.nsids = {} if nsids is None else nsids       # netns id -> name (`ip netns list-id`)
        self.iptables = iptables                          # None: not read
        self.error = error

    def by_index(self, index: int) -> Link | None:
        """The interface with that ifindex, if any."""
        return next((l for l in self.links.values() if l.ifindex == index), None)

    def name_of(self, index: int) -> str:
        """The name of interface `index`, or `if<index>` the way `ip` shows unknown ones."""
        link = self.by_index(index)
        return link.name if link else f"if{index}"


class LabState(Plain):
    """Everything one reading of the lab found."""
    __slots__ = ("namespaces", "ns", "sysctls", "resolv", "hosts", "prelude", "for_hints", "whole", "probed")

    def __init__(self, namespaces: list[str] | None = None, ns: dict[str, NsState] | None = None,
                 sysctls: dict[tuple[str, str], str] | None = None, resolv: dict[str, str | None] | None = None,
                 hosts: str | None = None, prelude: tuple[int, str] | None = None, for_hints: bool = True,
                 whole: bool = True, probed: dict[str, tuple[bool, str]] | None = None):
        self.namespaces = [] if namespaces is None else namespaces   # the student's (/run/netns)
        self.ns = {} if ns is None else ns                  # those read, and HOST
        self.sysctls = {} if sysctls is None else sysctls   # (ns, key) -> value
        self.resolv = {} if resolv is None else resolv      # ns -> file text / None
        self.hosts = hosts          # the lab host's /etc/hosts, when a check needed it
        self.prelude = prelude      # (exit status, output) of commands run just before
        self.for_hints = for_hints  # False: what only explains a failed behaviour check was not read
        self.whole = whole          # False: only the namespaces the checks name were read (and the names of all)
        self.probed = {} if probed is None else probed   # behaviour checks run after it: text -> (worked, seen)

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
