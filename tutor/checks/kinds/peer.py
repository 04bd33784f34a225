"""`peer DEV [in NS] with DEV2 [in NS2]`: the two are the ends of one veth pair."""

from __future__ import annotations

from tutor.checks.judge import Verdict, find_link, ip_cmd, place
from tutor.checks.kinds._kind import Reads, StateKind
from tutor.checks.lang import Check, CheckSyntaxError, Where, Words, iface
from tutor.i18n import Msg
from tutor.lab.state import HOST, LabState


class Peer(StateKind):
    name = "peer"
    syntax = "peer DEV [in NS] with DEV2 [in NS2]"
    means = "DEV is a veth whose other end is DEV2, in NS2"
    layer = 1

    def parse(self, w: Words) -> tuple[dict, Where]:
        args: dict = {"dev": iface(w.take(Msg("an interface")))}
        if "with" not in w.words:
            raise CheckSyntaxError(Msg("`peer DEV [in NS] with DEV2 [in NS2]` needs `with`"))
        split = w.words.index("with")
        head, tail = Words(w.words[:split]), Words(w.words[split + 1:])
        where = head.where("in")
        head.done()
        args["peer"] = iface(tail.take(Msg("the other end")))
        args["peer_ns"] = tail.where("in").ns
        tail.done()
        w.words = []
        return args, where

    def reads(self, check: Check, for_hints: bool) -> Reads:
        return Reads(namespaces={check.args["peer_ns"]} - {HOST}, ids=True)

    def judge(self, check: Check, state: LabState) -> Verdict:
        dev, ns, want, want_ns = check.args["dev"], check.where.ns, check.args["peer"], check.args["peer_ns"]
        link = find_link(state, dev, ns)
        if isinstance(link, Verdict):
            return link
        if link.kind != "veth":
            return Verdict(False, Msg("{where} is a {kind}, not a veth end", where=place(dev, ns),
                                      kind=link.kind or Msg("plain device")),
                           Msg("Create a pair: {cmd}", cmd=f"ip link add {dev} type veth peer name {want}"))
        peer = state.peer_of(link)
        if peer is None:
            return Verdict(False, Msg("cannot find the other end of {where}", where=place(dev, ns)),
                           Msg("Recreate the pair: {cmd}", cmd=f"ip link add {dev} type veth peer name {want}"))
        if peer.name != want:
            # an interface already called `want` would make the new pair (or its move) collide
            stray = next((l for l in state.links_named(want) if l.kind == "veth"), None)
            create = f"ip link add {dev} type veth peer name {want}"
            found = Msg("the other end of {where} is {other}, not {want}", where=place(dev, ns),
                        other=place(peer.name, peer.ns), want=want)
            if stray:
                return Verdict(False, found, Msg("Delete the pair ({delete} removes both ends) and the stray "
                                                 "{stray} ({delete_stray}), then recreate it: {cmd}",
                                                 delete=ip_cmd(ns, f"link del {dev}"), stray=place(want, stray.ns),
                                                 delete_stray=ip_cmd(stray.ns, f"link del {want}"), cmd=create))
            return Verdict(False, found, Msg("Delete the pair ({delete} removes both ends) and recreate it: {cmd}",
                                             delete=ip_cmd(ns, f"link del {dev}"), cmd=create))
        if peer.ns != want_ns:
            if peer.ns == HOST:
                return _not_moved(state, want, want_ns)
            move = f"ip -n {peer.ns} link set {want} netns {'1' if want_ns == HOST else want_ns}"
            if want_ns == HOST:
                return Verdict(False, Msg("{dev} is in namespace {other}, not on the lab host", dev=want,
                                          other=peer.ns), Msg("Wrong namespace: move it with {cmd}", cmd=move))
            return Verdict(False, Msg("{dev} is in namespace {other}, not in {ns}", dev=want, other=peer.ns,
                                      ns=want_ns), Msg("Wrong namespace: move it with {cmd}", cmd=move))
        return Verdict(True, Msg("{where} is cabled to {other}", where=place(dev, ns), other=place(want, want_ns)))


def _not_moved(state: LabState, want: str, want_ns: str) -> Verdict:
    """`want` is still on the lab host. If `want_ns` has an interface of that name already (a
    stray from an earlier try), the kernel refuses the move: "An interface with the same name
    exists in the target netns"."""
    found = Msg("{dev} is still on the lab host, not in {ns}", dev=want, ns=want_ns)
    move = f"ip link set {want} netns {want_ns}"
    there = state.link(want, want_ns)
    if there is None:
        return Verdict(False, found, Msg("Move that end into the namespace: {cmd}", cmd=move))
    other = state.peer_of(there) if there.kind == "veth" else None
    delete = ip_cmd(want_ns, f"link del {want}")
    if other:
        return Verdict(False, Msg("{found}, and {ns} already has a {dev} (the other end of {other})", found=found,
                                  ns=want_ns, dev=want, other=place(other.name, other.ns)),
                       Msg("Delete the stray pair first ({delete} removes both ends), then move this end: {cmd}",
                           delete=delete, cmd=move))
    return Verdict(False, Msg("{found}, and {ns} already has a {dev}", found=found, ns=want_ns, dev=want),
                   Msg("Delete the stray one first ({delete}), then move this end: {cmd}", delete=delete, cmd=move))


KIND = Peer()
