"""DNS messages on the wire, as far as the world's server needs them (RFC 1035 section 4).

`parse_query` takes a query apart, checking the whole message's structure (every question and
every record's bounds: a message that does not hold together is not answered, as a strict
parser would refuse it); `Reply` writes the answer. Names in answers point back at the
question's name (compression), so the first owner echoes the query's own spelling.

Why not dnslib, which the server used: importing it took ~13 ms of the lab's start by
`-X importtime` (random, calendar, datetime, textwrap and more come with it), a part of every
`tutor selftest` (issue 15). The server answers A, AAAA, CNAME and ANY from a fixed zone; this
module is what that takes. Tests hold it to dnslib's reading (tests/unit/test_dnswire.py).
"""

from __future__ import annotations

import socket
import struct

QUERY = 0                                                      # opcode
NOERROR, FORMERR, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 3, 4, 5    # rcodes
A, CNAME, AAAA, ANY = 1, 5, 28, 255                            # types
IN = 1                                                         # class
TYPES = {"A": A, "AAAA": AAAA, "CNAME": CNAME}

_HEADER = struct.Struct("!HHHHHH")
_MAX_HOPS = 16          # compression pointers followed in one name
_MAX_NAME = 255


class Query:
    """A parsed query: its id and flags, and its first question (name, type, class), with the
    question's bytes as sent (a reply echoes them)."""

    __slots__ = ("id", "flags", "opcode", "rd", "questions", "name", "qtype", "qclass", "question")

    def __init__(self, ident: int, flags: int, questions: int):
        self.id, self.flags, self.questions = ident, flags, questions
        self.opcode = (flags >> 11) & 0xF
        self.rd = (flags >> 8) & 1
        self.name, self.qtype, self.qclass, self.question = "", 0, 0, b""


def parse_query(packet: bytes) -> Query | None:
    """The query in `packet`; None for a response (QR set) or a message that does not hold
    together (too short, a name past its end or looping, a record cut off)."""
    if len(packet) < _HEADER.size:
        return None
    ident, flags, qd, an, ns, ar = _HEADER.unpack_from(packet)
    if flags & 0x8000:
        return None
    query = Query(ident, flags, qd)
    off = _HEADER.size
    for i in range(qd):
        name, end = _name(packet, off)
        if name is None or end + 4 > len(packet):
            return None
        if i == 0:
            query.name = name
            query.qtype, query.qclass = struct.unpack_from("!HH", packet, end)
            query.question = packet[off:end + 4]
        off = end + 4
    for _ in range(an + ns + ar):
        name, end = _name(packet, off)
        if name is None or end + 10 > len(packet):
            return None
        (length,) = struct.unpack_from("!H", packet, end + 8)
        off = end + 10 + length
        if off > len(packet):
            return None
    return query


def _name(packet: bytes, off: int) -> tuple[str | None, int]:
    """(the name at `off`, its labels (UTF-8) joined by dots with a final dot; the offset after
    it where it is written), or (None, 0) if it does not hold together."""
    labels: list[bytes] = []
    end = -1
    hops = 0
    size = 0
    while True:
        if off >= len(packet):
            return None, 0
        length = packet[off]
        if length & 0xC0 == 0xC0:
            if off + 1 >= len(packet) or hops >= _MAX_HOPS:
                return None, 0
            target = ((length & 0x3F) << 8) | packet[off + 1]
            if end < 0:
                end = off + 2
            if target >= off:   # only backwards: no loops
                return None, 0
            off, hops = target, hops + 1
            continue
        if length & 0xC0:
            return None, 0      # the reserved label types (0x40, 0x80)
        if length == 0:
            if end < 0:
                end = off + 1
            try:   # as dnslib read them: a label that is not UTF-8 makes the query unreadable
                return ".".join(label.decode() for label in labels) + ".", end
            except UnicodeDecodeError:
                return None, 0
        size += length + 1
        if off + 1 + length > len(packet) or size > _MAX_NAME:
            return None, 0
        labels.append(packet[off + 1:off + 1 + length])
        off += 1 + length


def encode_name(name: str) -> bytes:
    """`name` ("web.mycompany.com", a final dot or not) as labels (ValueError if one is too long)."""
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode()
        if not 0 < len(raw) < 64:
            raise ValueError(f"bad label in {name!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


class Reply:
    """The answer to `query`: authoritative, recursion available, its question echoed."""

    def __init__(self, query: Query, rcode: int = NOERROR, echo: bool = True):
        self.query, self.rcode, self.echo = query, rcode, echo
        self.answers: list[bytes] = []

    def add(self, owner: str | None, rtype: int, ttl: int, value: str) -> None:
        """One answer record; `owner` None: the question's own name (a pointer to it)."""
        name = b"\xc0\x0c" if owner is None else encode_name(owner)
        if rtype == A:
            data = socket.inet_pton(socket.AF_INET, value)
        elif rtype == AAAA:
            data = socket.inet_pton(socket.AF_INET6, value)
        else:
            data = encode_name(value)
        self.answers.append(name + struct.pack("!HHIH", rtype, IN, ttl, len(data)) + data)

    def pack(self) -> bytes:
        q = self.query
        flags = 0x8000 | (q.opcode << 11) | 0x0400 | (q.rd << 8) | 0x0080 | self.rcode
        question = q.question if self.echo and q.question else b""
        return _HEADER.pack(q.id, flags, 1 if question else 0, len(self.answers), 0, 0) + question \
            + b"".join(self.answers)
