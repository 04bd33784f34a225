"""`forward`: the lab host's filter FORWARD chain lets forwarded packets through.

`forward_verdict` also explains failed probes whose packets cross the lab host (`diagnose`)."""

from __future__ import annotations

from tutor.checks.judge import Verdict
from tutor.checks.kinds._kind import IP_FORWARD, Reads, StateKind
from tutor.checks.lang import Check, Where, Words
from tutor.lab.state import HOST, LabState


class Forward(StateKind):
    name = "forward"
    syntax = "forward"
    means = "the host's filter FORWARD chain lets packets through (policy or rule ACCEPT)"
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
                return Verdict(False, f"the FORWARD chain has `-A {r.text}` before any ACCEPT",
                               f"Remove it: iptables -D {r.text}")
            if target == "ACCEPT":
                return Verdict(True, "the FORWARD chain accepts everything (rule ACCEPT)")
    if policy in ("DROP", "REJECT"):
        accepts = [r for r in rules if r.opts.get("-j") == "ACCEPT"]
        if accepts:
            return Verdict(True, f"the FORWARD policy is {policy}, with {len(accepts)} ACCEPT rule(s)")
        return Verdict(False, f"the FORWARD chain's policy is {policy}: forwarded packets are dropped",
                       "Accept forwarded packets: iptables -P FORWARD ACCEPT")
    return Verdict(True, f"the FORWARD chain's policy is {policy}")


KIND = Forward()
