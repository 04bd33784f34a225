"""`netns NAME`: the namespace exists."""

from __future__ import annotations

from tutor.checks.judge import Verdict
from tutor.checks.kinds._kind import StateKind
from tutor.checks.lang import Check, Where, Words, ns_name
from tutor.i18n import Msg
from tutor.lab.state import LabState


class Netns(StateKind):
    name = "netns"
    syntax = "netns NAME"
    means = "namespace NAME exists (`ip netns` lists it)"
    layer = 0

    def parse(self, w: Words) -> tuple[dict, Where]:
        return {"name": ns_name(w.take(Msg("a namespace name")))}, Where()

    def judge(self, check: Check, state: LabState) -> Verdict:
        name = check.args["name"]
        if name in state.namespaces:
            return Verdict(True, Msg("namespace {name} exists", name=name))
        have = ", ".join(state.namespaces) or Msg("none")
        return Verdict(False, Msg("there is no namespace {ns} (the lab has: {have})", ns=name, have=have),
                       Msg("Create it: {cmd}", cmd=f"ip netns add {name}"))


KIND = Netns()
