"""`tcp IP:PORT from X`: X opens a TCP connection to IP:PORT."""

from __future__ import annotations

from tutor.checks.diagnose import own_port_problem, path_problem
from tutor.checks.judge import Verdict
from tutor.checks.kinds._kind import ProbeKind
from tutor.checks.lang import Check, CheckSyntaxError, Where, Words, ip_address, port
from tutor.i18n import Msg
from tutor.lab.state import LabState


class Tcp(ProbeKind):
    name = "tcp"
    syntax = "tcp IP:PORT from X"
    means = "X opens a TCP connection to IP:PORT"
    protocol = "tcp"

    def parse(self, w: Words) -> tuple[dict, Where]:
        target = w.take("IP:PORT")
        if ":" not in target:
            raise CheckSyntaxError(Msg("{target!r} needs a port: write `tcp IP:PORT`, like {target}:80", target=target))
        ip, _, number = target.rpartition(":")
        return {"ip": ip_address(ip, Msg("address")), "port": port(number)}, w.where("from")

    def command(self, check: Check) -> str:
        return f"timeout 2 bash -c 'exec 3<>/dev/tcp/{check.args['ip']}/{check.args['port']}' && echo connected"

    def worked(self, check: Check, seen: str) -> str:
        return Msg("{where} connected to {target}", where=str(check.where),
                   target=f"{check.args['ip']}:{check.args['port']}")

    def target(self, check: Check) -> tuple[str, int]:
        return check.args["ip"], check.args["port"]

    def explain(self, check: Check, state: LabState) -> Verdict | None:
        return (path_problem(state, check.where.ns, check.args["ip"])
                or own_port_problem(state, check.where.ns, check.args["ip"], check.args["port"]))


KIND = Tcp()
