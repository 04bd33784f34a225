"""`link DEV [in NS] [up] [type veth|bridge]`: the interface is there (UP, of that type)."""

from __future__ import annotations

from tutor.checks.judge import Verdict, create_cmd, ip_cmd, missing_link, place
from tutor.checks.kinds._kind import StateKind
from tutor.checks.lang import Check, Where, Words, iface
from tutor.i18n import Msg
from tutor.lab.state import LabState


class Link(StateKind):
    name = "link"
    syntax = "link DEV [in NS] [up] [type veth|bridge]"
    means = "DEV exists in NS (and is UP / of that type)"
    layer = 1

    def parse(self, w: Words) -> tuple[dict, Where]:
        args: dict = {"dev": iface(w.take(Msg("an interface")))}
        where = w.where("in")
        args["type"] = w.option("type", Msg("veth or bridge"))
        args["up"] = w.flag("up")
        return args, where

    def judge(self, check: Check, state: LabState) -> Verdict:
        dev, ns, want = check.args["dev"], check.where.ns, check.args.get("type")
        link = state.link(dev, ns)
        if link is None:
            return missing_link(state, dev, ns, want)
        if want and link.kind != want:
            return Verdict(False, Msg("{where} is a {kind}, not a {want}", where=place(dev, ns),
                                      kind=link.kind or Msg("plain device"), want=want),
                           Msg("Delete it ({delete}) and create a {want}: {cmd}", delete=ip_cmd(ns, f"link del {dev}"),
                               want=want, cmd=create_cmd(dev, want, ns)))
        if check.args.get("up") and not link.admin_up:
            return Verdict(False, Msg("{where} is DOWN", where=place(dev, ns)),
                           Msg("Bring it up: {cmd}", cmd=ip_cmd(ns, f"link set dev {dev} up")))
        if not link.admin_up:
            return Verdict(True, Msg("{where} exists, DOWN", where=place(dev, ns)))
        if link.oper == "LOWERLAYERDOWN":
            return Verdict(True, Msg("{where} exists, UP (its other end is still down)", where=place(dev, ns)))
        return Verdict(True, Msg("{where} exists, UP", where=place(dev, ns)))


KIND = Link()
