"""rtnetlink messages taken apart, and a few made: the message types and attributes the lab
reads, and the changes that build the world's machines (`Changer`).

A dump over a netlink socket (`tutor.lab.netlink`) answers in these messages; each becomes a
dict named as pyroute2 names them (the fixed header's fields, such as "index" or "prefixlen",
and "IFLA_IFNAME"-style keys for the attributes read), so code written against pyroute2 reads
the same. Only what the lab's model holds is decoded; every other attribute is skipped.

Why not pyroute2's marshal, which parses all of it: importing it costs 0.17-0.3 s here, paid
by every process that reads the lab once (`tutor verify`, each look of `tutor selftest`) and
by the TUI right after its first paint. This module imports nothing but `errno`, `os`, `socket` and `struct`;
tests hold it to pyroute2's reading of the same bytes (tests/lab/test_rtnl.py).
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Callable, Iterable, Iterator

NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE, RTM_NEWNEIGH = 16, 20, 24, 28
RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, RTM_GETNEIGH = 18, 22, 26, 30
RTM_NEWNSID, RTM_GETNSID = 88, 90
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NETNSA_NSID, NETNSA_FD = 1, 3

HEADER = struct.Struct("=IHHII")        # nlmsghdr: length, type, flags, sequence, port
_IFINFO = struct.Struct("=BxHiII")      # ifinfomsg: family, type, index, flags, change
_ATTR = struct.Struct("=HH")            # rtattr: length, type
_NLA_TYPE_MASK = 0x3FFF                 # without NLA_F_NESTED and NLA_F_NET_BYTEORDER
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")

# The fixed part of each message: its struct and the names of its fields (None: padding).
_FIXED = {
    RTM_NEWLINK: (_IFINFO, ("family", "ifi_type", "index", "flags", "change")),
    RTM_NEWADDR: (struct.Struct("=BBBBI"), ("family", "prefixlen", "flags", "scope", "index")),
    RTM_NEWROUTE: (struct.Struct("=BBBBBBBBI"), ("family", "dst_len", "src_len", "tos", "table",
                                                 "proto", "scope", "type", "flags")),
    RTM_NEWNEIGH: (struct.Struct("=BxxxiHBB"), ("family", "ifindex", "state", "flags", "ndm_type")),
    RTM_NEWNSID: (struct.Struct("=Bxxx"), ("rtgen_family",)),
}


# An ifinfomsg that names no link: the payload of a dump of every link, and the head of a
# message that makes one.
ANY_LINK = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0)


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _u32(raw: bytes) -> int:
    return struct.unpack_from("=I", raw)[0]


def _s32(raw: bytes) -> int:
    return struct.unpack_from("=i", raw)[0]


def _ip(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def _hw(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _operstate(raw: bytes) -> str:
    return OPERSTATES[raw[0]] if raw[0] < len(OPERSTATES) else str(raw[0])


def _linkinfo(raw: bytes) -> dict:
    return _attrs(raw, 0, {1: ("IFLA_INFO_KIND", _text)})


# The attributes read, by message type: number -> (pyroute2's name, decoder).
_ATTRS: dict[int, dict[int, tuple[str, Callable[[bytes], object]]]] = {
    RTM_NEWLINK: {1: ("IFLA_ADDRESS", _hw), 3: ("IFLA_IFNAME", _text), 5: ("IFLA_LINK", _u32),
                  10: ("IFLA_MASTER", _u32), 16: ("IFLA_OPERSTATE", _operstate),
                  18: ("IFLA_LINKINFO", _linkinfo), 37: ("IFLA_LINK_NETNSID", _s32)},
    RTM_NEWADDR: {1: ("IFA_ADDRESS", _ip), 2: ("IFA_LOCAL", _ip)},
    RTM_NEWROUTE: {1: ("RTA_DST", _ip), 4: ("RTA_OIF", _u32), 5: ("RTA_GATEWAY", _ip),
                   15: ("RTA_TABLE", _u32)},
    RTM_NEWNEIGH: {1: ("NDA_DST", _ip), 2: ("NDA_LLADDR", _hw)},
    RTM_NEWNSID: {NETNSA_NSID: ("NETNSA_NSID", _s32)},
}


def _attrs(body: bytes, off: int, known: dict[int, tuple[str, Callable[[bytes], object]]]) -> dict:
    out: dict = {}
    end = len(body)
    while off + 4 <= end:
        length, kind = _ATTR.unpack_from(body, off)
        if length < 4 or off + length > end:
            break
        what = known.get(kind & _NLA_TYPE_MASK)
        if what is not None:
            try:
                out[what[0]] = what[1](body[off + 4:off + length])
            except (struct.error, ValueError, IndexError):
                pass   # a short or odd attribute: left out, as if the kernel had not sent it
        off += (length + 3) & ~3
    return out


def decode(kind: int, body: bytes) -> dict:
    """One message's body (after its nlmsghdr) as a dict; {} for a type not read here.
    NLMSG_ERROR gives {"error": errno} (0: an acknowledgement)."""
    if kind == NLMSG_ERROR:
        return {"error": -_s32(body) if len(body) >= 4 else 0}
    fixed = _FIXED.get(kind)
    if fixed is None or len(body) < fixed[0].size:
        return {}
    out = dict(zip(fixed[1], fixed[0].unpack_from(body), strict=True))
    out.update(_attrs(body, fixed[0].size, _ATTRS[kind]))
    return out


def messages(data: bytes) -> Iterator[tuple[int, int, dict]]:
    """(type, sequence number, decoded body) for each message in one read from the socket."""
    off, end = 0, len(data)
    while off + HEADER.size <= end:
        length, kind, _flags, seq, _port = HEADER.unpack_from(data, off)
        if length < HEADER.size or off + length > end:
            return
        yield kind, seq, decode(kind, data[off + HEADER.size:off + length])
        off += (length + 3) & ~3


def request(kind: int, seq: int, payload: bytes, flags: int = NLM_F_REQUEST | NLM_F_DUMP) -> bytes:
    """One request message: header and payload."""
    return HEADER.pack(HEADER.size + len(payload), kind, flags, seq, 0) + payload


def attr(kind: int, value: bytes) -> bytes:
    """One attribute, padded to 4 bytes."""
    data = _ATTR.pack(4 + len(value), kind) + value
    return data + b"\0" * (-len(data) % 4)


def nsid_request(seq: int, netns_fd: int) -> bytes:
    """RTM_GETNSID: which id the socket's namespace gives the namespace open at `netns_fd`."""
    return request(RTM_GETNSID, seq, struct.pack("=Bxxx", socket.AF_UNSPEC)
                   + attr(NETNSA_FD, struct.pack("=I", netns_fd)), NLM_F_REQUEST)


