"""The lab's simulated world, declared once: its machines, their cables to the lab host, their
addresses and services, the DNS zone and the web sites.

Everything that builds, checks, explains or draws the world reads it from here: the builder
(`tutor.lab.network`), the agent's servers, the checks' hints, the TUI's map and docs/world.md
(generated: `python -m tutor.lab.world`). Adding a machine is one more `Node` in `NODES`.

Pure data plus small lookups; the servers that speak the wire protocols live in
``tutor.lab.servers``. Everything is deterministic and offline. Web servers use the
documentation ranges 203.0.113.0/24 (RFC 5737) and 2001:db8::/32 (RFC 3849) so that nothing a
student does in the lab can ever be confused with, or leak towards, a real host. The only real
address is 8.8.8.8, because "the DNS server is 8.8.8.8" is what students will meet in the wild.
"""

from __future__ import annotations

from collections import namedtuple

# `ipaddress` (~1.5 ms) is imported where it is used, by the docs and the lessons' hints: every
# lab's agent imports this module as it starts, and never needs it (issue 15). What the agent
# does need is imported here, at the top: once the lab is built the agent cannot see the
# interpreter's library if it lives under /root.

DNS_SERVER = "8.8.8.8"
LAB_HOSTNAME = "lab"
LAB_RUN = "/run/tutor"            # the agent's own files inside the lab (world nodes, helpers)
WORLD_DIR = f"{LAB_RUN}/world"    # each node's network namespace, bind-mounted as WORLD_DIR/NAME

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
# time out after DNS succeeded.
WEB_ADDRESSES: frozenset[str] = frozenset(
    r.value
    for records in ZONE.values()
    for r in records
    if r.rtype == "A" and r.value != DNS_SERVER
)


# Value classes here are named tuples, not dataclasses: every `tutor` command and every lab agent
# imports this module, and `dataclasses` (with the `inspect` it loads) costs ~6.5 ms per process,
# ~13 ms on `tutor lab up`, where the CLI and the agent both load it (bench/README.md).
class Service(namedtuple("Service", "kind address port")):
    """A server a world machine runs: `kind` "dns" (UDP and TCP) or "http", on address:port
    ("0.0.0.0": every address of the machine)."""
    __slots__ = ()


class Node(namedtuple("Node", "name label host_dev host_address address extra services gateway dev",
                      defaults=((), (), False, "eth0"))):
    """A machine of the simulated world, cabled to the lab host by a veth pair.

    `name`: its file under WORLD_DIR, `from node NAME`, the `NAME` helper; `label`: what the map
    calls it. The lab host's end of the cable is `host_dev` with `host_address` (CIDR); the
    machine's end is `dev` with `address` (CIDR). `extra` are further addresses it answers for
    (held on its loopback, as /32); `services` what it serves; `gateway`: the lab host's default
    route goes through it."""
    __slots__ = ()

    @property
    def ip(self) -> str:
        """Its address on the cable, without the prefix."""
        return self.address.split("/")[0]

    @property
    def host_ip(self) -> str:
        """The lab host's address on the cable, without the prefix."""
        return self.host_address.split("/")[0]

    @property
    def subnet(self) -> str:
        """The cable's network ("172.17.0.0/16")."""
        import ipaddress
        return str(ipaddress.ip_network(self.address, strict=False))


NODES: tuple[Node, ...] = (
    # The internet: the lab host's upstream router (like a container host's docker0 gateway),
    # the DNS server and every web site of the zone.
    Node("internet", "internet", "eth0", "172.17.0.3/16", "172.17.0.1/16",
         extra=(DNS_SERVER, *sorted(WEB_ADDRESSES)),
         services=(Service("dns", DNS_SERVER, 53), Service("http", "0.0.0.0", 80)),
         gateway=True),
    # A machine on the lab host's LAN, for lesson 5's port forwarding from outside.
    Node("lan", "LAN", "eth1", "192.168.1.2/24", "192.168.1.3/24"),
)
NODE_NAMES: tuple[str, ...] = tuple(n.name for n in NODES)
WORLD_LINKS: tuple[str, ...] = tuple(n.host_dev for n in NODES)   # the lab host's cables out


