"""`route DEST [via GW] [dev DEV] [in NS]`: NS has such a route."""

from __future__ import annotations

from tutor.checks.judge import Verdict, ip_cmd, missing_link, no_namespace, place, who
from tutor.checks.kinds._kind import StateKind
from tutor.checks.lang import Check, Where, Words, iface, ip_address, network
from tutor.i18n import Msg
from tutor.lab.state import LabState, in_subnet


class Route(StateKind):
    name = "route"
    syntax = "route DEST [via GW] [dev DEV] [in NS]"
    means = "NS has a route to DEST (`default` or `A.B.C.D/P`)"
    layer = 3

    def parse(self, w: Words) -> tuple[dict, Where]:
        dest = w.take(Msg("a destination (`default` or A.B.C.D/P)"))
        args: dict = {"dest": "default" if dest in ("default", "0.0.0.0/0") else network(dest, Msg("destination"))}
        via = w.option("via", Msg("a gateway address"))
        args["via"] = ip_address(via, Msg("gateway")) if via else None
        dev = w.option("dev", Msg("an interface"))
        args["dev"] = iface(dev) if dev else None
        return args, w.where("in")

    def judge(self, check: Check, state: LabState) -> Verdict:
        dest, via, dev, ns = check.args["dest"], check.args["via"], check.args["dev"], check.where.ns
        if bad := no_namespace(state, ns):
            return bad
        routes = [r for r in state.ns[ns].routes if r.dest == dest]
        label = Msg("default route") if dest == "default" else Msg("route to {dest}", dest=dest)
        spec = " ".join(x for x in (dest, f"via {via}" if via else "", f"dev {dev}" if dev else "") if x)
        if not routes:
            if via is None and dev and dest != "default":
                return _missing_link_route(check, state)
            return Verdict(False, Msg("{who} has no {route}", who=who(ns), route=label),
                           Msg("Add it: {cmd}", cmd=ip_cmd(ns, f"route add {spec}")))
        for r in routes:
            if (via is None or r.gateway == via) and (dev is None or r.dev == dev):
                return Verdict(True, Msg("{who} has a {route} via {gateway} dev {dev}", who=who(ns), route=label,
                                         gateway=r.gateway or Msg("a direct link"), dev=r.dev))
        r = routes[0]
        return Verdict(False, Msg("{who}'s {route} goes via {gateway} dev {dev}, not {spec}", who=who(ns),
                                  route=label, gateway=r.gateway or Msg("no gateway"), dev=r.dev, spec=spec),
                       Msg("Replace it: {cmd}", cmd=ip_cmd(ns, f"route replace {spec}")))


def _missing_link_route(check: Check, state: LabState) -> Verdict:
    """No `DEST dev DEV` route: the kernel adds it once DEV is UP with an address in DEST."""
    dest, dev, ns = check.args["dest"], check.args["dev"], check.where.ns
    link = state.link(dev, ns)
    if link is None:
        return missing_link(state, dev, ns)
    inside = [f"{a}/{p}" for a, p in link.addrs if in_subnet(a, dest)]
    if inside and not link.admin_up:
        return Verdict(False, Msg("{who} has no route to {dest}: {where} has {addr} but is DOWN", who=who(ns),
                                  dest=dest, where=place(dev, ns), addr=inside[0]),
                       Msg("Bring it up (the kernel then adds the route): {cmd}",
                           cmd=ip_cmd(ns, f"link set dev {dev} up")))
    prefix = dest.split("/")[1]
    if inside:   # an address in DEST with a longer prefix (10.201.0.1/32): its route covers only that
        address = inside[0].split("/")[0]
        return Verdict(False, Msg("{who} has no route to {dest} on {dev}: {where} has {addr}, whose prefix covers "
                                  "less than {dest}", who=who(ns), dest=dest, dev=dev, where=place(dev, ns),
                                  addr=inside[0]),
                       Msg("Write the prefix: {delete} then {cmd}",
                           delete=ip_cmd(ns, f"addr del {inside[0]} dev {dev}"),
                           cmd=ip_cmd(ns, f"addr add {address}/{prefix} dev {dev}")))
    return Verdict(False, Msg("{who} has no route to {dest} on {dev}: {where} has no address in it", who=who(ns),
                              dest=dest, dev=dev, where=place(dev, ns)),
                   Msg("Give {dev} an address in {dest} (the kernel then adds the route): {cmd}", dev=dev, dest=dest,
                       cmd=ip_cmd(ns, f"addr add ADDRESS/{prefix} dev {dev}")))


KIND = Route()
