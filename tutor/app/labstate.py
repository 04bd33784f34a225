"""What one network namespace of the lab holds, read over a netlink socket the agent handed us.

The agent gives the app one NETLINK_ROUTE socket per namespace, already bound to the link,
neighbour, address and route groups (`control.request_fds("netlink", ...)`). `NetlinkReader`
dumps the namespace's tables over that socket and tells whether change events arrived; the
messages are parsed with pyroute2's marshal, imported on first use: importing pyroute2 costs
~0.1 s, which the watcher thread pays after the app's first paint, not the app before it.

Why not pyroute2's `IPRoute(fileno=...)`: it wants SOCK_DGRAM (netlink treats SOCK_RAW alike, so
the agent could hand those out), but in pyroute2 0.9 every call runs its event loop, which takes
pending change events off the socket into a queue of its own. select() on the socket then no
longer says that events arrived, and a dump cannot tell that the lab changed while it ran
(`read()`'s second value) without reading pyroute2's private queue. The dump below is a few
dozen lines and keeps both; the parsing, the part worth borrowing, is pyroute2's.

This module never imports Textual: the app shows these plain dataclasses.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from dataclasses import dataclass, field

NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, RTM_GETNEIGH = 18, 22, 26, 30
RT_TABLE_MAIN = 254
IFF_UP = 0x1
NUD_NAMES = {0x01: "INCOMPLETE", 0x02: "REACHABLE", 0x04: "STALE", 0x08: "DELAY",
             0x10: "PROBE", 0x20: "FAILED", 0x40: "NOARP", 0x80: "PERMANENT"}
SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}


@dataclass(frozen=True)
class Link:
    """One interface, as `ip -d link` describes it."""
    index: int
    name: str
    kind: str            # "veth", "bridge", "" for plain devices and loopback
    admin_up: bool       # the UP flag the student sets with `ip link set ... up`
    operstate: str       # UP, DOWN, UNKNOWN, LOWERLAYERDOWN
    mac: str
    master: int          # ifindex of the bridge this is a port of, 0 if none
    peer_index: int      # IFLA_LINK: the other end of a veth (0 if none)
    peer_elsewhere: bool  # the other end lives in another namespace (IFLA_LINK_NETNSID)


@dataclass(frozen=True)
class Addr:
    """One IPv4 address on an interface."""
    dev: str
    address: str
    prefixlen: int


@dataclass(frozen=True)
class Route:
    """One route of the main table."""
    dst: str             # "default" or "A.B.C.D/P"
    gateway: str
    dev: str
    scope: str
    proto: int


@dataclass(frozen=True)
class Neigh:
    """One neighbour (ARP) entry."""
    address: str
    dev: str
    lladdr: str
    state: str


@dataclass
class NsState:
    """Everything shown for one namespace ("" is the lab host)."""
    name: str
    links: list[Link] = field(default_factory=list)
    addrs: list[Addr] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    neighs: list[Neigh] = field(default_factory=list)
    rules: str = ""          # `iptables -t nat -S` then `iptables -S`
    ip_forward: str = ""     # "0", "1" or "" when unknown

    def link(self, index: int) -> Link | None:
        """The interface with that index, if any."""
        return next((l for l in self.links if l.index == index), None)

    def name_of(self, index: int) -> str:
        """The name of interface `index`, or `if<index>` the way `ip` shows unknown ones."""
        link = self.link(index)
        return link.name if link else f"if{index}"


class NetlinkReader:
    """Dumps one namespace's tables over a netlink socket and notices change events on it."""

    def __init__(self, fd: int, name: str):
        self.name = name
        self.sock = socket.socket(fileno=fd)
        self.sock.setblocking(False)
        self._seq = 0
        from pyroute2.netlink.rtnl.marshal import MarshalRtnl
        self._marshal = MarshalRtnl()

    def fileno(self) -> int:
        """For select()."""
        return self.sock.fileno()

    def close(self) -> None:
        """Close the socket (the namespace stays)."""
        self.sock.close()

    def drain(self) -> bool:
        """Read every pending event; True if any arrived (or the kernel dropped some)."""
        seen = False
        while True:
            try:
                data = self.sock.recv(1 << 18)
            except BlockingIOError:
                return seen
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:  # events were lost: the caller re-dumps anyway
                    seen = True
                    continue
                raise
            if not data:
                return seen
            seen = True

    def read(self) -> tuple[NsState, bool]:
        """A fresh NsState, and whether change events arrived while dumping."""
        state = NsState(self.name)
        events = False
        raw_links, more = self._dump(RTM_GETLINK, struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0))
        events |= more
        state.links = sorted((_link(m) for m in raw_links), key=lambda l: l.index)
        names = {l.index: l.name for l in state.links}
        raw, more = self._dump(RTM_GETADDR, struct.pack("=BBBBI", socket.AF_INET, 0, 0, 0, 0))
        events |= more
        state.addrs = [Addr(names.get(m["index"], f"if{m['index']}"), m.get("IFA_ADDRESS") or "",
                            m["prefixlen"]) for m in raw]
        raw, more = self._dump(RTM_GETROUTE, struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0))
        events |= more
        state.routes = [_route(m, names) for m in raw if (m.get("RTA_TABLE") or m["table"]) == RT_TABLE_MAIN]
        raw, more = self._dump(RTM_GETNEIGH, struct.pack("=BxxxiHBB", socket.AF_INET, 0, 0, 0, 0))
        events |= more
        state.neighs = [Neigh(m.get("NDA_DST") or "", names.get(m["ifindex"], f"if{m['ifindex']}"),
                              m.get("NDA_LLADDR") or "", NUD_NAMES.get(m["state"], str(m["state"])))
                        for m in raw if m.get("NDA_DST") and m["state"] != 0x40]
        return state, events

    def _dump(self, kind: int, payload: bytes) -> tuple[list, bool]:
        """Send one dump request; collect its answer. Events seen meanwhile are reported."""
        self._seq += 1
        seq = self._seq
        header = struct.pack("=IHHII", 16 + len(payload), kind, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
        self.sock.setblocking(True)
        self.sock.settimeout(2.0)
        try:
            self.sock.sendto(header + payload, (0, 0))
            found, events, done = [], False, False
            while not done:
                try:
                    data = self.sock.recv(1 << 18)
                except OSError as exc:
                    if exc.errno == errno.ENOBUFS:
                        events = True
                        continue
                    raise
                for msg in self._marshal.parse(data):
                    header = msg["header"]
                    if header["sequence_number"] != seq:
                        events = True
                    elif header["type"] == NLMSG_DONE:
                        done = True
                    elif header["type"] == NLMSG_ERROR:
                        done = True
                    else:
                        found.append(msg)
            return found, events
        finally:
            self.sock.setblocking(False)


def _link(m) -> Link:
    info = m.get("IFLA_LINKINFO")
    kind = (info.get("IFLA_INFO_KIND") if info else None) or ""
    return Link(index=m["index"], name=m.get("IFLA_IFNAME") or f"if{m['index']}", kind=kind,
                admin_up=bool(m["flags"] & IFF_UP), operstate=m.get("IFLA_OPERSTATE") or "UNKNOWN",
                mac=m.get("IFLA_ADDRESS") or "", master=m.get("IFLA_MASTER") or 0,
                peer_index=m.get("IFLA_LINK") or 0,
                peer_elsewhere=m.get("IFLA_LINK_NETNSID") is not None)


def _route(m, names: dict[int, str]) -> Route:
    dst = m.get("RTA_DST")
    oif = m.get("RTA_OIF")
    return Route(dst=f"{dst}/{m['dst_len']}" if dst else "default", gateway=m.get("RTA_GATEWAY") or "",
                 dev=names.get(oif, f"if{oif}") if oif else "", scope=SCOPES.get(m["scope"], str(m["scope"])),
                 proto=m["proto"])


def close_fds(fds: list[int]) -> None:
    """Close file descriptors that were handed over but not wrapped."""
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
