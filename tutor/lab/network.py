"""The lab's network: the lab host (the agent's own network namespace) and the world nodes.

The world is declared in `tutor.lab.world`; `build_world` builds it over netlink, a plan per
machine (`host_plan`, `node_plan`; no `ip` process). World nodes live in network namespaces bind-mounted under
`/run/tutor/world`, not `/run/netns`, so `ip netns` in the lab lists only the student's own.
"""

from __future__ import annotations

import contextlib
import os
import socket

from tutor.lab import nsutil as ns, rtnl, world
from tutor.lab.world import WORLD_DIR


def host_plan(node_fds: dict[str, int]) -> list[tuple]:
    """What the lab host gets, in order, as `apply` does it: a cable to each world machine (its
    end in the namespace held by `node_fds[name]`), the host's addresses and its default route:
    what `ip addr` and `route` show before the student types anything."""
    plan: list[tuple] = [("set_up", "lo")]
    plan += [("add_veth", n.host_dev, n.dev, node_fds[n.name]) for n in world.NODES]
    for n in world.NODES:
        plan += [("add_address", n.host_dev, n.host_address), ("set_up", n.host_dev)]
    return plan + [("add_default_route", world.gateway().ip)]


def node_plan(node: world.Node) -> list[tuple]:
    """What world machine `node` gets inside: its cable's address, and the rest on lo."""
    return [("set_up", "lo"), ("add_address", node.dev, node.address), ("set_up", node.dev)] + \
        [("add_address", "lo", f"{a}/32") for a in node.extra]


def apply(plan: list[tuple]) -> None:
    """Carry out a `host_plan` or `node_plan` (each step a `rtnl.Changer` method and its
    arguments) in the current network namespace, over netlink:
    `ip link add … type veth peer name … netns …`, `ip link set … up`, `ip addr add`, `ip route
    add default via` without starting `ip` (three processes and ~11 ms a world, issue 15)."""
    try:
        with rtnl.Changer() as nl:
            for step, *args in plan:
                getattr(nl, step)(*args)
    except OSError as exc:
        raise OSError(f"building the lab network failed: {exc.strerror or exc}") from None


def node_path(node: str, world_dir: str = WORLD_DIR) -> str:
    """Where the world node's network namespace is bind-mounted inside the lab."""
    return f"{world_dir}/{node}"


def _new_netns_file(path: str) -> None:
    """Create a network namespace that outlives its creator, held by a bind mount at `path`:
    made by this process (which is single-threaded, as `unshare` needs), which then goes back
    to the namespace it was in. A child forked for it cost ~3 ms a machine more (issue 15)."""
    open(path, "w").close()
    home = ns.open_own_ns("net")
    try:
        ns.unshare(ns.CLONE_NEWNET)
        try:
            ns.mount("/proc/self/ns/net", path, None, ns.MS_BIND)
        finally:
            ns.setns(home, ns.CLONE_NEWNET)
    except OSError as exc:
        raise OSError(f"could not create the world node namespace {path} ({exc.strerror or exc})") from None
    finally:
        os.close(home)


@contextlib.contextmanager
def in_netns(path: str | None):
    """Run the body (and the processes it starts) in another network namespace of the lab
    (None: the current one, for code that takes a path or nothing)."""
    target = open_netns(path)
    try:
        with in_netns_fd(target):
            yield
    finally:
        os.close(target)


def open_netns(path: str | None) -> int:
    """A descriptor of the network namespace at `path` (None: the current one). Never waits:
    a FIFO a student put under /run/netns would hold a blocking open, and the agent with it;
    a file that is no namespace fails later, at setns (EINVAL)."""
    if path is None:
        return ns.open_own_ns("net")
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW)


@contextlib.contextmanager
def in_netns_fd(target: int):
    """Like `in_netns`, for a namespace held by descriptor `target`."""
    home = ns.open_own_ns("net")
    try:
        ns.setns(target, ns.CLONE_NEWNET)
        yield
    finally:
        ns.setns(home, ns.CLONE_NEWNET)
        os.close(home)


def build_world(world_dir: str = WORLD_DIR) -> dict[str, int]:
    """Create the world nodes (under `world_dir`) and wire them to the lab host (the current
    network namespace). Returns a descriptor of each node's namespace, by node.

    Past the moment each node is made, it is reached by its descriptor, never by its path: a
    process in the lab may swap what the path holds while a spare world is built."""
    nodes: dict[str, int] = {}
    try:
        for node in world.NODE_NAMES:
            path = node_path(node, world_dir)
            if os.path.lexists(path):
                with contextlib.suppress(OSError):
                    ns.umount(path)
                os.unlink(path)
            _new_netns_file(path)
            nodes[node] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        apply(host_plan(nodes))
        for n in world.NODES:
            with in_netns_fd(nodes[n.name]):
                apply(node_plan(n))
    except BaseException:
        close_nodes(nodes)
        raise
    return nodes


def close_nodes(nodes: dict[str, int]) -> None:
    """Close the descriptors `build_world` returned."""
    for fd in nodes.values():
        os.close(fd)


# What each machine must hold: (node name, or "" for the lab host, its cable's end, address).
_HELD = tuple([("", n.host_dev, n.host_ip) for n in world.NODES]
              + [(n.name, n.dev, a) for n in world.NODES for a in (n.ip, *n.extra)])


def world_problem(nodes: dict[str, int], world_dir: str = WORLD_DIR) -> str | None:
    """Why the world under `world_dir` is not the one held by `nodes` as built, or None.

    Checks that each node's path holds that node's namespace and that each machine (the lab
    host is the current namespace) holds its addresses and its cable's end."""
    for node, fd in nodes.items():
        path = node_path(node, world_dir)
        try:
            if os.stat(path).st_ino != os.fstat(fd).st_ino:
                return f"{path} no longer holds the {node} machine"
        except OSError:
            return f"{path} is gone"
    for node, dev, address in _HELD:
        with (in_netns_fd(nodes[node]) if node else contextlib.nullcontext()):
            try:
                socket.if_nametoindex(dev)
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                    probe.bind((address, 0))
            except OSError:
                return f"the {node or 'lab host'} machine lost {address} or its {dev}"
    return None


def move_world(src_dir: str, dst_dir: str = WORLD_DIR) -> None:
    """Put the world nodes held under `src_dir` in the place of those under `dst_dir`."""
    for node in world.NODE_NAMES:
        src, dst = node_path(node, src_dir), node_path(node, dst_dir)
        with contextlib.suppress(OSError):
            ns.umount(dst)
        if not os.path.exists(dst):
            open(dst, "w").close()
        ns.mount(src, dst, None, ns.MS_BIND)
        ns.umount(src)


def student_namespaces() -> list[str]:
    """Names under /run/netns (what `ip netns` lists in the lab)."""
    try:
        return sorted(os.listdir("/run/netns"))
    except FileNotFoundError:
        return []


def drop_student_namespaces() -> None:
    """Unmount and remove every namespace the student made (`ip netns del` for all)."""
    for name in student_namespaces():
        path = f"/run/netns/{name}"
        with contextlib.suppress(OSError):
            ns.umount(path)
        with contextlib.suppress(OSError):
            os.unlink(path)
