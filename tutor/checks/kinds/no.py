"""`no veth [in NS]`: NS has no veth left (a runtime's DEL, or `ip link del`, took the cable away)."""

from __future__ import annotations

from tutor.checks.judge import Verdict, ip_cmd, no_namespace, place, who
from tutor.checks.kinds._kind import Reads, StateKind
from tutor.checks.lang import Check, CheckSyntaxError, Where, Words
from tutor.i18n import Msg
from tutor.lab.state import LabState


class No(StateKind):
    name = "no"
    syntax = "no veth [in NS]"
    means = "NS has no veth interface (the namespace itself must exist)"
    layer = 1

    def parse(self, w: Words) -> tuple[dict, Where]:
        what = w.take(Msg("what there must be none of (`veth`)"))
        if what != "veth":
            raise CheckSyntaxError(Msg("`no` takes `veth`, not {what!r}", what=what))
        return {"what": what}, w.where("in")

    def reads(self, check: Check, for_hints: bool) -> Reads:
        return Reads(ids=True)   # what it finds names the other end of a veth left behind

    def judge(self, check: Check, state: LabState) -> Verdict:
        ns = check.where.ns
        if bad := no_namespace(state, ns):
            return bad
        veths = [l for l in state.ns[ns].links.values() if l.kind == "veth"]
        if not veths:
            return Verdict(True, Msg("{who} has no veth", who=who(ns)))
        first = veths[0]
        peer = state.peer_of(first)
        found = (Msg("{where} is still there (its other end is {other})", where=place(first.name, ns),
                     other=place(peer.name, peer.ns)) if peer
                 else Msg("{where} is still there", where=place(first.name, ns)))
        if len(veths) > 1:
            found = Msg("{found}, and {count} more", found=found, count=len(veths) - 1)
        return Verdict(False, found,
                       Msg("Take the cable away: {cmd} deletes both ends (a CNI plugin does it when run with "
                           "CNI_COMMAND=DEL)", cmd=ip_cmd(ns, f"link del {first.name}")))


KIND = No()
