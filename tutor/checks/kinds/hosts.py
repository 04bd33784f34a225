"""`hosts NAME IP`: the lab host's /etc/hosts maps NAME to IP."""

from __future__ import annotations

from tutor.checks.judge import Verdict
from tutor.checks.kinds._kind import Reads, StateKind
from tutor.checks.lang import Check, CheckSyntaxError, Where, Words, ip_address
from tutor.i18n import Msg
from tutor.lab.state import LabState

PATH = "/etc/hosts"


class Hosts(StateKind):
    name = "hosts"
    syntax = "hosts NAME IP"
    means = "the lab host's `/etc/hosts` maps NAME to IP (the first line naming it)"
    layer = 6

    def parse(self, w: Words) -> tuple[dict, Where]:
        host = w.take(Msg("a host name"))
        if not all(c.isalnum() or c in ".-_" for c in host):
            raise CheckSyntaxError(Msg("{host!r} is not a host name", host=host))
        return {"name": host.lower(), "ip": ip_address(w.take(Msg("an address")), Msg("address"))}, Where()

    def reads(self, check: Check, for_hints: bool) -> Reads:
        return Reads(hosts=True)

    def judge(self, check: Check, state: LabState) -> Verdict:
        name, want = check.args["name"], check.args["ip"]
        line = f"{want} {name}"
        fix = f"echo '{line}' >> {PATH}"
        if state.hosts is None:
            return Verdict(False, Msg("{path} does not exist", path=PATH), Msg("Create it: {cmd}", cmd=fix))
        entries = [l.split("#", 1)[0].split() for l in state.hosts.splitlines()]
        for words in entries:
            if len(words) > 1 and name in (w.lower() for w in words[1:]):
                if words[0] == want:
                    return Verdict(True, Msg("{path} maps {name} to {ip}", path=PATH, name=name, ip=want))
                # the resolver takes the first line that names it
                return Verdict(False, Msg("{path} maps {name} to {ip} (`{line}`)", path=PATH, name=name,
                                          ip=words[0], line=" ".join(words)),
                               Msg("Point it at {ip}: {cmd}", ip=want,
                                   cmd=f"sed -i '/\\s{name}\\b/d' {PATH} && {fix}"))
        if any(words[:2] == [name, want] for words in entries):
            return Verdict(False, Msg("{path} has `{line}`: the name comes first, so nothing maps {name}", path=PATH,
                                      line=f"{name} {want}", name=name),
                           Msg("Write the address first: {cmd}", cmd=f"sed -i '/^{name}\\s/d' {PATH} && {fix}"))
        return Verdict(False, Msg("{path} has no line for {name}", path=PATH, name=name),
                       Msg("Add one: {cmd}", cmd=fix))


KIND = Hosts()
