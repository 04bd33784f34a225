"""`peer DEV [in NS] with DEV2 [in NS2]`: the two are the ends of one veth pair."""

from __future__ import annotations

from tutor.checks.judge import Verdict, find_link, ip_cmd, place
from tutor.checks.kinds._kind import StateKind
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
            return Verdict(False, f"the other end of {place(dev, ns)} is {place(peer.name, peer.ns)}, not {want}",
                           f"Delete the pair ({ip_cmd(ns, f'link del {dev}')}) and recreate it: "
                           f"ip link add {dev} type veth peer name {want}")
        if peer.ns != want_ns:
            if peer.ns == HOST:
                return Verdict(False, f"{want} is still on the lab host, not in {want_ns}",
                               f"Move that end into the namespace: ip link set {want} netns {want_ns}")
            return Verdict(False, f"{want} is in namespace {peer.ns}, not {place('', want_ns).strip()}",
                           f"Wrong namespace: move it with ip -n {peer.ns} link set {want} netns "
                           f"{'1' if want_ns == HOST else want_ns}")
        return Verdict(True, f"{place(dev, ns)} is cabled to {place(want, want_ns)}")


KIND = Peer()
