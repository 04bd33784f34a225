"""What every judge shares: the Verdict, and the words and commands its sentences are made of.

Each check kind judges in its own module (`tutor.checks.kinds`), a pure function from what was
read to a Verdict. Every verdict says what was found ("veth1 in red is DOWN") and, when it
fails, the command that fixes it. Nothing here touches the lab.
"""

from __future__ import annotations

from dataclasses import dataclass

from tutor.lab import world
from tutor.lab.state import HOST, LabState, Link


@dataclass
class Verdict:
    """The outcome of one check."""
    passed: bool
    found: str
    hint: str = ""


def ip_cmd(ns: str, rest: str) -> str:
    """`ip …` for the lab host, `ip -n NS …` for a namespace."""
    return f"ip {rest}" if ns == HOST else f"ip -n {ns} {rest}"


def in_ns(ns: str, cmd: str) -> str:
    """A command as run inside namespace `ns` (or on the host)."""
    return cmd if ns == HOST else f"ip netns exec {ns} {cmd}"


def place(name: str, ns: str) -> str:
    """`veth1 in red`, `veth0 on the lab host`."""
    return f"{name} on the lab host" if ns == HOST else f"{name} in {ns}"


def who(ns: str) -> str:
    """`red`, or `the lab host`."""
    return "the lab host" if ns == HOST else ns


def create_cmd(dev: str, kind: str | None, ns: str = HOST) -> str:
    """The command that creates interface `dev` in `ns`: a bridge, or one end of a veth pair."""
    if kind == "bridge":
        return ip_cmd(ns, f"link add {dev} type bridge")
    return ip_cmd(ns, f"link add {dev} type veth peer name OTHER-END")


def no_namespace(state: LabState, ns: str) -> Verdict | None:
    """A failing verdict when namespace `ns` does not exist (the lab host always does)."""
    if ns == HOST or ns in state.namespaces:
        return None
    have = ", ".join(state.namespaces) or "none"
    return Verdict(False, f"there is no namespace {ns} (the lab has: {have})",
                   f"Create it first: ip netns add {ns}")


def missing_link(state: LabState, dev: str, ns: str, kind: str | None = None) -> Verdict:
    """Why DEV is not in NS: never made, left on the host, or moved somewhere else."""
    if bad := no_namespace(state, ns):
        return bad
    elsewhere = state.links_named(dev)
    if elsewhere:
        other = elsewhere[0]
        if other.ns == HOST and dev in world.WORLD_LINKS and ns != HOST:
            # the lab host's own cable out (a container's end is called eth0 too): never move it
            return Verdict(False, f"there is no {dev} in {ns} (the lab host's {dev} is its own cable "
                                  f"to the {_node_on(dev).label}, not {ns}'s)",
                           f"Create the container's end inside {ns}: ip link add veth-{ns} type veth "
                           f"peer name {dev} netns {ns}")
        if other.ns == HOST:
            return Verdict(False, f"{dev} is still on the lab host, not in {ns}",
                           f"Move that end of the cable into the namespace: ip link set {dev} netns {ns}")
        if ns == HOST:
            return Verdict(False, f"{dev} is in namespace {other.ns}, not on the lab host",
                           f"Wrong namespace: move it back with ip -n {other.ns} link set {dev} netns 1, "
                           f"or recreate it on the host")
        return Verdict(False, f"{dev} is in namespace {other.ns}, not in {ns}",
                       f"Wrong namespace: move it with ip -n {other.ns} link set {dev} netns {ns}")
    if kind != "bridge" and (slip := _slip_of(state, dev)):
        return _mistyped_pair(state, slip, dev, ns)
    if kind == "bridge":
        fix = f"Create the bridge: {create_cmd(dev, kind, ns)}"
    else:
        fix = f"Create the {'veth pair' if kind == 'veth' else 'interface (for a veth pair)'}: {create_cmd(dev, kind)}"
        fix += "" if ns == HOST else f", then move this end: ip link set {dev} netns {ns}"
    return Verdict(False, f"there is no interface {dev} anywhere in the lab", fix)


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
    found = f"there is no interface {dev} anywhere in the lab; {place(slip.name, slip.ns)}"
    if other is None:
        return Verdict(False, f"{found} looks like a slip for it",
                       f"Delete it ({ip_cmd(slip.ns, f'link del {slip.name}')} removes both ends of its pair) "
                       f"and create the pair again with the right name: {create_cmd(dev, 'veth')}")
    move = "" if ns == other.ns else f", then move this end: ip link set {dev} netns {ns}"
    return Verdict(False, f"{found}, the other end of {other.name}, looks like a slip for it",
                   f"Delete the stray pair ({ip_cmd(other.ns, f'link del {other.name}')} removes both ends) "
                   f"and recreate it with the right name: "
                   f"{ip_cmd(other.ns, f'link add {other.name} type veth peer name {dev}')}{move}")


def find_link(state: LabState, dev: str, ns: str) -> Link | Verdict:
    """Interface `dev` in `ns`, or the verdict saying why it is not there."""
    link = state.link(dev, ns)
    return link if link else missing_link(state, dev, ns)
