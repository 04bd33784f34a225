"""The world's DNS answers, read by dnslib: `tutor.lab.dnswire` writes what a strict parser
reads back as the zone says, for every name of the zone and every type asked, in any case,
with EDNS, and refuses (stays silent for) what dnslib cannot parse either."""

from __future__ import annotations

import random
import socket

import pytest
from dnslib import CLASS, EDNS0, OPCODE, QTYPE, RCODE, DNSRecord

from tutor.lab import dnswire, servers, world

NAMES = [*world.ZONE, "nope.mycompany.com", "mycompany.com"]


@pytest.fixture(scope="module")
def server():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        yield servers.DnsServer(udp, None)


def expected(name: str, qtype: str) -> tuple[int, list[tuple[str, str, str]]]:
    """(rcode, answers) as the zone says, following CNAMEs."""
    owner, key = name if name.endswith(".") else name + ".", name.rstrip(".").lower()
    out: list[tuple[str, str, str]] = []
    for _ in range(8):
        records = world.ZONE.get(key)
        if records is None:
            return RCODE.NXDOMAIN, out
        wanted = [r for r in records if qtype == "ANY" or r.rtype == qtype]
        out += [(owner, r.rtype, r.value + "." if r.rtype == "CNAME" else r.value) for r in wanted]
        alias = [r for r in records if r.rtype == "CNAME"]
        if wanted or not alias:
            return RCODE.NOERROR, out
        out.append((owner, "CNAME", alias[0].value + "."))
        owner, key = alias[0].value + ".", alias[0].value
    return RCODE.NOERROR, out


@pytest.mark.parametrize("qtype", ["A", "AAAA", "CNAME", "ANY", "MX"])
@pytest.mark.parametrize("spelling", [str, str.upper, lambda n: n + "."], ids=["as-is", "upper", "dot"])
def test_every_name_and_type_reads_back_as_the_zone_says(server, qtype, spelling):
    for name in map(spelling, NAMES):
        for edns in (False, True):
            q = DNSRecord.question(name, qtype)
            if edns:
                q.add_ar(EDNS0())
            reply = DNSRecord.parse(server.answer(q.pack()))
            rcode, answers = expected(name, qtype)
            assert reply.header.id == q.header.id and reply.header.qr == 1
            assert (reply.header.aa, reply.header.ra, reply.header.rd) == (1, 1, q.header.rd)
            assert reply.header.rcode == rcode, name
            assert [(str(q2.qname), q2.qtype, q2.qclass) for q2 in reply.questions] == \
                [(str(q.q.qname), q.q.qtype, q.q.qclass)]
            got = [(str(rr.rname), QTYPE[rr.rtype], str(rr.rdata)) for rr in reply.rr]
            assert got == answers, (name, qtype)
            assert all(rr.ttl == world.TTL and rr.rclass == CLASS.IN for rr in reply.rr)


def test_other_opcodes_classes_and_no_question(server):
    q = DNSRecord.question("google.com")
    q.header.opcode = OPCODE.STATUS
    reply = DNSRecord.parse(server.answer(q.pack()))
    assert reply.header.rcode == RCODE.NOTIMP and reply.header.opcode == OPCODE.STATUS and not reply.questions
    q = DNSRecord.question("google.com", qclass="CH")
    reply = DNSRecord.parse(server.answer(q.pack()))
    assert reply.header.rcode == RCODE.REFUSED and reply.rr == [] and len(reply.questions) == 1
    none = DNSRecord.question("google.com").pack()[:12]
    none = none[:4] + b"\0\0" + none[6:]
    reply = DNSRecord.parse(server.answer(none))
    assert reply.header.rcode == RCODE.FORMERR and not reply.questions


def test_a_name_that_points_back_is_read_and_one_that_loops_is_not():
    q = DNSRecord.question("google.com").pack()
    pointing = q[:12] + b"\x03www" + b"\xc0\x0c" + b"\0\x01\0\x01"       # www.<the name at 12>: points forward
    assert dnswire.parse_query(pointing) is None
    looping = q[:12] + b"\xc0\x0c" + b"\0\x01\0\x01"
    assert dnswire.parse_query(looping) is None
    query = dnswire.parse_query(q)
    assert query is not None and query.name == "google.com." and query.qtype == 1


def test_whatever_arrives_nothing_raises_and_every_answer_parses(server):
    """Mutated queries: parse_query never raises; whatever the server answers, dnslib reads."""
    rng = random.Random(15)
    seeds = [DNSRecord.question(n, t).pack() for n in NAMES for t in ("A", "AAAA", "ANY")]
    for _ in range(4000):
        packet = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(packet))
            packet[i] = rng.randrange(256)
        if rng.random() < 0.2:
            packet = packet[:rng.randrange(len(packet) + 1)]
        answer = server.answer(bytes(packet))
        if answer is not None:
            DNSRecord.parse(answer)
    for size in (0, 1, 11, 12, 13, 64, 600):
        for _ in range(50):
            answer = server.answer(bytes(rng.randrange(256) for _ in range(size)))
            if answer is not None:
                DNSRecord.parse(answer)
