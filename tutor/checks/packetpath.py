"""The way one packet goes through one iptables chain, worked out from `iptables-save` alone.

`walk(rules, table, chain, packet)` does what the kernel does with a packet in a built-in chain:
the rules in order, the first one that matches with a deciding target wins; `-j CHAIN` enters a
user chain and comes back on `RETURN` or at its end, `-g CHAIN` enters one without coming back
here; the chain's policy decides when nothing else did. The answer quotes the deciding rule, its
place in its chain, the chains walked and the RETURN rules taken, so a hint can say "rule 2 of
FORWARD drops it" or "rule 1 of POSTROUTING catches it first".

It never guesses: a rule with a match or target it does not read makes the answer UNKNOWN (and
says which rule), unless the rule cannot matter (another of its matches already fails, or its
target only logs). Pure: no I/O, no lab.
"""

from __future__ import annotations

import ipaddress
from collections import namedtuple

from tutor.i18n import Msg
from tutor.lab.iptables import Iptables, Rule

BUILTIN_CHAINS = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")
UNKNOWN = "UNKNOWN"
# Targets that end the walk, and the option each one's address or port is read from.
DECIDING = {"ACCEPT": "", "DROP": "", "REJECT": "", "DNAT": "--to-destination", "SNAT": "--to-source",
            "MASQUERADE": "--to-ports", "REDIRECT": "--to-ports"}
CT_STATES = {"NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"}
PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp"}
# Match modules whose options are read below; `-m comment` is read and ignored.
MODULES = {"tcp", "udp", "icmp", "addrtype", "conntrack", "state", "comment"}
MAX_DEPTH = 64  # iptables refuses loops; this only stops a hand-written rule set that has one


# Named tuples, not dataclasses: see `tutor.plain`.
class Packet(namedtuple("Packet", "src dst proto sport dport iif oif dst_local state",
                        defaults=("tcp", None, None, None, None, None, "NEW"))):
    """What the rules can see of a packet at the chain walked. An interface "" is none at this hook
    (no input interface in OUTPUT: `! -i v-net-0` matches there, as Docker's chain relies on);
    None is not known -- a rule that asks about it makes the answer UNKNOWN. `proto`: tcp, udp
    or icmp; `dst_local`: is dst an address of this namespace (`--dst-type LOCAL`); `state`: its
    conntrack state, NEW or ESTABLISHED."""
    __slots__ = ()


class Verdict(namedtuple("Verdict", "action chain position rule path to why returned",
                         defaults=(0, None, (), "", "", ()))):
    """What the chain does with the packet, and why.

    `action`: ACCEPT, DROP, REJECT, DNAT, SNAT, MASQUERADE, REDIRECT or UNKNOWN; `chain`: the
    chain whose rule (or policy) decided; `position`: the rule's place in that chain, from 1 (as
    `iptables -L --line-numbers` and `iptables -D CHAIN N` count), 0 when the policy decided;
    `rule`: the deciding Rule (for UNKNOWN: the rule it could not judge); `path`: the chains
    entered, in order; `to`: DNAT/SNAT/MASQUERADE/REDIRECT's --to-* value, "" if none; `why`:
    UNKNOWN: what could not be judged (a Msg); `returned`: the RETURN rules taken, in order,
    as (chain, place, rule)."""
    __slots__ = ()

    @property
    def by_policy(self) -> bool:
        """The chain's policy decided (no rule did)."""
        return self.rule is None and self.action != UNKNOWN

    @property
    def quote(self) -> str:
        """The deciding rule as `iptables-save` prints it, or the policy line."""
        return f"-A {self.rule.text}" if self.rule else f"-P {self.chain} {self.action}"


def walk(rules: Iptables, table: str, chain: str, packet: Packet) -> Verdict:
    """The verdict of built-in `chain` of `table` on `packet`."""
    if chain not in BUILTIN_CHAINS:
        raise ValueError(f"{chain} is not a built-in chain")
    path: list[str] = []
    returned: list[tuple[str, int, Rule]] = []
    found = _chain(rules, table, chain, packet, path, returned, 0)
    if found is not None:
        return found
    policy = rules.policies.get((table, chain), "ACCEPT")
    return Verdict(policy, chain, path=tuple(path), returned=tuple(returned))


