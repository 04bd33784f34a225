"""The check language: one line of a lesson's `check` block -> a `Check`.

See docs/lesson-format.md for the grammar. The first word names the kind; the kind's module in
`tutor.checks.kinds` parses the rest with the helpers here (a cursor over the words, and
validators for addresses, names and ports). A Check is plain data; reading the lab lives in
`observe`, judging in the kinds.
"""

from __future__ import annotations

import re

from tutor.checks import kinds
from tutor.i18n import Msg
from tutor.lab import HOST
from tutor.lab.world import NODE_NAMES


class CheckSyntaxError(ValueError):
    """A check line that does not follow the grammar."""


# Where and Check (like tutor.lessons.lesson's Step and Lesson) are small hand-written value classes,
# not dataclasses: `tutor reset` loads them from the lesson cache and imports nothing else that
# needs `dataclasses`, which with `inspect` costs it ~7.5–11 ms (bench/README.md, issue 10).

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
        return kinds.get(self.kind).layer

    @property
    def behaviour(self) -> bool:
        return kinds.get(self.kind).behaviour


def parse_check(line: str) -> Check:
    """Parse one check line; raises CheckSyntaxError with a sentence on bad input."""
    text = " ".join(line.split())
    w = Words(text.split())
    name = w.take(Msg("a check"))
    if name not in kinds.names():
        raise CheckSyntaxError(Msg("unknown check {name!r} (known: {known})", name=name,
                                   known=", ".join(sorted(kinds.names()))))
    kind = kinds.get(name)
    args, where = kind.parse(w)
    if kind.behaviour and "from" not in text.split():
        raise CheckSyntaxError(Msg("`{name}` needs `from X` (host, a namespace, or node {nodes})", name=name,
                                   nodes="|".join(NODE_NAMES)))
    w.done()
    return Check(text, name, args, where)


# --- helpers the kinds parse with ------------------------------------------------------------

class Words:
    """A cursor over a line's words with keyword-option helpers."""

    def __init__(self, words: list[str]):
        self.words = words

    def take(self, what: str) -> str:
        if not self.words:
            raise CheckSyntaxError(Msg("missing {what}", what=what))
        return self.words.pop(0)

    def option(self, keyword: str, what: str) -> str | None:
        if keyword in self.words:
            i = self.words.index(keyword)
            if i + 1 >= len(self.words):
                raise CheckSyntaxError(Msg("`{keyword}` needs {what}", keyword=keyword, what=what))
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
            raise CheckSyntaxError(Msg("`{keyword}` needs a namespace, `host` or `node NAME`", keyword=keyword))
        if rest[0] == "node":
            if keyword != "from":
                raise CheckSyntaxError(Msg("state checks look in a namespace or on the host; "
                                           "`node` is only for behaviour checks (`from node lan`)"))
            if len(rest) < 2 or rest[1] not in NODE_NAMES:
                raise CheckSyntaxError(Msg("`node` must be followed by {nodes}",
                                           nodes=" or ".join(f"`{n}`" for n in NODE_NAMES)))
            del self.words[i:i + 3]
            return Where(rest[1], node=True)
        del self.words[i:i + 2]
        return Where(rest[0] if rest[0] == HOST else ns_name(rest[0]))

    def done(self) -> None:
        if self.words:
            raise CheckSyntaxError(Msg("unexpected {words!r}", words=" ".join(self.words)))


def ip_address(value: str, what: str) -> str:
    """`value` as a normalised IP address, or a CheckSyntaxError naming `what` it was."""
    import ipaddress  # here: only parsing needs it, and lessons come parsed from a cache
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise CheckSyntaxError(Msg("{what} {value!r} is not an IP address", what=what, value=value)) from None


def network(value: str, what: str) -> str:
    """`value` as a normalised network (host bits must be zero)."""
    import ipaddress
    try:
        return str(ipaddress.ip_network(value))
    except ValueError:
        raise CheckSyntaxError(Msg("{what} {value!r} is not a network like 10.201.0.0/24",
                                   what=what, value=value)) from None


def ns_name(value: str) -> str:
    """A namespace name, as `ip netns add` takes it."""
    if value in (".", "..") or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
        raise CheckSyntaxError(Msg("{value!r} is not a namespace name", value=value))
    return value


def iface(value: str) -> str:
    """An interface name, as the kernel takes it."""
    if value.startswith("/") or not re.fullmatch(r"[A-Za-z0-9_.@:-]{1,15}", value):
        raise CheckSyntaxError(Msg("{value!r} is not an interface name", value=value))
    return value


def port(value: str) -> int:
    """A TCP port number, 1-65535."""
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise CheckSyntaxError(Msg("{value!r} is not a port number", value=value))
    return int(value)


def missing(what: str):
    """Raise `missing WHAT` (for `w.option(...) or missing(...)`)."""
    raise CheckSyntaxError(Msg("missing {what}", what=what))
