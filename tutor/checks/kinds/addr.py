"""`addr A/P on DEV [in NS]`: DEV has that address with that prefix, and nobody else has it."""

from __future__ import annotations

from tutor.checks.judge import Verdict, ip_cmd, missing_link, place
from tutor.checks.kinds._kind import StateKind
from tutor.checks.lang import (
    Check,
    CheckSyntaxError,
    Where,
    Words,
    iface,
    ip_address,
    missing,
)
from tutor.i18n import Msg
from tutor.lab.state import LabState


class Addr(StateKind):
    name = "addr"
    syntax = "addr A.B.C.D/P on DEV [in NS]"
    means = "DEV in NS has exactly that address and prefix"
    layer = 2

    def parse(self, w: Words) -> tuple[dict, Where]:
        cidr = w.take(Msg("an address like 10.200.0.2/24"))
        if "/" not in cidr:
            raise CheckSyntaxError(Msg("address {cidr!r} needs its prefix, like {cidr}/24", cidr=cidr))
        ip, prefix = cidr.split("/", 1)
        args: dict = {"ip": ip_address(ip, Msg("address"))}
        if not prefix.isdigit() or int(prefix) > (32 if "." in args["ip"] else 128):
            raise CheckSyntaxError(Msg("{cidr!r} has no valid prefix length (like /24)", cidr=cidr))
        args["prefix"] = int(prefix)
        args["dev"] = iface(w.option("on", Msg("an interface")) or missing(Msg("`on DEV`")))
        return args, w.where("in")

    def judge(self, check: Check, state: LabState) -> Verdict:
        ip, prefix, dev, ns = check.args["ip"], check.args["prefix"], check.args["dev"], check.where.ns
        want = f"{ip}/{prefix}"
        owners = state.owners_of(ip)
        link = state.link(dev, ns)
        add = ip_cmd(ns, f"addr add {want} dev {dev}")
        if link is None:
            verdict = missing_link(state, dev, ns)
            moved = [l for l in state.links_named(dev) if ip in dict(l.addrs)]
            if moved:   # moving an interface to another namespace wipes its addresses
                return Verdict(False, Msg("{found} (it has {ip} there)", found=verdict.found, ip=ip),
                               Msg("{found}; moving it clears its addresses, so add {want} again: {cmd}",
                                   found=verdict.hint, want=want, cmd=add))
            if owners:
                o = owners[0]
                return Verdict(False, Msg("{found}; {ip} is on {where}", found=verdict.found, ip=ip,
                                          where=place(o.name, o.ns)), verdict.hint)
            return verdict
        mine = dict(link.addrs)
        others = [o for o in owners if (o.name, o.ns) != (dev, ns)]
        if ip in mine and mine[ip] != prefix:
            fix = Msg("Write the prefix: {delete} then {cmd}", delete=ip_cmd(ns, f"addr del {ip}/{mine[ip]} dev {dev}"),
                      cmd=add)
            if mine[ip] == 32:
                fix = Msg("{fix} (without /{prefix} the kernel uses /32: no route to the rest of the subnet)",
                          fix=fix, prefix=prefix)
            return Verdict(False, Msg("{where} has {have}, not /{prefix}", where=place(dev, ns),
                                      have=f"{ip}/{mine[ip]}", prefix=prefix), fix)
        if ip in mine and others:
            o = others[0]
            return Verdict(False, Msg("{want} is on {where} and also on {other}", want=want, where=place(dev, ns),
                                      other=place(o.name, o.ns)),
                           Msg("Duplicate address: two machines answering for {ip} confuse ARP. Remove the "
                               "wrong one: {cmd}", ip=ip,
                               cmd=ip_cmd(o.ns, f"addr del {ip}/{dict(o.addrs)[ip]} dev {o.name}")))
        if ip in mine:
            return Verdict(True, Msg("{where} has {want}", where=place(dev, ns), want=want))
        if others:
            o = others[0]
            return Verdict(False, Msg("{ip} is on {other}, not on {where}", ip=ip, other=place(o.name, o.ns),
                                      where=place(dev, ns)),
                           Msg("Wrong place: {delete} then {cmd}",
                               delete=ip_cmd(o.ns, f"addr del {ip}/{dict(o.addrs)[ip]} dev {o.name}"), cmd=add))
        if mine:
            have = ", ".join(f"{a}/{p}" for a, p in link.addrs)
            return Verdict(False, Msg("{where} has {have}, not {want}", where=place(dev, ns), have=have, want=want),
                           Msg("Add it: {cmd}", cmd=add))
        if link.kind == "bridge":
            return Verdict(False, Msg("the bridge {where} has no IPv4 address", where=place(dev, ns)),
                           Msg("Give it one: {cmd} (a bridge needs an address to be the gateway of its subnet)",
                               cmd=add))
        return Verdict(False, Msg("{where} has no IPv4 address", where=place(dev, ns)),
                       Msg("Give it one: {cmd}", cmd=add))


KIND = Addr()
