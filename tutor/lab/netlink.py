"""What one network namespace of the lab holds, read over a netlink socket the agent handed us.

The agent gives the app one NETLINK_ROUTE socket per namespace, already bound to the link,
neighbour, address and route groups (its `look` request, `control.request_fds("look", ...)`). `NetlinkReader`
dumps the namespace's tables over that socket and tells whether change events arrived; the
messages are taken apart by `tutor.lab.rtnl`.

Why not pyroute2's `IPRoute(fileno=...)`: it wants SOCK_DGRAM (netlink treats SOCK_RAW alike, so
the agent could hand those out), but in pyroute2 0.9 every call runs its event loop, which takes
pending change events off the socket into a queue of its own. select() on the socket then no
longer says that events arrived, and a dump cannot tell that the lab changed while it ran
(`read()`'s second value) without reading pyroute2's private queue. Nor its marshal: importing
it costs 0.17-0.3 s (see `tutor.lab.rtnl`).

It fills the lab's one model (`tutor.lab.state`), as the observations of the checks do
(`tutor.checks.observe`).
"""

from __future__ import annotations

import errno
import os
import socket
import struct

from tutor.lab import rtnl
from tutor.lab.rtnl import ANY_LINK, IFF_UP, RT_TABLE_MAIN, RTM_GETADDR, RTM_GETLINK, RTM_GETNEIGH, RTM_GETROUTE
from tutor.lab.state import Link, Neigh, NsState, Route

NUD_NAMES = {0x01: "INCOMPLETE", 0x02: "REACHABLE", 0x04: "STALE", 0x08: "DELAY",
             0x10: "PROBE", 0x20: "FAILED", 0x40: "NOARP", 0x80: "PERMANENT"}
SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}


class NetlinkReader:
    """Dumps one namespace's tables over a netlink socket and notices change events on it."""

    def __init__(self, fd: int, name: str):
        self.name = name
        self.sock = socket.socket(fileno=fd)
        self.sock.setblocking(False)
        self._seq = 0

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

    def read(self, neighbours: bool = True) -> tuple[NsState, bool]:
        """A fresh NsState, and whether change events arrived while dumping (its neighbours
        too, unless told not to: the checks never look at them)."""
        state = NsState(self.name)
        events = False
        raw_links, more = self._dump(RTM_GETLINK, ANY_LINK)
        events |= more
        raw_links.sort(key=lambda m: m["index"])
        names = {m["index"]: m.get("IFLA_IFNAME") or f"if{m['index']}" for m in raw_links}
        by_index = {m["index"]: _link(m, self.name, names) for m in raw_links}
        state.links = {l.name: l for l in by_index.values()}
        raw, more = self._dump(RTM_GETADDR, struct.pack("=BBBBI", socket.AF_INET, 0, 0, 0, 0))
        events |= more
        for m in raw:
            link = by_index.get(m["index"])
            address = m.get("IFA_LOCAL") or m.get("IFA_ADDRESS")   # IFA_ADDRESS: a ptp link's peer
            if link is not None and address:
                link.addrs.append((address, m["prefixlen"]))
        raw, more = self._dump(RTM_GETROUTE, struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0))
        events |= more
        state.routes = [_route(m, names) for m in raw if (m.get("RTA_TABLE") or m["table"]) == RT_TABLE_MAIN]
        if not neighbours:
            return state, events
        raw, more = self._dump(RTM_GETNEIGH, struct.pack("=BxxxiHBB", socket.AF_INET, 0, 0, 0, 0))
        events |= more
        state.neighs = [Neigh(m.get("NDA_DST") or "", names.get(m["ifindex"], f"if{m['ifindex']}"),
                              m.get("NDA_LLADDR") or "", NUD_NAMES.get(m["state"], str(m["state"])))
                        for m in raw if m.get("NDA_DST") and m["state"] != 0x40]
        return state, events

    def _dump(self, kind: int, payload: bytes) -> tuple[list[dict], bool]:
        """Send one dump request; collect its answer. Events seen meanwhile are reported."""
        self._seq += 1
        self.sock.setblocking(True)
        self.sock.settimeout(2.0)
        try:
            found, events = rtnl.exchange(self.sock, self._seq, rtnl.request(kind, self._seq, payload))
            return [body for _, body in found], events
        finally:
            self.sock.setblocking(False)


def _link(m, ns: str, names: dict[int, str]) -> Link:
    info = m.get("IFLA_LINKINFO")
    master = m.get("IFLA_MASTER")
    return Link(name=names[m["index"]], ns=ns, ifindex=m["index"],
                kind=(info.get("IFLA_INFO_KIND") if info else None) or "",
                admin_up=bool(m["flags"] & IFF_UP), oper=m.get("IFLA_OPERSTATE") or "UNKNOWN",
                master=names.get(master, f"if{master}") if master else None,
                peer_index=m.get("IFLA_LINK") or None, peer_nsid=m.get("IFLA_LINK_NETNSID"),
                mac=m.get("IFLA_ADDRESS") or "")


def _route(m, names: dict[int, str]) -> Route:
    dst = m.get("RTA_DST")
    oif = m.get("RTA_OIF")
    return Route(dest=f"{dst}/{m['dst_len']}" if dst else "default", gateway=m.get("RTA_GATEWAY"),
                 dev=names.get(oif, f"if{oif}") if oif else None,
                 scope=SCOPES.get(m["scope"], str(m["scope"])))


def close_fds(fds: list[int]) -> None:
    """Close file descriptors that were handed over but not wrapped."""
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
