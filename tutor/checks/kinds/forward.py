"""`forward`: the lab host's filter FORWARD chain lets forwarded packets through.

`forward_verdict` also explains failed probes whose packets cross the lab host (`diagnose`)."""

from __future__ import annotations

import ipaddress

from tutor.checks import packetpath
from tutor.checks.judge import Verdict
from tutor.checks.kinds._kind import IP_FORWARD, Reads, StateKind
from tutor.checks.lang import Check, Where, Words
from tutor.i18n import Msg
from tutor.lab import world
from tutor.lab.state import HOST, LabState


class Forward(StateKind):
    name = "forward"
    syntax = "forward"
    means = ("the host's filter FORWARD chain lets packets through (under a DROP policy: out from the "
             "student's networks to the internet and back, as the kernel walks the chain)")
    layer = 4

    def parse(self, w: Words) -> tuple[dict, Where]:
        return {}, Where()

    def reads(self, check: Check, for_hints: bool) -> Reads:
        # with ip_forward: what is read about forwarding is then whole (rules and the switch)
        return Reads(sysctls={(HOST, IP_FORWARD)}, rules=True)

    def judge(self, check: Check, state: LabState) -> Verdict:
        return forward_verdict(state)


def forward_verdict(s: LabState) -> Verdict:
    """Does the lab host's filter FORWARD chain let forwarded packets through?"""
    policy = s.policies.get(("filter", "FORWARD"), "ACCEPT")
    rules = [r for r in s.rules if r.table == "filter" and r.chain == "FORWARD"]
    for r in rules:   # the first rule that matches every packet decides
        if not r.matches:
            target = r.opts.get("-j", "")
            if target in ("DROP", "REJECT"):
                return Verdict(False, Msg("the FORWARD chain has `{rule}` before any ACCEPT", rule=f"-A {r.text}"),
                               Msg("Remove it: {cmd}", cmd=f"iptables -D {r.text}"))
            if target == "ACCEPT":
                return Verdict(True, Msg("the FORWARD chain accepts everything (rule ACCEPT)"))
    if policy in ("DROP", "REJECT"):
        accepts = [r for r in rules if r.opts.get("-j") == "ACCEPT"]
        jumps = [r for r in rules if s.policies.get(("filter", r.opts.get("-j", ""))) == "-"]
        if not accepts and not jumps:
            return Verdict(False, Msg("the FORWARD chain's policy is {policy}: forwarded packets are dropped",
                                      policy=policy),
                           Msg("Accept forwarded packets: {cmd}", cmd="iptables -P FORWARD ACCEPT"))
        walked = _way_out_and_back(s)   # Docker 28's FORWARD holds only jumps to its own chains
        if walked is not None:
            return walked
        if jumps:
            return Verdict(True, Msg("the FORWARD policy is {policy}, with {accepts} ACCEPT rule(s) and {jumps} "
                                     "jump(s) to other chains", policy=policy, accepts=len(accepts), jumps=len(jumps)))
        return Verdict(True, Msg("the FORWARD policy is {policy}, with {accepts} ACCEPT rule(s)", policy=policy,
                                 accepts=len(accepts)))
    return Verdict(True, Msg("the FORWARD chain's policy is {policy}", policy=policy))


def _way_out_and_back(s: LabState) -> Verdict | None:
    """Under a DROP policy, walk FORWARD as the kernel does for what the lessons forward: a new
    packet from each network the student gave the lab host out to the internet, and its answer
    back. A passing verdict when every way was accepted; None when there is no such network or a
    rule the walk cannot read decides."""
    rules = s.ns[HOST].iptables if HOST in s.ns else None
    if rules is None:
        return None
    out = world.gateway()
    target = world.DNS_SERVER
    ways: list[str] = []
    for link in s.ns[HOST].links.values():
        if link.name == "lo" or link.name in world.WORLD_LINKS:
            continue
        for address, prefix in link.addrs:
            net = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
            inside = next((str(h) for h in net.hosts() if str(h) != address), address)
            there = packetpath.Packet(src=inside, dst=target, proto="icmp", iif=link.name, oif=out.host_dev,
                                      dst_local=False, state="NEW")
            back = packetpath.Packet(src=target, dst=inside, proto="icmp", iif=out.host_dev, oif=link.name,
                                     dst_local=False, state="ESTABLISHED")
            for packet, way in ((there, Msg("from {iif} to {oif}", iif=link.name, oif=out.host_dev)),
                                (back, Msg("back from {iif} to {oif}", iif=out.host_dev, oif=link.name))):
                walked = packetpath.walk(rules, "filter", "FORWARD", packet)
                if walked.action == packetpath.UNKNOWN:
                    return None
                if walked.action != "ACCEPT":
                    fix = (f"iptables -A FORWARD -i {link.name} -o {out.host_dev} -j ACCEPT and "
                           f"iptables -A FORWARD -i {out.host_dev} -o {link.name} -m conntrack "
                           f"--ctstate RELATED,ESTABLISHED -j ACCEPT")
                    if walked.by_policy:
                        return Verdict(False, Msg("the FORWARD chain drops packets {way}: no rule accepts them, "
                                                  "so its policy `{policy}` does", way=way, policy=walked.quote),
                                       Msg("Accept the way out and back: {cmd}", cmd=fix))
                    return Verdict(False, Msg("the FORWARD chain drops packets {way}: `{rule}` (rule {position} of "
                                              "{chain})", way=way, rule=walked.quote, position=walked.position,
                                              chain=walked.chain),
                                   Msg("Delete it: {cmd}", cmd=f"iptables -D {walked.chain} {walked.position}"))
            ways.append(link.name)
    if not ways:
        return None
    return Verdict(True, Msg("the FORWARD policy is DROP, and its rules accept the way out to {oif} and back for "
                             "{ways}", oif=out.host_dev, ways=", ".join(dict.fromkeys(ways))))


KIND = Forward()
