"""`masquerade SUBNET`: nat POSTROUTING masquerades (or SNATs) a packet from SUBNET to the internet.

`masquerade_verdict` also explains failed probes from namespaces behind the lab host
(`diagnose`)."""

from __future__ import annotations

import ipaddress

from tutor.checks import packetpath
from tutor.checks.judge import Verdict
from tutor.checks.kinds._kind import IP_FORWARD, Reads, StateKind
from tutor.checks.lang import Check, Where, Words, network
from tutor.i18n import Msg
from tutor.lab import world
from tutor.lab.iptables import Iptables, Rule
from tutor.lab.state import HOST, LabState, covers, in_subnet


class Masquerade(StateKind):
    name = "masquerade"
    syntax = "masquerade SUBNET"
    means = ("a new packet from SUBNET out to the internet is masqueraded (or SNATed) by nat POSTROUTING, "
             "its chains included")
    layer = 5

    def parse(self, w: Words) -> tuple[dict, Where]:
        return {"subnet": network(w.take(Msg("a source subnet")), Msg("subnet"))}, Where()

    def reads(self, check: Check, for_hints: bool) -> Reads:
        # with ip_forward: what is read about forwarding is then whole (rules and the switch)
        # and the ids: the address may sit behind a veth whose other end is on the lab host
        return Reads(sysctls={(HOST, IP_FORWARD)}, rules=True, ids=True)

    def judge(self, check: Check, state: LabState) -> Verdict:
        return masquerade_verdict(state, check.args["subnet"])


def masquerade_verdict(s: LabState, subnet: str) -> Verdict:
    """Does the lab host's nat POSTROUTING masquerade (or SNAT) a new packet from `subnet` out to
    the internet? Walked as the kernel does (`packetpath`), user chains included; judged by the
    rules' text when the walk cannot tell."""
    rules = s.ns[HOST].iptables if HOST in s.ns else None
    if rules is None:
        return _by_text(s, subnet)
    packet = _packet_out(s, subnet)
    walked = packetpath.walk(rules, "nat", "POSTROUTING", packet)
    if walked.action == packetpath.UNKNOWN:
        return _by_text(s, subnet)
    if walked.action in NAT_OUT:
        if len(walked.path) > 1:
            return Verdict(True, Msg("POSTROUTING masquerades {subnet} (`{rule}`, via {path})", subnet=subnet,
                                     rule=walked.quote, path=" → ".join(walked.path)))
        return Verdict(True, Msg("POSTROUTING masquerades {subnet} (`{rule}`)", subnet=subnet, rule=walked.quote))
    # a rule that decided (ACCEPT) or a RETURN that sent it to the policy caught it first
    stop = (walked.chain, walked.position, walked.rule) if walked.rule else _stopping_return(rules, walked, packet)
    if stop is None:    # nothing caught it: no rule masquerades it
        return _not_covered(s, subnet, [r for r in rules.rules if r.table == "nat" and _target(r) in NAT_OUT])
    chain, position, rule = stop
    later = any(r.table == "nat" and _target(r) in NAT_OUT and packetpath.matches(r, packet)[0]
                for r in rules.rules)
    delete = f"iptables -t nat -D {chain} {position}"
    hint = (Msg("That rule catches it first: delete it ({delete})", delete=delete) if later
            else Msg("That rule catches it first: delete it ({delete}), then add: {cmd}", delete=delete,
                     cmd=masquerade_fix(s, subnet)))
    return Verdict(False, Msg("the nat rules do not masquerade {subnet}: `{rule}` (rule {position} of {chain}) "
                              "catches it first and lets it out unchanged", subnet=subnet, rule=f"-A {rule.text}",
                              position=position, chain=chain), hint)


NAT_OUT = ("MASQUERADE", "SNAT")


def masquerade_fix(s: LabState, subnet: str) -> str:
    """The rule the lessons teach for `subnet`: `! -o BRIDGE` leaves the traffic between the
    namespaces unchanged on the lab host's interface that holds `subnet` (left out when no
    interface of the lab host holds it)."""
    bridge = _holder(s, subnet)
    out = f" ! -o {bridge}" if bridge else ""
    return f"iptables -t nat -A POSTROUTING -s {subnet}{out} -j MASQUERADE"


