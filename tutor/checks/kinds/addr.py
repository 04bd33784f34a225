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
from tutor.lab.state import LabState


class Addr(StateKind):
    name = "addr"
    syntax = "addr A.B.C.D/P on DEV [in NS]"
    means = "DEV in NS has exactly that address and prefix"
    layer = 2

    def parse(self, w: Words) -> tuple[dict, Where]:
        cidr = w.take("an address like 10.200.0.2/24")
        if "/" not in cidr:
            raise CheckSyntaxError(f"address {cidr!r} needs its prefix, like {cidr}/24")
        ip, prefix = cidr.split("/", 1)
        args: dict = {"ip": ip_address(ip, "address")}
        if not prefix.isdigit() or int(prefix) > (32 if "." in args["ip"] else 128):
            raise CheckSyntaxError(f"{cidr!r} has no valid prefix length (like /24)")
        args["prefix"] = int(prefix)
        args["dev"] = iface(w.option("on", "an interface") or missing("`on DEV`"))
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
                verdict.found += f" (it has {ip} there)"
                verdict.hint += f"; moving it clears its addresses, so add {want} again: {add}"
            elif owners:
                o = owners[0]
                verdict.found += f"; {ip} is on {place(o.name, o.ns)}"
            return verdict
        mine = dict(link.addrs)
        others = [o for o in owners if (o.name, o.ns) != (dev, ns)]
        if ip in mine and mine[ip] != prefix:
            return Verdict(False, f"{place(dev, ns)} has {ip}/{mine[ip]}, not /{prefix}",
                           f"Write the prefix: {ip_cmd(ns, f'addr del {ip}/{mine[ip]} dev {dev}')} then {add}"
                           + (f" (without /{prefix} the kernel uses /32: no route to the rest of the subnet)"
                              if mine[ip] == 32 else ""))
        if ip in mine and others:
            o = others[0]
            return Verdict(False, f"{want} is on {place(dev, ns)} and also on {place(o.name, o.ns)}",
                           f"Duplicate address: two machines answering for {ip} confuse ARP. Remove the "
                           f"wrong one: {ip_cmd(o.ns, f'addr del {ip}/{dict(o.addrs)[ip]} dev {o.name}')}")
        if ip in mine:
            return Verdict(True, f"{place(dev, ns)} has {want}")
        if others:
            o = others[0]
            return Verdict(False, f"{ip} is on {place(o.name, o.ns)}, not on {place(dev, ns)}",
                           f"Wrong place: {ip_cmd(o.ns, f'addr del {ip}/{dict(o.addrs)[ip]} dev {o.name}')} "
                           f"then {add}")
        if mine:
            have = ", ".join(f"{a}/{p}" for a, p in link.addrs)
            return Verdict(False, f"{place(dev, ns)} has {have}, not {want}", f"Add it: {add}")
        what = "the bridge " if link.kind == "bridge" else ""
        return Verdict(False, f"{what}{place(dev, ns)} has no IPv4 address",
                       f"Give it one: {add}" + (" (a bridge needs an address to be the gateway of its "
                                                  "subnet)" if link.kind == "bridge" else ""))


KIND = Addr()
