"""What every judge shares: the Verdict, and the words and commands its sentences are made of.

Each check kind judges in its own module (`tutor.checks.kinds`), a pure function from what was
read to a Verdict. Every verdict says what was found ("veth1 in red is DOWN") and, when it
fails, the command that fixes it. Nothing here touches the lab.
"""

from __future__ import annotations

from dataclasses import dataclass

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
        if other.ns == HOST:
            return Verdict(False, f"{dev} is still on the lab host, not in {ns}",
                           f"Move that end of the cable into the namespace: ip link set {dev} netns {ns}")
        if ns == HOST:
            return Verdict(False, f"{dev} is in namespace {other.ns}, not on the lab host",
                           f"Wrong namespace: move it back with ip -n {other.ns} link set {dev} netns 1, "
                           f"or recreate it on the host")
        return Verdict(False, f"{dev} is in namespace {other.ns}, not in {ns}",
                       f"Wrong namespace: move it with ip -n {other.ns} link set {dev} netns {ns}")
    if kind == "bridge":
        fix = f"Create the bridge: {create_cmd(dev, kind, ns)}"
    else:
        fix = f"Create the {'veth pair' if kind == 'veth' else 'interface (for a veth pair)'}: {create_cmd(dev, kind)}"
        fix += "" if ns == HOST else f", then move this end: ip link set {dev} netns {ns}"
    return Verdict(False, f"there is no interface {dev} anywhere in the lab", fix)


def find_link(state: LabState, dev: str, ns: str) -> Link | Verdict:
    """Interface `dev` in `ns`, or the verdict saying why it is not there."""
    link = state.link(dev, ns)
    return link if link else missing_link(state, dev, ns)
