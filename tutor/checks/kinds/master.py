"""`master DEV [in NS] is BR`: DEV is a port of bridge BR."""

from __future__ import annotations

from tutor.checks.judge import Verdict, find_link, ip_cmd, place
from tutor.checks.kinds._kind import StateKind
from tutor.checks.lang import Check, Where, Words, iface, missing
from tutor.i18n import Msg
from tutor.lab.state import LabState


class Master(StateKind):
    name = "master"
    syntax = "master DEV [in NS] is BR"
    means = "DEV is a port of bridge BR"
    layer = 1

    def parse(self, w: Words) -> tuple[dict, Where]:
        args = {"dev": iface(w.take(Msg("an interface"))),
                "bridge": iface(w.option("is", Msg("a bridge name")) or missing(Msg("`is BRIDGE`")))}
        return args, w.where("in")

    def judge(self, check: Check, state: LabState) -> Verdict:
        dev, ns, br = check.args["dev"], check.where.ns, check.args["bridge"]
        link = find_link(state, dev, ns)
        if isinstance(link, Verdict):
            return link
        bridge = state.link(br, ns)
        fix = ip_cmd(ns, f"link set {dev} master {br}")
        if bridge is None:
            return Verdict(False, Msg("{where} cannot join {br}: there is no bridge {br} there", where=place(dev, ns),
                                      br=br),
                           Msg("Create the bridge first: {create}, then {cmd}",
                               create=ip_cmd(ns, f"link add {br} type bridge"), cmd=fix))
        if link.master is None:
            return Verdict(False, Msg("{where} is not plugged into any bridge", where=place(dev, ns)),
                           Msg("Attach the port to the bridge: {cmd}", cmd=fix))
        if link.master != br:
            return Verdict(False, Msg("{where} is a port of {master}, not {br}", where=place(dev, ns),
                                      master=link.master, br=br),
                           Msg("Move it: {cmd}", cmd=fix))
        return Verdict(True, Msg("{where} is a port of {br}", where=place(dev, ns), br=br))


KIND = Master()
