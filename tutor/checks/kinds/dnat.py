"""`dnat tcp PORT to IP:PORT`: a nat PREROUTING rule sends tcp PORT there."""

from __future__ import annotations

from tutor.checks import packetpath
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
from tutor.checks.packetpath import UNKNOWN
from tutor.i18n import Msg
from tutor.lab import world
from tutor.lab.state import HOST, LabState


class Dnat(StateKind):
    name = "dnat"
    syntax = "dnat tcp PORT to IP:PORT"
    means = "a new tcp connection to PORT from the LAN machine is sent to IP:PORT (nat PREROUTING, its chains included)"
    layer = 5

    def parse(self, w: Words) -> tuple[dict, Where]:
        if w.take(Msg("a protocol")) != "tcp":
            raise CheckSyntaxError(Msg("write `dnat tcp PORT to IP:PORT`"))
        args: dict = {"port": port(w.take(Msg("a port")))}
        target = w.option("to", "IP:PORT") or missing(Msg("`to IP:PORT`"))
        ip, _, to_port = target.partition(":")
        args["to_ip"], args["to_port"] = ip_address(ip, Msg("DNAT target")), port(to_port or str(args["port"]))
        return args, Where()

    def reads(self, check: Check, for_hints: bool) -> Reads:
        return Reads(rules=True)

    def judge(self, check: Check, state: LabState) -> Verdict:
        port, ip, to_port = check.args["port"], check.args["to_ip"], check.args["to_port"]
        walked = walk_from_lan(state, port)
        chain, fix = dnat_fix(state, walked, port, f"{ip}:{to_port}")
        add = (Msg("Add: {cmd}", cmd=fix) if chain == "PREROUTING"
               else Msg("Add it to the {chain} chain, which PREROUTING sends it into: {cmd}", chain=chain, cmd=fix))
        target = f"{ip}:{to_port}"
        if walked is not None and walked.action == "DNAT":
            target_ip, _, target_port = walked.to.partition(":")
            if target_ip == ip and (target_port or str(port)) == str(to_port):
                found = Msg("PREROUTING forwards tcp port {port} to {target}", port=port, target=target)
                if len(walked.path) > 1:
                    found = Msg("{found} (via {path})", found=found, path=" → ".join(walked.path))
                return Verdict(True, found)
            # the kernel takes the first rule that catches the packet: a wrong one earlier wins
            return Verdict(False, Msg("the DNAT rules do not send tcp {port} to {target}: the first that catches "
                                      "it, `{rule}` (rule {position} of {chain}), sends it to {to}", port=port,
                                      target=target, rule=walked.quote, position=walked.position,
                                      chain=walked.chain, to=walked.to),
                           Msg("That rule matches first: delete it ({delete}), then add: {cmd}",
                               delete=f"iptables -t nat -D {walked.chain} {walked.position}", cmd=fix))
        if walked is not None and walked.action != UNKNOWN:
            rules = [r for r in state.rules if r.table == "nat" and r.opts.get("-j") == "DNAT"]
        else:   # a rule the walk cannot read: judge by the rules' text, as written
            rules = [r for r in state.nat_rules("PREROUTING") if r.opts.get("-j") == "DNAT"]
            for r in rules:
                dest = r.opts.get("--to-destination", "")
                target_ip, _, target_port = dest.partition(":")
                if (r.opts.get("-p") == "tcp" and r.opts.get("--dport") == str(port) and target_ip == ip
                        and (target_port or str(port)) == str(to_port)):
                    return Verdict(True, Msg("PREROUTING forwards tcp port {port} to {target}", port=port,
                                             target=target))
        if rules:
            have = "; ".join(f"-A {r.text}" for r in rules)
            return Verdict(False, Msg("the DNAT rules do not send tcp {port} to {target}: {have}", port=port,
                                      target=target, have=have), add)
        return Verdict(False, Msg("the nat table's PREROUTING chain has no DNAT rule"),
                       Msg("{fix} (`--dport` needs `-p tcp` before it)",
                           fix=Msg("Forward the port: {cmd}", cmd=fix) if chain == "PREROUTING" else add))


def dnat_fix(state: LabState, walked: packetpath.Verdict | None, port: int, to: str) -> tuple[str, str]:
    """(chain, command): the DNAT rule for tcp `port` to `to`, in the chain where the LAN's packet
    would meet it: the user chain PREROUTING sends it into (Docker's DOCKER, keeping a
    `! -i BRIDGE` that chain's rules use), else PREROUTING itself. `walked`: that packet's walk
    (`walk_from_lan`)."""
    chain, bridge = "PREROUTING", ""
    rules = state.ns[HOST].iptables if HOST in state.ns else None
    if walked is not None and walked.action != UNKNOWN and rules is not None:
        returned = {c for c, _, _ in walked.returned}
        users = [c for c in walked.path if c not in packetpath.BUILTIN_CHAINS and c not in returned]
        if users:
            chain = users[0]
            bridge = next((r.opts["!-i"] for r in rules.rules
                           if r.table == "nat" and r.chain == chain and r.opts.get("!-i")), "")
    out = f" ! -i {bridge}" if bridge else ""
    return chain, f"iptables -t nat -A {chain}{out} -p tcp --dport {port} -j DNAT --to-destination {to}"


def walk_from_lan(state: LabState, port: int) -> packetpath.Verdict | None:
    """What the lab host's nat PREROUTING does with a new connection from the LAN machine to the
    lab host's LAN address, tcp `port` (as the lesson's `tcp … from node lan` sends it); None
    when the lab host's rules were not read."""
    rules = state.ns[HOST].iptables if HOST in state.ns else None
    if rules is None:
        return None
    lan = world.node("lan")
    packet = packetpath.Packet(src=lan.ip, dst=lan.host_ip, proto="tcp", sport=40000, dport=port,
                               iif=lan.host_dev, oif="", dst_local=True, state="NEW")
    return packetpath.walk(rules, "nat", "PREROUTING", packet)


KIND = Dnat()