def exchange(sock: socket.socket, seq: int, message: bytes, dump: bool = True) -> tuple[list[tuple[int, dict]], bool]:
    """Send `message` (its sequence number `seq`) on a blocking netlink socket and collect the
    answer: its messages (type, decoded), and whether other messages (change events, on a
    socket subscribed to them) arrived meanwhile, or the kernel dropped some (ENOBUFS). A dump
    ends at NLMSG_DONE or an error; any other request at its first answer."""
    sock.sendto(message, (0, 0))
    found: list[tuple[int, dict]] = []
    events = False
    while True:
        try:
            data = sock.recv(1 << 18)
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                events = True
                continue
            raise
        for kind, number, body in messages(data):
            if number != seq:
                events = True
            elif kind in (NLMSG_DONE, NLMSG_ERROR):
                if kind == NLMSG_ERROR and not dump:
                    found.append((kind, body))
                return found, events
            else:
                found.append((kind, body))
                if not dump:
                    return found, events


def nsids(sock: socket.socket, candidates: Iterable[tuple[str, int]], seq: int = 1) -> dict[int, str]:
    """The ids by which the links of the namespace of `sock` name other namespaces (a veth's
    IFLA_LINK_NETNSID), by name: what `ip netns list-id` says of them. `candidates` are (name,
    descriptor of the namespace), tried in order until each such id is named; one that none of
    them is stays out. Sequence numbers from `seq` on are used, one per request.

    The links are dumped here first: the kernel gives a namespace its id for another only when
    it first has to say it (a link's dump), so the ids must be asked for after one."""
    found, _ = exchange(sock, seq, request(RTM_GETLINK, seq, ANY_LINK))
    wanted = {body["IFLA_LINK_NETNSID"] for kind, body in found
              if kind == RTM_NEWLINK and body.get("IFLA_LINK_NETNSID", -1) >= 0}
    named: dict[int, str] = {}
    for name, fd in candidates:
        if not wanted - named.keys():
            break
        seq += 1
        answer, _ = exchange(sock, seq, nsid_request(seq, fd), dump=False)
        for kind, body in answer:
            nsid = body.get("NETNSA_NSID", -1) if kind == RTM_NEWNSID else -1
            if nsid in wanted and nsid not in named:
                named[nsid] = name
    return named


