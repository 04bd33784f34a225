"""What every judge shares: the Verdict, and the words and commands its sentences are made of.

Each check kind judges in its own module (`tutor.checks.kinds`), a pure function from what was
read to a Verdict. Every verdict says what was found ("veth1 in red is DOWN") and, when it
fails, the command that fixes it. Nothing here touches the lab.

Both are `Msg`s (`tutor.i18n`): English templates with named params, so the same verdict reads
in Korean too. Names, addresses and commands are params, never translated.
"""

from __future__ import annotations

from collections import namedtuple

from tutor.i18n import Msg
from tutor.lab import world
from tutor.lab.state import HOST, LabState, Link


class Verdict(namedtuple("Verdict", "passed found hint", defaults=("",))):
    """The outcome of one check: whether it `passed`, what was `found`, and the `hint` (each a
    Msg where it says something in words: str() is the English). A named tuple, not a dataclass:
    see `tutor.plain`."""
    __slots__ = ()


def ip_cmd(ns: str, rest: str) -> str:
    """`ip …` for the lab host, `ip -n NS …` for a namespace."""
    return f"ip {rest}" if ns == HOST else f"ip -n {ns} {rest}"


def in_ns(ns: str, cmd: str) -> str:
    """A command as run inside namespace `ns` (or on the host)."""
    return cmd if ns == HOST else f"ip netns exec {ns} {cmd}"


def place(name: str, ns: str) -> Msg:
    """`veth1 in red`, `veth0 on the lab host`."""
    return Msg("{name} on the lab host", name=name) if ns == HOST else Msg("{name} in {ns}", name=name, ns=ns)


def who(ns: str) -> str:
    """`red`, or `the lab host`."""
    return Msg("the lab host") if ns == HOST else ns


def create_cmd(dev: str, kind: str | None, ns: str = HOST) -> str:
    """The command that creates interface `dev` in `ns`: a bridge, or one end of a veth pair."""
    if kind == "bridge":
        return ip_cmd(ns, f"link add {dev} type bridge")
    return ip_cmd(ns, f"link add {dev} type veth peer name OTHER-END")


def no_namespace(state: LabState, ns: str) -> Verdict | None:
    """A failing verdict when namespace `ns` does not exist (the lab host always does)."""
    if ns == HOST or ns in state.namespaces:
        return None
    have = ", ".join(state.namespaces) or Msg("none")
    return Verdict(False, Msg("there is no namespace {ns} (the lab has: {have})", ns=ns, have=have),
                   Msg("Create it first: {cmd}", cmd=f"ip netns add {ns}"))


def missing_link(state: LabState, dev: str, ns: str, kind: str | None = None) -> Verdict:
    """Why DEV is not in NS: never made, left on the host, or moved somewhere else."""
    if bad := no_namespace(state, ns):
        return bad
    elsewhere = state.links_named(dev)
    if elsewhere:
        other = elsewhere[0]
        if other.ns == HOST and dev in world.WORLD_LINKS and ns != HOST:
            # the lab host's own cable out (a container's end is called eth0 too): never move it
            return Verdict(False, Msg("there is no {dev} in {ns} (the lab host's {dev} is its own cable "
                                      "to the {node}, not {ns}'s)", dev=dev, ns=ns, node=_node_on(dev).label),
                           Msg("Create the container's end inside {ns}: {cmd}", ns=ns,
                               cmd=f"ip link add veth-{ns} type veth peer name {dev} netns {ns}"))
        if other.ns == HOST:
            return Verdict(False, Msg("{dev} is still on the lab host, not in {ns}", dev=dev, ns=ns),
                           Msg("Move that end of the cable into the namespace: {cmd}",
                               cmd=f"ip link set {dev} netns {ns}"))
        if ns == HOST:
            return Verdict(False, Msg("{dev} is in namespace {other}, not on the lab host", dev=dev, other=other.ns),
                           Msg("Wrong namespace: move it back with {cmd}, or recreate it on the host",
                               cmd=f"ip -n {other.ns} link set {dev} netns 1"))
        return Verdict(False, Msg("{dev} is in namespace {other}, not in {ns}", dev=dev, other=other.ns, ns=ns),
                       Msg("Wrong namespace: move it with {cmd}", cmd=f"ip -n {other.ns} link set {dev} netns {ns}"))
    if kind != "bridge" and (slip := _slip_of(state, dev)):
        return _mistyped_pair(state, slip, dev, ns)
    fix: Msg
    if kind == "bridge":
        fix = Msg("Create the bridge: {cmd}", cmd=create_cmd(dev, kind, ns))
    elif kind == "veth":
        fix = Msg("Create the veth pair: {cmd}", cmd=create_cmd(dev, kind))
    else:
        fix = Msg("Create the interface (for a veth pair): {cmd}", cmd=create_cmd(dev, kind))
    if kind != "bridge" and ns != HOST:
        fix = Msg("{fix}, then move this end: {cmd}", fix=fix, cmd=f"ip link set {dev} netns {ns}")
    return Verdict(False, Msg("there is no interface {dev} anywhere in the lab", dev=dev), fix)


