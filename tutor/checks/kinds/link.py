"""`link DEV [in NS] [up] [type veth|bridge]`: the interface is there (UP, of that type)."""

from __future__ import annotations

from tutor.checks.judge import Verdict, create_cmd, ip_cmd, missing_link, place
from tutor.checks.kinds._kind import StateKind
from tutor.checks.lang import Check, Where, Words, iface
from tutor.lab.state import LabState


class Link(StateKind):
    name = "link"
    syntax = "link DEV [in NS] [up] [type veth|bridge]"
    means = "DEV exists in NS (and is UP / of that type)"
    layer = 1

    def parse(self, w: Words) -> tuple[dict, Where]:
        args: dict = {"dev": iface(w.take("an interface"))}
        where = w.where("in")
        args["type"] = w.option("type", "veth or bridge")
        args["up"] = w.flag("up")
        return args, where

    def judge(self, check: Check, state: LabState) -> Verdict:
        dev, ns, want = check.args["dev"], check.where.ns, check.args.get("type")
        link = state.link(dev, ns)
        if link is None:
            return missing_link(state, dev, ns, want)
        if want and link.kind != want:
            return Verdict(False, f"{place(dev, ns)} is a {link.kind or 'plain device'}, not a {want}",
                           f"Delete it ({ip_cmd(ns, f'link del {dev}')}) and create a {want}: "
                           f"{create_cmd(dev, want, ns)}")
        if check.args.get("up") and not link.admin_up:
            return Verdict(False, f"{place(dev, ns)} is DOWN",
                           f"Bring it up: {ip_cmd(ns, f'link set dev {dev} up')}")
        up = "UP" if link.admin_up else "DOWN"
        note = " (its other end is still down)" if link.admin_up and link.oper == "LOWERLAYERDOWN" else ""
        return Verdict(True, f"{place(dev, ns)} exists, {up}{note}")


KIND = Link()
