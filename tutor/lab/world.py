"""What the lab's simulated internet answers: DNS zone data and web sites.

This module is pure data plus two tiny lookup helpers; the servers that speak
the wire protocols live in ``tutor.lab.servers``.  Everything is deterministic
and offline.  Web servers use the documentation ranges 203.0.113.0/24
(RFC 5737) and 2001:db8::/32 (RFC 3849) so that nothing a student does in the
lab can ever be confused with, or leak towards, a real host.  The only real
address is 8.8.8.8, because "the DNS server is 8.8.8.8" is what students will
meet in the wild.
"""

from __future__ import annotations

import html
from collections import namedtuple

DNS_SERVER = "8.8.8.8"
ROUTER = "172.17.0.1"

# Short enough that students re-running dig see it count down, long enough
# that it looks like a normal public record.
TTL = 300


class Record(namedtuple("Record", "rtype value")):
    """One resource record: ``rtype`` is "A", "AAAA" or "CNAME"; ``value`` its data."""
    __slots__ = ()


# Keys are lower-case and have no trailing dot; servers normalise queries to
# the same form before looking them up.
ZONE: dict[str, list[Record]] = {
    "www.naver.com": [Record("A", "203.0.113.10"), Record("AAAA", "2001:db8::10")],
    "google.com": [Record("A", "203.0.113.20"), Record("AAAA", "2001:db8::20")],
    "www.google.com": [Record("A", "203.0.113.21"), Record("AAAA", "2001:db8::21")],
    "web.mycompany.com": [Record("A", "203.0.113.30")],
    "web.prod.mycompany.com": [Record("A", "203.0.113.31")],
    "www.mycompany.com": [Record("CNAME", "web.mycompany.com")],
    "eat.mycompany.com": [Record("CNAME", "web.mycompany.com")],
    "hungry.mycompany.com": [Record("CNAME", "web.mycompany.com")],
    "dns.google": [Record("A", DNS_SERVER)],
}

# The internet node must own every web address or the students' curl would
# time out after DNS succeeded; 8.8.8.8 is placed separately by the agent.
WEB_ADDRESSES: frozenset[str] = frozenset(
    r.value
    for records in ZONE.values()
    for r in records
    if r.rtype == "A" and r.value != DNS_SERVER
)


class Site(namedtuple("Site", "status headers body")):
    """A canned HTTP answer: status line (without version), extra headers (a dict), body."""
    __slots__ = ()


def _page(title: str, text: str) -> str:
    return (
        "<!DOCTYPE html>\n<html>\n<head><title>{0}</title></head>\n"
        "<body>\n<h1>{0}</h1>\n<p>{1}</p>\n</body>\n</html>\n"
    ).format(title, text)


# Bodies of the two redirects are byte-for-byte what the real sites sent, so
# that what students see with curl in the lab matches what they see outside.
SITES: dict[str, Site] = {
    "www.naver.com": Site(
        "302 Found",
        {"Location": "https://www.naver.com/"},
        "<html>\r\n<head><title>302 Found</title></head>\r\n<body>\r\n"
        "<center><h1>302 Found</h1></center>\r\n<hr><center> NWS </center>\r\n"
        "</body>\r\n</html>\r\n",
    ),
    "google.com": Site(
        "301 Moved Permanently",
        {"Location": "http://www.google.com/"},
        '<HTML><HEAD><meta http-equiv="content-type" content="text/html;charset=utf-8">\n'
        "<TITLE>301 Moved</TITLE></HEAD><BODY>\n<H1>301 Moved</H1>\n"
        "The document has moved\n"
        '<A HREF="http://www.google.com/">here</A>.\r\n</BODY></HTML>\r\n',
    ),
    "www.google.com": Site(
        "200 OK",
        {},
        _page("Google", "This is the netns-tutor lab's simulated Google (www.google.com)."),
    ),
    "web.mycompany.com": Site(
        "200 OK",
        {},
        _page("mycompany", "Answered by web.mycompany.com (203.0.113.30)."),
    ),
    "web.prod.mycompany.com": Site(
        "200 OK",
        {},
        _page("mycompany prod", "Answered by web.prod.mycompany.com (203.0.113.31)."),
    ),
}


def normalize_host(host: str | None) -> str:
    """Return ``host`` lower-cased with any port and trailing dot removed.

    Handles bracketed IPv6 literals ("[2001:db8::10]:80").  ``None`` or an
    empty header gives "".
    """
    host = (host or "").strip().lower()
    if host.startswith("["):
        end = host.find("]")
        # An unterminated bracket is garbage; keep it so the fallback page
        # shows the student exactly what they sent.
        return host[1:end] if end != -1 else host
    # Only strip a port when there is exactly one colon: a bare IPv6 address
    # without brackets has several and no port to strip.
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def site_for(host: str | None, sites: dict[str, Site] | None = None) -> Site:
    """Pick the canned answer for a Host header value.

    Unknown hosts and bare IP addresses get a generic page naming the host,
    so a student can always tell which name their request carried.
    """
    table = SITES if sites is None else sites
    name = normalize_host(host)
    site = table.get(name)
    if site is not None:
        return site
    shown = name or "(no Host header)"
    return Site(
        "200 OK",
        {},
        # Escaped because the Host header is whatever the student typed.
        _page("netns-tutor", f"netns-tutor simulated internet: {html.escape(shown)}"),
    )
