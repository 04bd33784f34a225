"""The check language: one line of a lesson's `check` block -> a `Check`.

See docs/lesson-format.md for the grammar. A Check is plain data; reading the lab lives in
`observe`, judging in `judge`.
"""

from __future__ import annotations

import re

from tutor.lab import HOST
from tutor.lab.world import NODE_NAMES

# Layers, lowest first: the first failing check of the lowest layer explains a failing step.
LAYERS = {"netns": 0, "link": 1, "peer": 1, "master": 1, "addr": 2, "route": 3, "sysctl": 4,
          "forward": 4, "masquerade": 5, "dnat": 5, "resolv": 6,
          "ping": 7, "resolve": 7, "fetch": 7, "tcp": 7}
BEHAVIOUR = {"ping", "resolve", "fetch", "tcp"}


class CheckSyntaxError(ValueError):
    """A check line that does not follow the grammar."""


# Where, Check (and tutor.lesson's Step, Lesson) are small hand-written value classes, not
# dataclasses: they are all `tutor reset` and `tutor list` load, and importing `dataclasses`
# would cost every such call ~8 ms.

class Where:
    """Where a check looks or runs: the lab host, a student namespace, or a world node."""
    __slots__ = ("ns", "node")

    def __init__(self, ns: str = HOST, node: bool = False):
        self.ns, self.node = ns, node

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Where) and (self.ns, self.node) == (other.ns, other.node)

    def __hash__(self) -> int:
        return hash((self.ns, self.node))

    def __repr__(self) -> str:
        return f"Where({self.ns!r}, node={self.node})"

    def __str__(self) -> str:
        return f"node {self.ns}" if self.node else self.ns


class Check:
    """One parsed check line: its text, kind, parsed arguments and where it applies.

    Equal (and hashed) by text, kind and place; `args` follow from the text."""
    __slots__ = ("text", "kind", "args", "where")

    def __init__(self, text: str, kind: str, args: dict | None = None, where: Where | None = None):
        self.text, self.kind = text, kind
        self.args = {} if args is None else args
        self.where = Where() if where is None else where

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Check) and (self.text, self.kind, self.where) == (other.text, other.kind, other.where)

    def __hash__(self) -> int:
        return hash((self.text, self.kind, self.where))

    def __repr__(self) -> str:
        return f"Check({self.text!r}, {self.kind!r}, {self.args!r}, {self.where!r})"

    @property
    def layer(self) -> int:
        return LAYERS[self.kind]

    @property
    def behaviour(self) -> bool:
        return self.kind in BEHAVIOUR


def _ip(value: str, what: str) -> str:
    import ipaddress   # here: only parsing needs it, and lessons come parsed from a cache
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise CheckSyntaxError(f"{what} {value!r} is not an IP address") from None


def _net(value: str, what: str) -> str:
    import ipaddress
    try:
        return str(ipaddress.ip_network(value))
    except ValueError:
        raise CheckSyntaxError(f"{what} {value!r} is not a network like 10.201.0.0/24") from None


def _ns(value: str) -> str:
    if value in (".", "..") or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
        raise CheckSyntaxError(f"{value!r} is not a namespace name")
    return value


def _iface(value: str) -> str:
    if value.startswith("/") or not re.fullmatch(r"[A-Za-z0-9_.@:-]{1,15}", value):
        raise CheckSyntaxError(f"{value!r} is not an interface name")
    return value


class _Words:
    """A cursor over a line's words with keyword-option helpers."""

    def __init__(self, words: list[str]):
        self.words = words

    def take(self, what: str) -> str:
        if not self.words:
            raise CheckSyntaxError(f"missing {what}")
        return self.words.pop(0)

    def option(self, keyword: str, what: str) -> str | None:
        if keyword in self.words:
            i = self.words.index(keyword)
            if i + 1 >= len(self.words):
                raise CheckSyntaxError(f"`{keyword}` needs {what}")
            value = self.words[i + 1]
            del self.words[i:i + 2]
            return value
        return None

    def flag(self, keyword: str) -> bool:
        if keyword in self.words:
            self.words.remove(keyword)
            return True
        return False

    def where(self, keyword: str) -> Where:
        if keyword not in self.words:
            return Where()
        i = self.words.index(keyword)
        rest = self.words[i + 1:]
        if not rest:
            raise CheckSyntaxError(f"`{keyword}` needs a namespace, `host` or `node NAME`")
        if rest[0] == "node":
            if keyword != "from":
                raise CheckSyntaxError("state checks look in a namespace or on the host; "
                                       "`node` is only for behaviour checks (`from node lan`)")
            if len(rest) < 2 or rest[1] not in NODE_NAMES:
                raise CheckSyntaxError(f"`node` must be followed by {' or '.join(f'`{n}`' for n in NODE_NAMES)}")
            del self.words[i:i + 3]
            return Where(rest[1], node=True)
        del self.words[i:i + 2]
        return Where(rest[0] if rest[0] == HOST else _ns(rest[0]))

    def done(self) -> None:
        if self.words:
            raise CheckSyntaxError(f"unexpected {' '.join(self.words)!r}")


