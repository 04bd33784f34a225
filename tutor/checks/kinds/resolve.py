"""`resolve NAME from X [is IP]`: X resolves NAME (to IP), the way `ip netns exec X` sees the
files (/etc/hosts, /etc/netns/X/resolv.conf)."""

from __future__ import annotations

import shlex

from tutor.checks.diagnose import name_problem
from tutor.checks.judge import Verdict
from tutor.checks.kinds._kind import ProbeKind, typed_at
from tutor.checks.lang import Check, Where, Words, ip_address
from tutor.i18n import Msg
from tutor.lab.state import HOST, LabState


class Resolve(ProbeKind):
    name = "resolve"
    syntax = "resolve NAME from X [is IP]"
    looks_up_names = True
    means = "X resolves NAME (to IP) the way `ip netns exec X` sees the files"

    def parse(self, w: Words) -> tuple[dict, Where]:
        args: dict = {"name": w.take(Msg("a host name"))}
        is_ip = w.option("is", Msg("an address"))
        args["is"] = ip_address(is_ip, Msg("address")) if is_ip else None
        return args, w.where("from")

    def command(self, check: Check) -> str:
        return f"timeout 3 getent ahostsv4 {shlex.quote(check.args['name'])}"

    def expected(self, check: Check, seen: str) -> bool:
        return not check.args.get("is") or check.args["is"] in seen.split()

    def worked(self, check: Check, seen: str) -> str:
        first = seen.split()[0] if seen.split() else "?"
        return Msg("{where} resolves {name} to {ip}", where=str(check.where), name=check.args["name"], ip=first)

    def mismatch(self, check: Check, seen: str) -> Verdict:
        where = check.where
        first = seen.split()[0] if seen.split() else Msg("nothing")
        files = (Msg("/etc/hosts and its search line in /etc/resolv.conf") if where.ns == HOST or where.node
                 else Msg("/etc/hosts and {path}", path=f"/etc/netns/{where.ns}/resolv.conf"))
        return Verdict(False, Msg("resolved to {ip} (expected {want})", ip=first, want=check.args["is"]),
                       Msg("The name leads elsewhere: look with {cmd}, and at {files}",
                           cmd=f"{typed_at(where)}getent ahostsv4 {check.args['name']}", files=files))

    def target(self, check: Check) -> tuple[str, int]:
        return check.args["name"], 0

    def explain(self, check: Check, state: LabState) -> Verdict | None:
        return name_problem(state, check.where.ns, check.args["name"])


KIND = Resolve()
