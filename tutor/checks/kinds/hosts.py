"""`hosts NAME IP`: the lab host's /etc/hosts maps NAME to IP."""

from __future__ import annotations

from tutor.checks.judge import Verdict
from tutor.checks.kinds._kind import Reads, StateKind
from tutor.checks.lang import Check, CheckSyntaxError, Where, Words, ip_address
from tutor.lab.state import LabState

PATH = "/etc/hosts"


class Hosts(StateKind):
    name = "hosts"
    syntax = "hosts NAME IP"
    means = "the lab host's `/etc/hosts` maps NAME to IP (the first line naming it)"
    layer = 6

    def parse(self, w: Words) -> tuple[dict, Where]:
        host = w.take("a host name")
        if not all(c.isalnum() or c in ".-_" for c in host):
            raise CheckSyntaxError(f"{host!r} is not a host name")
        return {"name": host.lower(), "ip": ip_address(w.take("an address"), "address")}, Where()

    def reads(self, check: Check, for_hints: bool) -> Reads:
        return Reads(hosts=True)

    def judge(self, check: Check, state: LabState) -> Verdict:
        name, want = check.args["name"], check.args["ip"]
        line = f"{want} {name}"
        fix = f"echo '{line}' >> {PATH}"
        if state.hosts is None:
            return Verdict(False, f"{PATH} does not exist", f"Create it: {fix}")
        entries = [l.split("#", 1)[0].split() for l in state.hosts.splitlines()]
        for words in entries:
            if len(words) > 1 and name in (w.lower() for w in words[1:]):
                if words[0] == want:
                    return Verdict(True, f"{PATH} maps {name} to {want}")
                # the resolver takes the first line that names it
                return Verdict(False, f"{PATH} maps {name} to {words[0]} (`{' '.join(words)}`)",
                               f"Point it at {want}: sed -i '/\\s{name}\\b/d' {PATH} && {fix}")
        if any(words[:2] == [name, want] for words in entries):
            return Verdict(False, f"{PATH} has `{name} {want}`: the name comes first, so nothing maps {name}",
                           f"Write the address first: sed -i '/^{name}\\s/d' {PATH} && {fix}")
        return Verdict(False, f"{PATH} has no line for {name}", f"Add one: {fix}")


KIND = Hosts()