def parse_check(line: str) -> Check:
    """Parse one check line; raises CheckSyntaxError with a sentence on bad input."""
    text = " ".join(line.split())
    w = _Words(text.split())
    kind = w.take("a check")
    if kind not in LAYERS:
        raise CheckSyntaxError(f"unknown check {kind!r} (known: {', '.join(sorted(LAYERS))})")
    args: dict = {}
    where = Where()
    if kind == "netns":
        args["name"] = _ns(w.take("a namespace name"))
    elif kind == "link":
        args["dev"] = _iface(w.take("an interface"))
        where = w.where("in")
        args["type"] = w.option("type", "veth or bridge")
        args["up"] = w.flag("up")
    elif kind == "peer":
        args["dev"] = _iface(w.take("an interface"))
        if "with" not in w.words:
            raise CheckSyntaxError("`peer DEV [in NS] with DEV2 [in NS2]` needs `with`")
        split = w.words.index("with")
        head, tail = _Words(w.words[:split]), _Words(w.words[split + 1:])
        where = head.where("in")
        head.done()
        args["peer"] = _iface(tail.take("the other end"))
        args["peer_ns"] = tail.where("in").ns
        tail.done()
        w.words = []
    elif kind == "master":
        args["dev"] = _iface(w.take("an interface"))
        args["bridge"] = _iface(w.option("is", "a bridge name") or _missing("`is BRIDGE`"))
        where = w.where("in")
    elif kind == "addr":
        cidr = w.take("an address like 10.200.0.2/24")
        if "/" not in cidr:
            raise CheckSyntaxError(f"address {cidr!r} needs its prefix, like {cidr}/24")
        ip, prefix = cidr.split("/", 1)
        args["ip"] = _ip(ip, "address")
        if not prefix.isdigit() or int(prefix) > (32 if "." in args["ip"] else 128):
            raise CheckSyntaxError(f"{cidr!r} has no valid prefix length (like /24)")
        args["prefix"] = int(prefix)
        args["dev"] = _iface(w.option("on", "an interface") or _missing("`on DEV`"))
        where = w.where("in")
    elif kind == "route":
        dest = w.take("a destination (`default` or A.B.C.D/P)")
        args["dest"] = "default" if dest in ("default", "0.0.0.0/0") else _net(dest, "destination")
        via = w.option("via", "a gateway address")
        args["via"] = _ip(via, "gateway") if via else None
        dev = w.option("dev", "an interface")
        args["dev"] = _iface(dev) if dev else None
        where = w.where("in")
    elif kind == "sysctl":
        key = w.take("a sysctl name")
        if "=" in key:   # `KEY=VALUE`, the way `sysctl -w` is typed
            key, _, value = key.partition("=")
            if value:
                w.words.insert(0, value)
        elif w.take("`=`") != "=":
            raise CheckSyntaxError("write `sysctl KEY = VALUE`")
        if not re.fullmatch(r"[a-z0-9_]+(?:[./][A-Za-z0-9_-]+)+", key):
            raise CheckSyntaxError(f"{key!r} is not a sysctl name like net.ipv4.ip_forward")
        args["key"] = key.replace("/", ".")
        args["value"] = w.take("a value")
        where = w.where("in")
    elif kind == "forward":
        pass
    elif kind == "masquerade":
        args["subnet"] = _net(w.take("a source subnet"), "subnet")
    elif kind == "dnat":
        if w.take("a protocol") != "tcp":
            raise CheckSyntaxError("write `dnat tcp PORT to IP:PORT`")
        args["port"] = _port(w.take("a port"))
        target = w.option("to", "IP:PORT") or _missing("`to IP:PORT`")
        ip, _, port = target.partition(":")
        args["to_ip"], args["to_port"] = _ip(ip, "DNAT target"), _port(port or str(args["port"]))
    elif kind == "resolv":
        args["ns"] = _ns(w.take("a namespace"))
        args["nameserver"] = _ip(w.option("nameserver", "an address") or _missing("`nameserver IP`"), "nameserver")
    elif kind == "ping":
        args["ip"] = _ip(w.take("an address"), "ping target")
        where = w.where("from")
    elif kind == "resolve":
        args["name"] = w.take("a host name")
        is_ip = w.option("is", "an address")
        args["is"] = _ip(is_ip, "address") if is_ip else None
        where = w.where("from")
    elif kind == "fetch":
        url = w.take("a URL")
        if not re.match(r"^https?://[^\s/]+", url):
            raise CheckSyntaxError(f"{url!r} is not an http:// URL")
        args["url"] = url
        status = w.option("status", "an HTTP status code")
        args["status"] = int(status) if status and status.isdigit() else None
        if status and args["status"] is None:
            raise CheckSyntaxError(f"status {status!r} is not a number")
        where = w.where("from")
    elif kind == "tcp":
        target = w.take("IP:PORT")
        if ":" not in target:
            raise CheckSyntaxError(f"{target!r} needs a port: write `tcp IP:PORT`, like {target}:80")
        ip, _, port = target.rpartition(":")
        args["ip"], args["port"] = _ip(ip, "address"), _port(port)
        where = w.where("from")
    if kind in BEHAVIOUR and "from" not in text.split():
        raise CheckSyntaxError(f"`{kind}` needs `from X` (host, a namespace, or node {'|'.join(NODE_NAMES)})")
    w.done()
    return Check(text, kind, args, where)


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise CheckSyntaxError(f"{value!r} is not a port number")
    return int(value)


def _missing(what: str):
    raise CheckSyntaxError(f"missing {what}")
