"""`dnat tcp PORT to IP:PORT`: a nat PREROUTING rule sends tcp PORT there."""

from __future__ import annotations

from tutor.checks.judge import Verdict
from tutor.checks.kinds._kind import Reads, StateKind
from tutor.checks.lang import (
    Check,
    CheckSyntaxError,
    Where,
    Words,
    ip_address,
    missing,
    port,
)
from tutor.lab.state import LabState


class Dnat(StateKind):
    name = "dnat"
    syntax = "dnat tcp PORT to IP:PORT"
    means = "a nat PREROUTING rule sends tcp PORT to IP:PORT"
    layer = 5

    def parse(self, w: Words) -> tuple[dict, Where]:
        if w.take("a protocol") != "tcp":
            raise CheckSyntaxError("write `dnat tcp PORT to IP:PORT`")
        args: dict = {"port": port(w.take("a port"))}
        target = w.option("to", "IP:PORT") or missing("`to IP:PORT`")
        ip, _, to_port = target.partition(":")
        args["to_ip"], args["to_port"] = ip_address(ip, "DNAT target"), port(to_port or str(args["port"]))
        return args, Where()

    def reads(self, check: Check, for_hints: bool) -> Reads:
        return Reads(rules=True)

    def judge(self, check: Check, state: LabState) -> Verdict:
        port, ip, to_port = check.args["port"], check.args["to_ip"], check.args["to_port"]
        fix = f"iptables -t nat -A PREROUTING -p tcp --dport {port} -j DNAT --to-destination {ip}:{to_port}"
        rules = [r for r in state.nat_rules("PREROUTING") if r.opts.get("-j") == "DNAT"]
        for r in rules:
            dest = r.opts.get("--to-destination", "")
            target_ip, _, target_port = dest.partition(":")
            if (r.opts.get("-p") == "tcp" and r.opts.get("--dport") == str(port) and target_ip == ip
                    and (target_port or str(port)) == str(to_port)):
                return Verdict(True, f"PREROUTING forwards tcp port {port} to {ip}:{to_port}")
        if rules:
            have = "; ".join(f"-A {r.text}" for r in rules)
            return Verdict(False, f"the DNAT rules do not send tcp {port} to {ip}:{to_port}: {have}",
                           f"Add: {fix}")
        return Verdict(False, "the nat table's PREROUTING chain has no DNAT rule",
                       f"Forward the port: {fix} (`--dport` needs `-p tcp` before it)")


KIND = Dnat()