def _holder(s: LabState, subnet: str) -> str | None:
    """The lab host's interface with an address in `subnet`; else the bridge (or veth end) on the
    lab host that cables a namespace with an address in it; None if there is neither."""
    if HOST not in s.ns:
        return None
    for link in s.ns[HOST].links.values():
        if link.name != "lo" and any(in_subnet(a, subnet) for a, _ in link.addrs):
            return link.name
    for name, space in s.ns.items():
        for link in space.links.values():
            peer = s.peer_of(link) if name != HOST and link.kind == "veth" else None
            if peer and peer.ns == HOST and any(in_subnet(a, subnet) for a, _ in link.addrs):
                return peer.master or peer.name
    return None


def _packet_out(s: LabState, subnet: str) -> packetpath.Packet:
    """A new packet from `subnet` (from a namespace's address in it, if one has one) to the
    internet's DNS server, leaving the lab host by its cable to the internet."""
    inside = next((a for name, space in s.ns.items() if name != HOST for l in space.links.values()
                   for a, _ in l.addrs if in_subnet(a, subnet)), None)
    if inside is None:
        net = ipaddress.ip_network(subnet, strict=False)
        inside = str(next(iter(net.hosts()), net.network_address))
    return packetpath.Packet(src=inside, dst=world.DNS_SERVER, proto="icmp", iif=_holder(s, subnet),
                             oif=world.gateway().host_dev, dst_local=False, state="NEW")


def _stopping_return(rules: Iptables, walked: packetpath.Verdict,
                     packet: packetpath.Packet) -> tuple[str, int, Rule] | None:
    """The RETURN that kept the packet from a MASQUERADE rule: one taken in a chain whose later
    rule would have masqueraded it, else the one that left POSTROUTING itself."""
    for chain, position, rule in walked.returned:
        mine = [r for r in rules.rules if r.table == "nat" and r.chain == chain]
        if any(_target(r) in NAT_OUT and packetpath.matches(r, packet)[0] for r in mine[position:]):
            return chain, position, rule
    return next((r for r in reversed(walked.returned) if r[0] == "POSTROUTING"), None)


def _target(rule: Rule) -> str:
    return rule.opts.get("-j", "")


def _nat_covers(rule_opts: dict[str, str], subnet: str) -> bool:
    src = rule_opts.get("-s")
    if "!-s" in rule_opts or "-p" in rule_opts:
        return False
    out = rule_opts.get("-o")
    if out and not any(dev == out or (out.endswith("+") and dev.startswith(out[:-1]))
                       for dev in world.WORLD_LINKS):
        return False
    return src is None or covers(src, subnet)


def _by_text(s: LabState, subnet: str) -> Verdict:
    """The rules as written, where the walk cannot tell: a POSTROUTING rule that masquerades
    `subnet`, or what the nat table has instead."""
    nat = [r for r in s.nat_rules("POSTROUTING") if _target(r) in NAT_OUT]
    for r in nat:
        if _nat_covers(r.opts, subnet):
            return Verdict(True, Msg("POSTROUTING masquerades {subnet} (`{rule}`)", subnet=subnet, rule=f"-A {r.text}"))
    return _not_covered(s, subnet, nat)


def _not_covered(s: LabState, subnet: str, nat: list[Rule]) -> Verdict:
    """No rule masquerades `subnet`: quote the MASQUERADE/SNAT rules there are."""
    fix = masquerade_fix(s, subnet)
    if nat:
        have = "; ".join(f"-A {r.text}" for r in nat)
        wrong = [r for r in nat if r.opts.get("-s") and not covers(r.opts["-s"], subnet)]
        hint = (Msg("Wrong source subnet: delete the wrong rule ({delete}) and add {cmd}",
                    delete=f"iptables -t nat -D {wrong[0].text}", cmd=fix)
                if wrong else Msg("Add: {cmd}", cmd=fix))
        return Verdict(False, Msg("the nat rules do not cover {subnet}: {have}", subnet=subnet, have=have), hint)
    return Verdict(False, Msg("the nat table's POSTROUTING chain has no MASQUERADE rule"),
                   Msg("Add one: {cmd}", cmd=fix))


KIND = Masquerade()
