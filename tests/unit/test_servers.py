"""Unit tests for tutor.lab.servers and tutor.lab.world, on loopback only.

The servers are single-threaded by design; the tests run their selectors
loop in one background thread so that ordinary blocking clients (dnslib,
http.client, raw sockets) can talk to them.  Every packet goes to 127.0.0.1.
"""

from __future__ import annotations

import http.client
import random
import selectors
import socket
import struct
import sys
import threading
import time
from pathlib import Path

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

# Allow running as plain `pytest` from the repo root without an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tutor.lab import servers, world  # noqa: E402

LO = "127.0.0.1"
# Seeded so that "garbage" is the same garbage on every run.
_rng = random.Random(20240601)


def junk(size: int) -> bytes:
    """Random bytes without newlines, so they can never end an HTTP head."""
    return _rng.randbytes(size).replace(b"\n", b"x")


class Lab:
    """Servers on ephemeral loopback ports plus a loop thread that drives them."""

    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        self.servers: list = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def dns(self, **kw) -> tuple[int, int]:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((LO, 0))
        tcp = socket.create_server((LO, 0))
        self._add(servers.DnsServer(udp, tcp, **kw))
        return udp.getsockname()[1], tcp.getsockname()[1]

    def http(self, **kw) -> int:
        sock = socket.create_server((LO, 0))
        self._add(servers.HttpServer(sock, **kw))
        return sock.getsockname()[1]

    def _add(self, server) -> None:
        assert self.thread is None, "register everything before start()"
        server.register(self.sel)
        self.servers.append(server)

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        # Mirrors the agent's loop: dispatch every ready key, then tick.
        while not self.stop.is_set():
            for key, mask in self.sel.select(0.02):
                try:
                    servers.dispatch(key, mask)
                except BaseException as exc:  # recorded so the test fails loudly
                    self.errors.append(exc)
            for server in self.servers:
                server.tick()

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(5)
            assert not self.thread.is_alive()
        for server in self.servers:
            server.close()
        self.sel.close()


@pytest.fixture
def lab():
    lab = Lab()
    yield lab
    lab.close()
    assert lab.errors == [], "an exception escaped into the loop"


def query(port: int, name: str, qtype: str = "A", tcp: bool = False) -> DNSRecord:
    q = DNSRecord.question(name, qtype)
    reply = DNSRecord.parse(q.send(LO, port, tcp=tcp, timeout=3))
    assert reply.header.id == q.header.id
    return reply


def answers(reply: DNSRecord) -> list[tuple[str, str, str]]:
    return [(str(rr.rname), QTYPE[rr.rtype], str(rr.rdata)) for rr in reply.rr]


