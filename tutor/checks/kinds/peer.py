"""`peer DEV [in NS] with DEV2 [in NS2]`: the two are the ends of one veth pair."""

from __future__ import annotations

from tutor.checks.judge import Verdict, find_link, ip_cmd, place
from tutor.checks.kinds._kind import Reads, StateKind
from tutor.checks.lang import Check, CheckSyntaxError, Where, Words, iface
from tutor.lab.state import HOST, LabState


class Peer(StateKind):
    name = "peer"
    syntax = "peer DEV [in NS] with DEV2 [in NS2]"
    means = "DEV is a veth whose other end is DEV2, in NS2"
    layer = 1

    def parse(self, w: Words) -> tuple[dict, Where]:
        args: dict = {"dev": iface(w.take("an interface"))}
        if "with" not in w.words:
            raise CheckSyntaxError("`peer DEV [in NS] with DEV2 [in NS2]` needs `with`")
        split = w.words.index("with")
        head, tail = Words(w.words[:split]), Words(w.words[split + 1:])
        where = head.where("in")
        head.done()
        args["peer"] = iface(tail.take("the other end"))
        args["peer_ns"] = tail.where("in").ns
        tail.done()
        w.words = []
        return args, where

    def reads(self, check: Check, for_hints: bool) -> Reads:
        return Reads(namespaces={check.args["peer_ns"]} - {HOST})

    def judge(self, check: Check, state: LabState) -> Verdict:
        dev, ns, want, want_ns = check.args["dev"], check.where.ns, check.args["peer"], check.args["peer_ns"]
        link = find_link(state, dev, ns)
        if isinstance(link, Verdict):
            return link
        if link.kind != "veth":
            return Verdict(False, f"{place(dev, ns)} is a {link.kind or 'plain device'}, not a veth end",
                           f"Create a pair: ip link add {dev} type veth peer name {want}")
        peer = state.peer_of(link)
        if peer is None:
            return Verdict(False, f"cannot find the other end of {place(dev, ns)}",
                           f"Recreate the pair: ip link add {dev} type veth peer name {want}")
        if peer.name != want:
            # an interface already called `want` would make the new pair (or its move) collide
            stray = next((l for l in state.links_named(want) if l.kind == "veth"), None)
            also = (f" and the stray {place(want, stray.ns)} ({ip_cmd(stray.ns, f'link del {want}')}), then"
                    if stray else "")
            return Verdict(False, f"the other end of {place(dev, ns)} is {place(peer.name, peer.ns)}, not {want}",
                           f"Delete the pair ({ip_cmd(ns, f'link del {dev}')} removes both ends){also} "
                           f"{'' if stray else 'and '}recreate it: ip link add {dev} type veth peer name {want}")
        if peer.ns != want_ns:
            if peer.ns == HOST:
                return _not_moved(state, want, want_ns)
            return Verdict(False, f"{want} is in namespace {peer.ns}, not {place('', want_ns).strip()}",
                           f"Wrong namespace: move it with ip -n {peer.ns} link set {want} netns "
                           f"{'1' if want_ns == HOST else want_ns}")
        return Verdict(True, f"{place(dev, ns)} is cabled to {place(want, want_ns)}")


def _not_moved(state: LabState, want: str, want_ns: str) -> Verdict:
    """`want` is still on the lab host. If `want_ns` has an interface of that name already (a
    stray from an earlier try), the kernel refuses the move: "An interface with the same name
    exists in the target netns"."""
    found = f"{want} is still on the lab host, not in {want_ns}"
    move = f"ip link set {want} netns {want_ns}"
    there = state.link(want, want_ns)
    if there is None:
        return Verdict(False, found, f"Move that end into the namespace: {move}")
    other = state.peer_of(there) if there.kind == "veth" else None
    whose = f" (the other end of {place(other.name, other.ns)})" if other else ""
    both = " removes both ends" if other else ""
    return Verdict(False, f"{found}, and {want_ns} already has a {want}{whose}",
                   f"Delete the stray {'pair' if other else 'one'} first "
                   f"({ip_cmd(want_ns, f'link del {want}')}{both}), then move this end: {move}")


KIND = Peer()