def _chain(rules: Iptables, table: str, chain: str, packet: Packet, path: list[str],
           returned: list[tuple[str, int, Rule]], depth: int) -> Verdict | None:
    """Walk one chain: a Verdict if something in it (or below it) decides, None if it returns."""
    path.append(chain)
    mine = [r for r in rules.rules if r.table == table and r.chain == chain]
    for position, rule in enumerate(mine, start=1):
        def unknown(why: str, rule: Rule = rule, position: int = position) -> Verdict:
            return Verdict(UNKNOWN, chain, position, rule, tuple(path), why=why)
        if not rule.words and rule.text.strip() != chain:
            return unknown(Msg("its quoting could not be read"))
        matched, why = matches(rule, packet)
        if matched is False:
            continue
        jump, target, to = _target(rule)
        if target in ("", "LOG"):
            continue                # no verdict whether or not it matches
        if matched is None:
            return unknown(why)
        if target == "RETURN":
            returned.append((chain, position, rule))
            return None
        if target in DECIDING:
            return Verdict(target, chain, position, rule, tuple(path), to=to, returned=tuple(returned))
        if rules.policies.get((table, target)) != "-":
            return unknown(Msg("its target {target} is not something the walk reads", target=target))
        if depth >= MAX_DEPTH:
            return unknown(Msg("the chains jump into each other too deep"))
        below = _chain(rules, table, target, packet, path, returned, depth + 1)
        if jump == "-g" or below is not None:
            return below
    return None


def _target(rule: Rule) -> tuple[str, str, str]:
    """(-j or -g, the target, its --to-* value) of a rule; ("", "", "") when it has none."""
    words = rule.words
    for i, w in enumerate(words):
        if w in ("-j", "--jump", "-g", "--goto") and i + 1 < len(words):
            target = words[i + 1]
            option = DECIDING.get(target, "")
            rest = words[i + 2:]
            to = rest[rest.index(option) + 1] if option and option in rest[:-1] else ""
            return ("-g" if w in ("-g", "--goto") else "-j"), target, to
    return "", "", ""


def matches(rule: Rule, packet: Packet) -> tuple[bool | None, str]:
    """Does the rule's match part select the packet? None (with the reason) when it cannot tell.

    One failing match settles it (the matches of a rule all have to hold), even next to one that
    cannot be read."""
    words = rule.words
    unread: list[str] = []
    i, negate = 0, False
    while i < len(words):
        w = words[i]
        if w == "!":
            negate, i = True, i + 1
            continue
        if w in ("-j", "--jump", "-g", "--goto"):
            break
        value = words[i + 1] if i + 1 < len(words) else ""
        if w in ("-m", "--match"):
            if value not in MODULES:
                unread.append(f"-m {value}")
            i += 2
            continue
        result = _option(w, value, packet)
        if w.startswith("-") and value.startswith("-"):
            value = ""              # an option with no value (such as -f)
        i += 2 if value else 1
        if result is None:
            unread.append(f"{'! ' if negate else ''}{w} {value}".strip())
        elif result == negate:
            return False, ""
        negate = False
    if unread:
        return None, Msg("it uses {options}, which the walk does not read", options=", ".join(unread))
    return True, ""


def _option(option: str, value: str, packet: Packet) -> bool | None:
    """One match option against the packet (not negated); None when it cannot tell."""
    if option in ("-i", "--in-interface", "-o", "--out-interface"):
        name = packet.iif if option in ("-i", "--in-interface") else packet.oif
        if name is None:
            return None
        return name.startswith(value[:-1]) if value.endswith("+") else name == value
    if option in ("-s", "--source", "--src", "-d", "--destination", "--dst"):
        address = packet.src if option in ("-s", "--source", "--src") else packet.dst
        try:
            return ipaddress.ip_address(address) in ipaddress.ip_network(value, strict=False)
        except ValueError:
            return None
    if option in ("-p", "--protocol"):
        name = PROTOCOLS.get(value, value.lower())
        return name in ("all", "0") or name == packet.proto
    if option in ("--dport", "--destination-port", "--sport", "--source-port"):
        port = packet.dport if option in ("--dport", "--destination-port") else packet.sport
        return None if port is None or packet.proto not in ("tcp", "udp") else _in_range(port, value)
    if option == "--dst-type":
        return packet.dst_local if value == "LOCAL" else None
    if option in ("--ctstate", "--state"):
        states = set(value.split(","))
        return None if packet.state is None or not states <= CT_STATES else packet.state in states
    if option == "--comment":
        return True
    return None


def _in_range(port: int, value: str) -> bool | None:
    """Is port in `80` or `1000:2000` (either end may be left out)?"""
    low, _, high = value.partition(":")
    try:
        first = int(low) if low else 0
        last = (int(high) if high else 65535) if ":" in value else first
    except ValueError:
        return None
    return first <= port <= last
