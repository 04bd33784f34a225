"""What a check kind is: the base classes every module in `tutor.checks.kinds` fills in.

A kind declares its grammar (`parse`), its layer, its line of documentation (`syntax`, `means`)
and what the observation must read for it (`reads`). A state kind judges what was read
(`judge`, pure); a behaviour kind is probed (`command`) and says what it saw (`worked`,
`expected`, `mismatch`) and, when it failed, which hop it suspects (`explain`, pure).
"""

from __future__ import annotations

from tutor.checks.judge import Verdict, in_ns
from tutor.checks.lang import Check, Where, Words
from tutor.lab.state import HOST, LabState
from tutor.plain import Plain

IP_FORWARD = "net.ipv4.ip_forward"


class Reads(Plain):
    """What one observation must read for some checks: the namespaces whose links, routes and
    namespace ids they look at (the lab host's always; the list of names always), and more."""
    __slots__ = ("namespaces", "sysctls", "resolv", "rules", "lan", "hosts", "ids")

    def __init__(self, namespaces: set[str] | None = None, sysctls: set[tuple[str, str]] | None = None,
                 resolv: set[str] | None = None, rules: bool = False, lan: bool = False, hosts: bool = False,
                 ids: bool = False):
        self.namespaces = set() if namespaces is None else namespaces   # student namespaces to read
        self.sysctls = set() if sysctls is None else sysctls            # (namespace, key)
        self.resolv = set() if resolv is None else resolv               # namespaces (resolv_path), HOST too
        self.rules = rules      # iptables-save
        self.lan = lan          # the LAN machine's routes
        self.hosts = hosts      # the lab host's /etc/hosts
        self.ids = ids          # the namespaces' ids for each other: which namespace a veth's other end is in

    def add(self, other: Reads) -> None:
        """Read what `other` needs as well."""
        self.namespaces |= other.namespaces
        self.sysctls |= other.sysctls
        self.resolv |= other.resolv
        self.rules |= other.rules
        self.lan |= other.lan
        self.hosts |= other.hosts
        self.ids |= other.ids


class Kind:
    """One kind of check line. Subclasses set the class attributes and implement `parse`.
    (Class attributes annotated without typing.ClassVar: `tutor verify` imports no typing.)"""
    name: str      # the first word of its lines; also its module's name
    syntax: str    # docs: the line's shape, `link DEV [in NS] [up] [type veth|bridge]`
    means: str     # docs: when it passes
    layer: int     # lowest first: the first failing check of the lowest layer gives the hint
    behaviour: bool = False

    def parse(self, w: Words) -> tuple[dict, Where]:
        """The words after the kind's name -> (args, where); raises CheckSyntaxError.
        Words left over are refused by the caller."""
        raise NotImplementedError

    def reads(self, check: Check, for_hints: bool) -> Reads:
        """What the observation must read for `check` (`for_hints`: also what explains a failed
        probe), beyond the namespace it names (`observe.reads` adds that one for every kind)."""
        return Reads()


class StateKind(Kind):
    """A check of the lab's state, judged from one observation."""

    def judge(self, check: Check, state: LabState) -> Verdict:
        """The verdict, from what was read (pure): what was found and, failing, the fix."""
        raise NotImplementedError


class ProbeKind(Kind):
    """A check of behaviour: a command run where the check says, which works or not."""
    behaviour: bool = True
    layer: int = 7
    looks_up_names: bool = False   # resolves a name where it runs (its resolv.conf is read)
    protocol: str = ""             # its packet, icmp or tcp, for `tutor trace` ("": not traced)

    def command(self, check: Check) -> str:
        """The shell command that performs it (exit 0 = it worked), before the prefix that runs
        it in the check's namespace or node."""
        raise NotImplementedError

    def expected(self, check: Check, seen: str) -> bool:
        """The command worked; is what it printed what the check expects (a status, an address)?"""
        return True

    def worked(self, check: Check, seen: str) -> str:
        """The ✓ sentence: what it did, quoting what it saw."""
        raise NotImplementedError

    def mismatch(self, check: Check, seen: str) -> Verdict:
        """The command worked but saw something else than `expected`."""
        raise NotImplementedError(f"{self.name} checks expect nothing but success")

    def target(self, check: Check) -> tuple[str, int]:
        """(host part, tcp port or 0) it reaches, for the path walk of a failed probe."""
        raise NotImplementedError

    def explain(self, check: Check, state: LabState) -> Verdict | None:
        """Why it failed from a namespace or the lab host: the first broken hop seen, or None
        (checks from a world node are explained by `diagnose` for every kind alike)."""
        raise NotImplementedError

    def reads(self, check: Check, for_hints: bool) -> Reads:
        """A failed probe is explained from the firewall, forwarding, and, from a world node,
        the LAN machine's routes: read only when a probe failed (`for_hints`). One that looks
        up names from a student namespace also reads that namespace's resolv.conf, always; one
        from the lab host reads the host's /etc/resolv.conf to explain a failure."""
        need = Reads(sysctls={(HOST, IP_FORWARD)}, rules=True, lan=check.where.node) if for_hints else Reads()
        if self.looks_up_names and not check.where.node and (check.where.ns != HOST or for_hints):
            need.resolv.add(check.where.ns)
        return need


def typed_at(where: Where) -> str:
    """How a student types a command at `where`: `lan `, `ip netns exec red `, or nothing."""
    return f"{where.ns} " if where.node else in_ns(where.ns, "")
