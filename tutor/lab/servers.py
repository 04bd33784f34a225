"""Non-blocking DNS and HTTP servers for the lab agent's ``selectors`` loop.

The agent creates and binds the sockets (it knows which namespace they live
in), hands them to a server, calls ``register(sel)``, and then runs::

    for key, mask in sel.select(timeout=1.0):
        dispatch(key, mask)
    for server in servers: server.tick()    # HTTP *and* DNS

Timeouts are driven by the caller: ``tick()`` (or ``expire(now)`` with an
explicit ``time.monotonic()`` value) closes connections idle for more than
IDLE_TIMEOUT, so the select timeout (<= 1 s) bounds how late that happens.
Each new accept also expires stale connections, which bounds the damage if
a caller forgets.  Nothing here blocks, uses threads, or lets an exception
from hostile input escape into the loop.
"""

from __future__ import annotations

import re
import selectors
import socket
import struct
import time
from collections.abc import Callable

from tutor.lab import dnswire, world
from tutor.lab.dnswire import ANY, CNAME, FORMERR, IN, NOTIMP, NXDOMAIN, QUERY, REFUSED, TYPES

IDLE_TIMEOUT = 5.0  # seconds a connection may sit without progress
LINGER_TIMEOUT = 2.0  # seconds we keep draining a client after our reply
MAX_REQUEST = 16 * 1024  # HTTP request head cap; beyond it we answer 431
MAX_CONNS = 256  # per listening socket; the lab never needs more
_BATCH = 64  # accepts/datagrams per wake-up, so one flood can't starve the loop
_MAX_DNS_BACKLOG = 256 * 1024  # unread TCP DNS replies before we give up on a peer
_MAX_CHAIN = 8  # CNAME hops; guards against loops in a hand-edited zone
_HEAD_END = re.compile(rb"\r?\n\r?\n")  # bare LF too: students type into nc
_AGAIN = (BlockingIOError, InterruptedError)


def _forget(sel: selectors.BaseSelector | None, sock: socket.socket) -> None:
    """Unregister (if registered) and close."""
    try:
        if sel is not None:
            sel.unregister(sock)
    except (KeyError, ValueError):
        pass
    sock.close()


def dispatch(key: selectors.SelectorKey, mask: int) -> None:
    """The agent's loop calls this for every ready key; key.data is a callable(mask)."""
    key.data(mask)


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


class _Conn:
    """One accepted TCP connection: buffers, state and selector bookkeeping.

    States: "open" (reading, writing when output is queued), "finishing"
    (flushing the last output, no more reading), "linger" (our side is shut
    for writing and we discard input until the peer closes; closing with
    unread input would send an RST that can destroy our reply in flight),
    and "closed".
    """

    def __init__(self, owner: _Acceptor, sock: socket.socket) -> None:
        self.owner, self.sock = owner, sock
        self.inbuf, self.outbuf = bytearray(), bytearray()
        self.state, self.last = "open", time.monotonic()
        sock.setblocking(False)
        self.events = selectors.EVENT_READ
        # connections come only from an acceptor's selector, so it has one
        assert owner.sel is not None
        self.sel: selectors.BaseSelector = owner.sel
        self.sel.register(sock, self.events, self.on_ready)

    def on_ready(self, mask: int) -> None:
        # A key from this select() batch can outlive its connection.
        if self.state == "closed":
            return
        try:
            if mask & selectors.EVENT_READ and self.state in ("open", "linger"):
                self._read()
            if mask & selectors.EVENT_WRITE and self.state != "closed":
                self._flush()
        except OSError:
            self.close()

    def _read(self) -> None:
        try:
            data = self.sock.recv(65536)
        except _AGAIN:
            return
        if not data:
            # Peer finished sending; still deliver replies it already asked for.
            if self.state == "open" and self.outbuf:
                self.finish()
            else:
                self.close()
            return
        if self.state == "linger":
            return  # discarded; 'last' stays put so a chatty peer can't linger forever
        self.last = time.monotonic()
        self.inbuf += data
        self.owner.on_data(self)

    def send(self, payload: bytes) -> None:
        """Queue ``payload`` and write as much as the socket takes now."""
        self.outbuf += payload
        self._flush()

    def finish(self) -> None:
        """Stop reading; flush queued output, then half-close and linger."""
        if self.state == "open":
            self.state = "finishing"
            self._flush()

    def _flush(self) -> None:
        while self.outbuf:
            try:
                sent = self.sock.send(self.outbuf)
            except _AGAIN:
                break
            del self.outbuf[:sent]
            self.last = time.monotonic()
        if self.state == "finishing" and not self.outbuf:
            self.sock.shutdown(socket.SHUT_WR)
            self.state, self.last = "linger", time.monotonic()
        want = selectors.EVENT_WRITE if self.outbuf else 0
        if self.state != "finishing":
            want |= selectors.EVENT_READ
        if want != self.events:
            self.events = want
            self.sel.modify(self.sock, want, self.on_ready)

    def expired(self, now: float) -> bool:
        limit = LINGER_TIMEOUT if self.state == "linger" else self.owner.idle_timeout
        return now - self.last > limit

    def close(self) -> None:
        """Unregister and close; safe to call more than once."""
        if self.state == "closed":
            return
        self.state = "closed"
        _forget(self.sel, self.sock)
        self.owner.conns.discard(self)