def node(name: str) -> Node:
    """The world machine called `name` (KeyError for none)."""
    for n in NODES:
        if n.name == name:
            return n
    raise KeyError(name)


def gateway() -> Node:
    """The machine the lab host's default route goes through."""
    return next(n for n in NODES if n.gateway)


def taken_subnets() -> list[str]:
    """The networks the world's cables use on the lab host."""
    return [n.subnet for n in NODES]


def free_bridge_subnet() -> str:
    """The first of 172.17.0.0/16 … 172.31.0.0/16 that no world cable overlaps: the range Docker
    would give a new bridge network on the lab host (172.18.0.0/16, as eth0 holds 172.17/16)."""
    import ipaddress
    taken = [ipaddress.ip_network(s) for s in taken_subnets()]
    for second in range(17, 32):
        candidate = ipaddress.ip_network(f"172.{second}.0.0/16")
        if not any(candidate.overlaps(t) for t in taken):
            return str(candidate)
    raise LookupError("no free 172.16.0.0/12 range")


class Site(namedtuple("Site", "status headers body")):
    """A canned HTTP answer: status line (without version), extra headers (a dict), body."""
    __slots__ = ()


_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})


def escape(text: str) -> str:
    """`html.escape(text)`, without importing `html`: its entity table is ~1.5 ms of every
    start of the agent and of the command line, which read this module (issue 15)."""
    return text.translate(_HTML_ESCAPES)


def _page(title: str, text: str) -> str:
    return (
        f"<!DOCTYPE html>\n<html>\n<head><title>{title}</title></head>\n"
        f"<body>\n<h1>{title}</h1>\n<p>{text}</p>\n</body>\n</html>\n"
    )


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
        _page("netns-tutor", f"netns-tutor simulated internet: {escape(shown)}"),
    )


def inventory() -> str:
    """docs/world.md: the world as declared here, in Markdown."""
    gw = gateway()
    lines = ["# The lab's world", "",
             "Generated from `tutor/lab/world.py` by `python -m tutor.lab.world > docs/world.md`;",
             "a test holds the two equal. Lessons and checks may use every name and address below.",
             "", "## Machines", "",
             "| machine | its address | the lab host's end | also answers for | services |",
             "|---|---|---|---|---|"]
    for n in NODES:
        services = ", ".join(f"{s.kind} {s.address}:{s.port}" for s in n.services) or "–"
        lines.append(f"| `{n.name}` ({n.label}) | {n.address} on {n.dev} | {n.host_dev} {n.host_address} | "
                     f"{', '.join(n.extra) or '–'} | {services} |")
    lines += ["", f"The lab host (hostname `{LAB_HOSTNAME}`) routes `default via {gw.ip}` "
              f"(the {gw.name} machine) and resolves names with `nameserver {DNS_SERVER}`.",
              f"Each machine's network namespace is `{WORLD_DIR}/NAME` inside the lab; the `NAME` "
              "command on the lab host runs a command there (`lan ip addr`).",
              f"A new bridge network on the lab host takes {free_bridge_subnet()}, the first "
              "172.16.0.0/12 range no cable uses, as Docker would.",
              "", "## DNS zone", "", f"Served at {DNS_SERVER}:53 (UDP and TCP), TTL {TTL}.", "",
              "| name | type | value |", "|---|---|---|"]
    for name, records in ZONE.items():
        lines += [f"| {name} | {r.rtype} | {r.value} |" for r in records]
    lines += ["", "## Web sites", "", "Every address of the internet machine answers HTTP on port 80; "
              "the Host header picks the page.", "", "| Host | answer |", "|---|---|"]
    lines += [f"| {name} | {site.status} |" for name, site in SITES.items()]
    lines += ["| anything else | 200 OK, a page naming the host |", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(inventory(), end="")