def _node_on(dev: str) -> world.Node:
    """The world machine at the other end of the lab host's cable `dev`."""
    return next(n for n in world.NODES if n.host_dev == dev)


def one_slip(typed: str, meant: str) -> bool:
    """Is `typed` `meant` with one slip of the keyboard: a letter wrong, added or left out, or
    two neighbours swapped (veht1 for veth1)? Another number (veth0 for veth1) is another
    interface, not a slip."""
    if typed == meant or abs(len(typed) - len(meant)) > 1:
        return False
    if len(typed) == len(meant):
        diff = [i for i, (a, b) in enumerate(zip(typed, meant, strict=True)) if a != b]
        if len(diff) == 1:
            return not (typed[diff[0]].isdigit() and meant[diff[0]].isdigit())
        return (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and typed[diff[0]] == meant[diff[1]] and typed[diff[1]] == meant[diff[0]])
    short, long = sorted((typed, meant), key=len)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def _slip_of(state: LabState, dev: str) -> Link | None:
    """A veth end anywhere in the lab whose name looks like `dev` mistyped."""
    return next((l for space in state.ns.values() for l in space.links.values()
                 if l.kind == "veth" and one_slip(l.name, dev)
                 and not (l.ns == HOST and l.name in world.WORLD_LINKS)), None)


def _mistyped_pair(state: LabState, slip: Link, dev: str, ns: str) -> Verdict:
    """`dev` is missing and `slip`, a veth end, has its name with a slip: delete that pair (either
    end takes both with it) and make it again. Re-running the first command cannot work: the
    kernel refuses a second interface of the same name."""
    other = state.peer_of(slip)
    if other is None:
        return Verdict(False, Msg("there is no interface {dev} anywhere in the lab; {slip} looks like a slip for it",
                                  dev=dev, slip=place(slip.name, slip.ns)),
                       Msg("Delete it ({delete} removes both ends of its pair) and create the pair again "
                           "with the right name: {cmd}", delete=ip_cmd(slip.ns, f"link del {slip.name}"),
                           cmd=create_cmd(dev, "veth")))
    hint = Msg("Delete the stray pair ({delete} removes both ends) and recreate it with the right name: {cmd}",
               delete=ip_cmd(other.ns, f"link del {other.name}"),
               cmd=ip_cmd(other.ns, f"link add {other.name} type veth peer name {dev}"))
    if ns != other.ns:
        hint = Msg("{fix}, then move this end: {cmd}", fix=hint, cmd=f"ip link set {dev} netns {ns}")
    return Verdict(False, Msg("there is no interface {dev} anywhere in the lab; {slip}, the other end of "
                              "{other}, looks like a slip for it", dev=dev, slip=place(slip.name, slip.ns),
                              other=other.name), hint)


def find_link(state: LabState, dev: str, ns: str) -> Link | Verdict:
    """Interface `dev` in `ns`, or the verdict saying why it is not there."""
    link = state.link(dev, ns)
    return link if link else missing_link(state, dev, ns)