class _Acceptor:
    """Accepts on a listening socket and owns the resulting connections."""

    def __init__(self, sock: socket.socket, on_data: Callable[[_Conn], None],
                 idle_timeout: float) -> None:
        self.sock, self.on_data, self.idle_timeout = sock, on_data, idle_timeout
        self.sel: selectors.BaseSelector | None = None
        self.conns: set[_Conn] = set()
        sock.setblocking(False)

    def register(self, sel: selectors.BaseSelector) -> None:
        self.sel = sel
        sel.register(self.sock, selectors.EVENT_READ, self._accept)

    def _accept(self, mask: int) -> None:
        self.expire(time.monotonic())
        for _ in range(_BATCH):
            try:
                sock, _addr = self.sock.accept()
            except OSError:
                return  # EAGAIN, ECONNABORTED, EMFILE...: the next turn retries
            if len(self.conns) >= MAX_CONNS:
                sock.close()
                continue
            self.conns.add(_Conn(self, sock))

    def expire(self, now: float) -> int:
        stale = [c for c in self.conns if c.expired(now)]
        for conn in stale:
            conn.close()
        return len(stale)

    def close(self) -> None:
        for conn in list(self.conns):
            conn.close()
        _forget(self.sel, self.sock)


class DnsServer:
    """Authoritative-looking, recursion-available DNS for the simulated world."""

    def __init__(self, udp_sock: socket.socket, tcp_sock: socket.socket | None,
                 zone=world.ZONE, *, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.udp = udp_sock
        self.udp.setblocking(False)
        # Normalised copy, so callers may pass zones with any case or dots.
        self.zone = {_norm(name): list(records) for name, records in zone.items()}
        self.tcp = _Acceptor(tcp_sock, self._on_tcp_data, idle_timeout) if tcp_sock else None
        self._sel: selectors.BaseSelector | None = None

    def register(self, sel: selectors.BaseSelector) -> None:
        """Register the UDP socket and, if given, the TCP listener with ``sel``."""
        self._sel = sel
        sel.register(self.udp, selectors.EVENT_READ, self._on_udp)
        if self.tcp:
            self.tcp.register(sel)

    def expire(self, now: float) -> int:
        """Close TCP connections idle at monotonic time ``now``; return how many."""
        return self.tcp.expire(now) if self.tcp else 0

    def tick(self) -> int:
        """``expire(time.monotonic())``; the agent calls this once per loop turn."""
        return self.expire(time.monotonic())

    def close(self) -> None:
        """Unregister and close every socket, including the ones passed in."""
        if self.tcp:
            self.tcp.close()
        _forget(self._sel, self.udp)

    def answer(self, packet: bytes) -> bytes | None:
        """Return the wire-format reply to a query, or None to stay silent."""
        try:
            query = dnswire.parse_query(packet)
            return None if query is None else self._reply(query).pack()
        except Exception:  # hostile input (a zone name that cannot be encoded, say): the loop must survive
            return None

    def _reply(self, query: dnswire.Query) -> dnswire.Reply:
        if query.opcode != QUERY:
            return dnswire.Reply(query, NOTIMP, echo=False)
        if not query.questions:
            return dnswire.Reply(query, FORMERR, echo=False)
        reply = dnswire.Reply(query)
        if query.qclass != IN:
            reply.rcode = REFUSED
            return reply
        # The first owner is the question's own name: the query's spelling, as real servers echo it.
        owner: str | None = None
        name = _norm(query.name)
        for _ in range(_MAX_CHAIN):
            records = self.zone.get(name)
            if records is None:
                # Also right for a CNAME pointing out of the zone: resolvers
                # report NXDOMAIN with the chain so far.
                reply.rcode = NXDOMAIN
                break
            wanted = [r for r in records if r.rtype in TYPES and
                      (query.qtype == ANY or TYPES[r.rtype] == query.qtype)]
            for rec in wanted:
                reply.add(owner, TYPES[rec.rtype], world.TTL, rec.value)
            alias = [r for r in records if r.rtype == "CNAME"]
            if wanted or not alias:
                break  # answered, or NODATA (NOERROR with an empty answer)
            target = alias[0].value
            reply.add(owner, CNAME, world.TTL, target)
            owner, name = target, _norm(target)
        return reply

    def _on_udp(self, mask: int) -> None:
        for _ in range(_BATCH):
            try:
                packet, peer = self.udp.recvfrom(65535)
            except OSError:
                return  # EAGAIN, or a stray ICMP error: nothing to read now
            reply = self.answer(packet)
            if reply is None:
                continue
            try:
                self.udp.sendto(reply, peer)
            except OSError:
                pass  # full buffer or unroutable peer: drop it, as UDP servers do

    def _on_tcp_data(self, conn: _Conn) -> None:
        buf = conn.inbuf
        # RFC 7766: each message carries a 2-byte length; several may be queued.
        while len(buf) >= 2 and conn.state == "open":
            (length,) = struct.unpack_from("!H", buf)
            if len(buf) < 2 + length:
                break
            packet = bytes(buf[2:2 + length])
            del buf[:2 + length]
            reply = self.answer(packet)
            if reply is not None:
                conn.send(struct.pack("!H", len(reply)) + reply)
        if len(conn.outbuf) > _MAX_DNS_BACKLOG:
            conn.close()  # peer asks but never reads


class HttpServer:
    """One-request-per-connection HTTP/1.x server for GET and HEAD."""

    def __init__(self, listen_sock: socket.socket, sites=world.SITES,
                 default_body: str | None = None, *,
                 idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.sites, self.default_body = sites, default_body
        self.listener = _Acceptor(listen_sock, self._on_data, idle_timeout)

    def register(self, sel: selectors.BaseSelector) -> None:
        """Register the listening socket with ``sel``."""
        self.listener.register(sel)

    def expire(self, now: float) -> int:
        """Close connections idle at monotonic time ``now``; return how many."""
        return self.listener.expire(now)

    def tick(self) -> int:
        """``expire(time.monotonic())``; the agent calls this once per loop turn."""
        return self.expire(time.monotonic())

    def close(self) -> None:
        """Unregister and close the listener and every open connection."""
        self.listener.close()

    def _on_data(self, conn: _Conn) -> None:
        buf = conn.inbuf
        # RFC 9112 2.2: ignore stray empty lines before the request line.
        del buf[:len(buf) - len(buf.lstrip(b"\r\n"))]
        match = _HEAD_END.search(buf)
        if match is None and len(buf) <= MAX_REQUEST:
            return
        if match is None or match.end() > MAX_REQUEST:
            response = _response("431 Request Header Fields Too Large", {}, None, False)
        else:
            response = self.respond(bytes(buf[:match.start()]))
        buf.clear()
        conn.send(response)
        conn.finish()

    def respond(self, head: bytes) -> bytes:
        """Build the full response for a request head (without the blank line)."""
        # latin-1 maps every byte, so garbage can't raise here.
        lines = head.decode("latin-1").split("\n")
        parts = lines[0].split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return _response("400 Bad Request", {}, None, False)
        method, target, _version = parts
        if method not in ("GET", "HEAD"):
            return _response("405 Method Not Allowed", {"Allow": "GET, HEAD"}, None, False)
        host = None
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep and name.strip().lower() == "host":
                host = value.strip()
                break
        if target.lower().startswith(("http://", "https://")):
            host = target.split("/", 3)[2]  # absolute-form wins (RFC 9112 3.2.2)
        if self.default_body is not None:
            site = world.Site("200 OK", {}, self.default_body)
        else:
            site = world.site_for(host, self.sites)
        return _response(site.status, site.headers, site.body, method == "HEAD")


def _response(status: str, extra: dict[str, str], body: str | None, head_only: bool) -> bytes:
    if body is None:
        body = f"<html><body><h1>{status}</h1></body></html>\n"
    payload = body.encode("utf-8")
    headers = {
        "Server": "netns-tutor-world",
        "Content-Type": "text/html; charset=utf-8",
        "Content-Length": str(len(payload)),
        **extra,
        "Connection": "close",
    }
    text = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = (text + "\r\n").encode("latin-1")
    return head if head_only else head + payload
