"""`ping IP from X`: X gets an echo reply from IP."""

from __future__ import annotations

from tutor.checks.diagnose import path_problem
from tutor.checks.judge import Verdict
from tutor.checks.kinds._kind import ProbeKind
from tutor.checks.lang import Check, Where, Words, ip_address
from tutor.i18n import Msg
from tutor.lab.state import LabState


class Ping(ProbeKind):
    name = "ping"
    syntax = "ping IP from X"
    means = "X gets an echo reply from IP"
    protocol = "icmp"

    def parse(self, w: Words) -> tuple[dict, Where]:
        return {"ip": ip_address(w.take(Msg("an address")), Msg("ping target"))}, w.where("from")

    def command(self, check: Check) -> str:
        return f"ping -n -c 1 -W 1 {check.args['ip']}"

    def worked(self, check: Check, seen: str) -> str:
        return Msg("{where} gets replies from {ip}", where=str(check.where), ip=check.args["ip"])

    def target(self, check: Check) -> tuple[str, int]:
        return check.args["ip"], 0

    def explain(self, check: Check, state: LabState) -> Verdict | None:
        return path_problem(state, check.where.ns, check.args["ip"])


KIND = Ping()
