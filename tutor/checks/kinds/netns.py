"""`netns NAME`: the namespace exists."""

from __future__ import annotations

from tutor.checks.judge import Verdict
from tutor.checks.kinds._kind import StateKind
from tutor.checks.lang import Check, Where, Words, ns_name
from tutor.lab.state import LabState


class Netns(StateKind):
    name = "netns"
    syntax = "netns NAME"
    means = "namespace NAME exists (`ip netns` lists it)"
    layer = 0

    def parse(self, w: Words) -> tuple[dict, Where]:
        return {"name": ns_name(w.take("a namespace name"))}, Where()

    def judge(self, check: Check, state: LabState) -> Verdict:
        name = check.args["name"]
        if name in state.namespaces:
            return Verdict(True, f"namespace {name} exists")
        have = ", ".join(state.namespaces) or "none"
        return Verdict(False, f"there is no namespace {name} (the lab has: {have})",
                       f"Create it: ip netns add {name}")


KIND = Netns()
