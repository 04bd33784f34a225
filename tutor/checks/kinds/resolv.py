"""`resolv NS nameserver IP`: /etc/netns/NS/resolv.conf names IP."""

from __future__ import annotations

from tutor.checks.judge import Verdict
from tutor.checks.kinds._kind import Reads, StateKind
from tutor.checks.lang import Check, Where, Words, ip_address, missing, ns_name
from tutor.lab.state import LabState


class Resolv(StateKind):
    name = "resolv"
    syntax = "resolv NS nameserver IP"
    means = "`/etc/netns/NS/resolv.conf` names IP as a nameserver"
    layer = 6

    def parse(self, w: Words) -> tuple[dict, Where]:
        args = {"ns": ns_name(w.take("a namespace"))}
        args["nameserver"] = ip_address(w.option("nameserver", "an address") or missing("`nameserver IP`"),
                                        "nameserver")
        return args, Where()

    def reads(self, check: Check, for_hints: bool) -> Reads:
        return Reads(resolv={check.args["ns"]})

    def judge(self, check: Check, state: LabState) -> Verdict:
        ns, want = check.args["ns"], check.args["nameserver"]
        path = f"/etc/netns/{ns}/resolv.conf"
        text = state.resolv.get(ns)
        fix = f"mkdir -p /etc/netns/{ns} && echo 'nameserver {want}' > {path}"
        if text is None:
            return Verdict(False, f"{path} does not exist", f"Create it: {fix}")
        servers = nameservers(text)
        if want in servers:
            return Verdict(True, f"{path} names nameserver {want}")
        found = ", ".join(servers) or "no nameserver line"
        return Verdict(False, f"{path} has {found}", f"Write it: {fix}")


def nameservers(text: str) -> list[str]:
    """The addresses a resolv.conf's `nameserver` lines name, in order."""
    return [l.split()[1] for l in text.splitlines() if l.split()[:1] == ["nameserver"] and len(l.split()) > 1]


KIND = Resolv()