# -- changing a namespace: what `ip` does for the world's machines, without an `ip` process ------

NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x4, 0x200, 0x400
IFLA_IFNAME, IFLA_LINKINFO, IFLA_NET_NS_FD = 3, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_GATEWAY, RT_TABLE_MAIN, RTPROT_BOOT, RTN_UNICAST = 5, 254, 3, 1
IFF_UP = 0x1


class Changer:
    """A netlink socket in the current network namespace (its namespace is fixed when it is
    made) that changes it as `ip` would: `ip link add NAME type veth peer name PEER netns FD`,
    `ip link set NAME up`, `ip addr add A/N dev NAME`, `ip route add default via G`. Each
    change waits for the kernel's answer; a refusal is an OSError naming the change."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.sock.settimeout(5.0)
        self.seq = 0

    def __enter__(self) -> Changer:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def add_veth(self, name: str, peer: str, peer_netns_fd: int) -> None:
        peer_info = ANY_LINK + _name(peer) \
            + attr(IFLA_NET_NS_FD, struct.pack("=I", peer_netns_fd))
        kind = attr(IFLA_INFO_KIND, b"veth\0") + attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer_info))
        self._change(RTM_NEWLINK, ANY_LINK + _name(name)
                     + attr(IFLA_LINKINFO, kind), f"add veth {name} peer {peer}", create=True)

    def set_up(self, name: str) -> None:
        self._change(RTM_NEWLINK, _IFINFO.pack(socket.AF_UNSPEC, 0, _index(name), IFF_UP, IFF_UP),
                     f"set {name} up")

    def add_address(self, name: str, cidr: str) -> None:
        address, _, prefix = cidr.partition("/")
        raw = socket.inet_aton(address)
        self._change(RTM_NEWADDR, struct.pack("=BBBBI", socket.AF_INET, int(prefix or 32), 0, 0, _index(name))
                     + attr(IFA_LOCAL, raw) + attr(IFA_ADDRESS, raw), f"add {cidr} to {name}", create=True)

    def add_default_route(self, gateway: str) -> None:
        self._change(RTM_NEWROUTE, struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT,
                                               0, RTN_UNICAST, 0)
                     + attr(RTA_GATEWAY, socket.inet_aton(gateway)), f"add default via {gateway}", create=True)

    def _change(self, kind: int, payload: bytes, what: str, create: bool = False) -> None:
        self.seq += 1
        flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_CREATE | NLM_F_EXCL if create else 0)
        answer, _ = exchange(self.sock, self.seq, request(kind, self.seq, payload, flags), dump=False)
        code = next((body.get("error", 0) for k, body in answer if k == NLMSG_ERROR), 0)
        if code:
            raise OSError(code, f"{what}: {os.strerror(code)}")


def _name(name: str) -> bytes:
    return attr(IFLA_IFNAME, name.encode() + b"\0")


def _index(name: str) -> int:
    """The interface's index in the current network namespace (OSError if there is none)."""
    return socket.if_nametoindex(name)
