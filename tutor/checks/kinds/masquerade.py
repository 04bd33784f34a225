"""`masquerade SUBNET`: a nat POSTROUTING rule masquerades (or SNATs) packets from SUBNET.

`masquerade_verdict` also explains failed probes from namespaces behind the lab host
(`diagnose`)."""

from __future__ import annotations

from tutor.checks.judge import Verdict
from tutor.checks.kinds._kind import IP_FORWARD, Reads, StateKind
from tutor.checks.lang import Check, Where, Words, network
from tutor.lab import world
from tutor.lab.state import HOST, LabState, covers


class Masquerade(StateKind):
    name = "masquerade"
    syntax = "masquerade SUBNET"
    means = "a nat POSTROUTING rule masquerades (or SNATs) packets from SUBNET"
    layer = 5

    def parse(self, w: Words) -> tuple[dict, Where]:
        return {"subnet": network(w.take("a source subnet"), "subnet")}, Where()

    def reads(self, check: Check, for_hints: bool) -> Reads:
        # with ip_forward: what is read about forwarding is then whole (rules and the switch)
        return Reads(sysctls={(HOST, IP_FORWARD)}, rules=True)

    def judge(self, check: Check, state: LabState) -> Verdict:
        return masquerade_verdict(state, check.args["subnet"])


def _nat_covers(rule_opts: dict[str, str], subnet: str) -> bool:
    src = rule_opts.get("-s")
    if "!-s" in rule_opts or "-p" in rule_opts:
        return False
    out = rule_opts.get("-o")
    if out and not any(dev == out or (out.endswith("+") and dev.startswith(out[:-1]))
                       for dev in world.WORLD_LINKS):
        return False
    return src is None or covers(src, subnet)


def masquerade_verdict(s: LabState, subnet: str) -> Verdict:
    """Does a nat POSTROUTING rule masquerade (or SNAT) packets from `subnet`?"""
    nat = [r for r in s.nat_rules("POSTROUTING") if r.opts.get("-j") in ("MASQUERADE", "SNAT")]
    fix = f"iptables -t nat -A POSTROUTING -s {subnet} -j MASQUERADE"
    for r in nat:
        if _nat_covers(r.opts, subnet):
            return Verdict(True, f"POSTROUTING masquerades {subnet} (`-A {r.text}`)")
    if nat:
        have = "; ".join(f"-A {r.text}" for r in nat)
        wrong = [r for r in nat if r.opts.get("-s") and not covers(r.opts["-s"], subnet)]
        drop = f"delete the wrong rule (iptables -t nat -D {wrong[0].text}) and " if wrong else ""
        return Verdict(False, f"the nat rules do not cover {subnet}: {have}",
                       f"Wrong source subnet: {drop}add {fix}")
    return Verdict(False, "the nat table's POSTROUTING chain has no MASQUERADE rule",
                   f"Add one: {fix}")


KIND = Masquerade()