def get(port: int, host: str, method: str = "GET"):
    conn = http.client.HTTPConnection(LO, port, timeout=3)
    try:
        conn.request(method, "/", headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def raw_exchange(port: int, data: bytes, half_close: bool = False) -> bytes:
    """Send raw bytes and read until the server closes."""
    started = time.monotonic()
    with socket.create_connection((LO, port), timeout=3) as s:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    # The server half-closes right after replying; waiting out LINGER_TIMEOUT
    # would mean it forgot to, and curl/nc would hang the same way.
    assert time.monotonic() - started < servers.LINGER_TIMEOUT * 0.75
    return b"".join(chunks)


# -- world data ------------------------------------------------------------------------


def test_world_addresses_are_documentation_ranges():
    assert world.WEB_ADDRESSES == {
        "203.0.113.10", "203.0.113.20", "203.0.113.21", "203.0.113.30", "203.0.113.31",
    }
    assert world.DNS_SERVER == "8.8.8.8" and world.gateway().ip == "172.17.0.1"


@pytest.mark.parametrize("raw, expected", [
    ("WWW.Naver.com:80", "www.naver.com"),
    ("google.com.", "google.com"),
    ("[2001:db8::10]:8080", "2001:db8::10"),
    ("2001:db8::10", "2001:db8::10"),
    (None, ""),
])
def test_normalize_host(raw, expected):
    assert world.normalize_host(raw) == expected


# -- DNS -------------------------------------------------------------------------------


def test_dns_a_record_with_flags(lab):
    udp, _ = lab.dns()
    lab.start()
    reply = query(udp, "www.naver.com")
    assert reply.header.rcode == RCODE.NOERROR
    assert reply.header.aa == 1 and reply.header.ra == 1 and reply.header.qr == 1
    assert answers(reply) == [("www.naver.com.", "A", "203.0.113.10")]
    assert reply.rr[0].ttl == world.TTL


def test_dns_aaaa_record(lab):
    udp, _ = lab.dns()
    lab.start()
    assert answers(query(udp, "google.com", "AAAA")) == [("google.com.", "AAAA", "2001:db8::20")]


def test_dns_cname_chain(lab):
    udp, _ = lab.dns()
    lab.start()
    assert answers(query(udp, "eat.mycompany.com")) == [
        ("eat.mycompany.com.", "CNAME", "web.mycompany.com."),
        ("web.mycompany.com.", "A", "203.0.113.30"),
    ]
    # Asking for the CNAME itself must not chase it.
    assert answers(query(udp, "hungry.mycompany.com", "CNAME")) == [
        ("hungry.mycompany.com.", "CNAME", "web.mycompany.com."),
    ]


def test_dns_cname_loop_terminates():
    zone = {"a.test": [world.Record("CNAME", "b.test")], "b.test": [world.Record("CNAME", "a.test")]}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        server = servers.DnsServer(udp, None, zone)
        reply = DNSRecord.parse(server.answer(DNSRecord.question("a.test").pack()))
    assert 0 < len(reply.rr) <= 8


def test_dns_nxdomain_echoes_question(lab):
    udp, _ = lab.dns()
    lab.start()
    reply = query(udp, "nope.mycompany.com")
    assert reply.header.rcode == RCODE.NXDOMAIN
    assert reply.rr == []
    assert [str(q.qname) for q in reply.questions] == ["nope.mycompany.com."]


def test_dns_known_name_without_that_type_is_nodata(lab):
    udp, _ = lab.dns()
    lab.start()
    reply = query(udp, "web.mycompany.com", "AAAA")
    assert reply.header.rcode == RCODE.NOERROR
    assert reply.rr == []


def test_dns_case_insensitive_and_trailing_dot(lab):
    udp, _ = lab.dns()
    lab.start()
    reply = query(udp, "WWW.Google.COM.")
    assert [(QTYPE[rr.rtype], str(rr.rdata)) for rr in reply.rr] == [("A", "203.0.113.21")]
    assert str(reply.rr[0].rname) == "WWW.Google.COM."  # owner echoes the query's case
    assert answers(query(udp, "DNS.GOOGLE")) == [("DNS.GOOGLE.", "A", "8.8.8.8")]


def test_dns_over_tcp(lab):
    _, tcp = lab.dns()
    lab.start()
    assert answers(query(tcp, "www.mycompany.com", tcp=True)) == [
        ("www.mycompany.com.", "CNAME", "web.mycompany.com."),
        ("web.mycompany.com.", "A", "203.0.113.30"),
    ]


def _frame(packet: bytes) -> bytes:
    return struct.pack("!H", len(packet)) + packet


def _read_frames(sock: socket.socket, count: int) -> list[DNSRecord]:
    buf = b""
    out: list[DNSRecord] = []
    while len(out) < count:
        chunk = sock.recv(4096)
        assert chunk, "server closed before answering"
        buf += chunk
        while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
            length = struct.unpack("!H", buf[:2])[0]
            out.append(DNSRecord.parse(buf[2:2 + length]))
            buf = buf[2 + length:]
    return out


def test_dns_tcp_pipelined_split_and_garbage(lab):
    _, tcp = lab.dns()
    lab.start()
    q1 = DNSRecord.question("www.naver.com", "AAAA")
    q2 = DNSRecord.question("web.prod.mycompany.com")
    stream = _frame(junk(7)) + _frame(b"") + _frame(q1.pack()) + _frame(q2.pack())
    with socket.create_connection((LO, tcp), timeout=3) as s:
        # Dribble the bytes so frames straddle reads.
        for i in range(0, len(stream), 5):
            s.sendall(stream[i:i + 5])
            time.sleep(0.002)
        r1, r2 = _read_frames(s, 2)
        s.shutdown(socket.SHUT_WR)
        assert s.recv(100) == b""  # server closes after our EOF
    assert r1.header.id == q1.header.id and answers(r1) == [
        ("www.naver.com.", "AAAA", "2001:db8::10")]
    assert r2.header.id == q2.header.id and answers(r2) == [
        ("web.prod.mycompany.com.", "A", "203.0.113.31")]


def test_dns_garbage_udp_is_ignored_then_good_query_answered(lab):
    udp, _ = lab.dns()
    lab.start()
    response = DNSRecord.question("www.naver.com").reply().pack()  # qr=1: must not answer
    no_question = DNSRecord.question("x.test").pack()[:12]
    garbage = [b"", b"\x00", junk(5), junk(600), b"\xff" * 64,
               response, no_question[:4] + b"\x00\x05" + no_question[6:]]
    good = DNSRecord.question("google.com")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        for packet in garbage:
            s.sendto(packet, (LO, udp))
        s.sendto(good.pack(), (LO, udp))
        first = DNSRecord.parse(s.recv(4096))
    assert first.header.id == good.header.id
    assert answers(first) == [("google.com.", "A", "203.0.113.20")]


def test_dns_tcp_idle_connection_expires(lab):
    _, tcp = lab.dns(idle_timeout=0.2)
    lab.start()
    with socket.create_connection((LO, tcp), timeout=3) as s:
        s.sendall(b"\x00")  # half a length prefix, then silence
        assert s.recv(10) == b""


# -- HTTP ------------------------------------------------------------------------------


def test_http_naver_302(lab):
    port = lab.http()
    lab.start()
    status, headers, body = get(port, "www.naver.com")
    assert status == 302
    assert headers["Location"] == "https://www.naver.com/"
    assert headers["Server"] == "netns-tutor-world"
    assert headers["Connection"] == "close"
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert body == (b"<html>\r\n<head><title>302 Found</title></head>\r\n<body>\r\n"
                    b"<center><h1>302 Found</h1></center>\r\n<hr><center> NWS </center>\r\n"
                    b"</body>\r\n</html>\r\n")
    assert int(headers["Content-Length"]) == len(body)


def test_http_google_301_host_case_and_port(lab):
    port = lab.http()
    lab.start()
    status, headers, body = get(port, "Google.COM:80")
    assert status == 301
    assert headers["Location"] == "http://www.google.com/"
    assert body.startswith(b"<HTML><HEAD>") and b"301 Moved" in body
    assert body.endswith(b"</BODY></HTML>\r\n")


def test_http_other_sites_and_fallback(lab):
    port = lab.http()
    lab.start()
    status, _, body = get(port, "www.google.com")
    assert status == 200 and b"simulated Google" in body
    status, _, body = get(port, "web.prod.mycompany.com")
    assert status == 200 and b"web.prod.mycompany.com" in body
    status, _, body = get(port, f"{LO}:{port}")
    assert status == 200 and f"netns-tutor simulated internet: {LO}".encode() in body


def test_http_head_has_headers_but_no_body(lab):
    port = lab.http()
    lab.start()
    raw = raw_exchange(port, b"HEAD / HTTP/1.1\r\nHost: google.com\r\n\r\n")
    head, sep, rest = raw.partition(b"\r\n\r\n")
    assert sep and rest == b""
    assert head.startswith(b"HTTP/1.1 301 Moved Permanently\r\n")
    assert f"Content-Length: {len(world.SITES['google.com'].body)}".encode() in head


def test_http_oversize_request_gets_431(lab):
    port = lab.http()
    lab.start()
    raw = raw_exchange(port, b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 40000)
    assert raw.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"Connection: close" in raw


def test_http_default_body_replaces_sites(lab):
    port = lab.http(default_body="Hello from blue\n")
    lab.start()
    for host in ("www.naver.com", "anything", LO):
        status, headers, body = get(port, host)
        assert (status, body) == (200, b"Hello from blue\n")
        assert "Location" not in headers


@pytest.mark.parametrize("request_bytes, status_line", [
    (b"GET / HTTP/1.0\n\n", b"HTTP/1.1 200 OK"),  # bare LF, as typed into nc
    (b"\r\nGET / HTTP/1.0\r\nHost: www.naver.com\r\n\r\n", b"HTTP/1.1 302 Found"),
    (b"GET http://google.com/ HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.1 301 Moved Permanently"),
    (b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.1 405 Method Not Allowed"),
    (b"\x00\xff\xfe garbage\r\n\r\n", b"HTTP/1.1 400 Bad Request"),
    (b"GET /\r\n\r\n", b"HTTP/1.1 400 Bad Request"),
    (b"GET / SPDY/3\r\n\r\n", b"HTTP/1.1 400 Bad Request"),
])
def test_http_odd_requests(lab, request_bytes, status_line):
    port = lab.http()
    lab.start()
    assert raw_exchange(port, request_bytes).split(b"\r\n")[0] == status_line


def test_http_half_closed_client_still_gets_reply(lab):
    port = lab.http()
    lab.start()
    raw = raw_exchange(port, b"GET / HTTP/1.0\r\nHost: www.google.com\r\n\r\n", half_close=True)
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and b"simulated Google" in raw


def test_http_garbage_then_good_request(lab):
    port = lab.http()
    lab.start()
    for _ in range(5):
        with socket.create_connection((LO, port), timeout=3) as s:
            s.sendall(junk(3000))  # no blank line: server keeps waiting, we hang up
    assert raw_exchange(port, junk(20000)).startswith(b"HTTP/1.1 431")
    assert get(port, "www.naver.com")[0] == 302


def test_http_idle_client_does_not_block_others_and_is_dropped(lab):
    port = lab.http(idle_timeout=0.5)
    lab.start()
    with socket.create_connection((LO, port), timeout=3) as idle, \
         socket.create_connection((LO, port), timeout=3) as slow:
        slow.sendall(b"GET / HTTP/1.1\r\nHo")
        started = time.monotonic()
        assert get(port, "www.naver.com")[0] == 302
        assert time.monotonic() - started < 0.4  # answered well before the idle timeout
        assert idle.recv(10) == b""  # dropped by tick() after ~0.5 s
        assert slow.recv(10) == b""
        assert time.monotonic() - started < 2.5
    assert _eventually_empty(lab.servers[0])


def _eventually_empty(server, wait: float = 3.0) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not server.listener.conns:
            return True
        time.sleep(0.02)
    return False


def test_expire_with_explicit_clock_and_close_releases_everything():
    sel = selectors.DefaultSelector()
    listener = socket.create_server((LO, 0))
    server = servers.HttpServer(listener)
    server.register(sel)
    with socket.create_connection(listener.getsockname(), timeout=3):
        for key, mask in sel.select(1):
            servers.dispatch(key, mask)
        assert len(server.listener.conns) == 1
        assert server.expire(time.monotonic()) == 0
        assert server.expire(time.monotonic() + servers.IDLE_TIMEOUT + 1) == 1
        assert server.listener.conns == set()
    server.close()
    assert listener.fileno() == -1
    assert sel.get_map() == {}
    sel.close()
