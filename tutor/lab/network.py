"""The lab's network: the lab host (the agent's own network namespace) and the world nodes.

The world is declared in `tutor.lab.world`; `build_world` builds it with one `ip -batch` per
machine (three `ip` processes for a fresh lab). World nodes live in network namespaces bind-mounted under
`/run/tutor/world`, not `/run/netns`, so `ip netns` in the lab lists only the student's own.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess

from tutor.lab import nsutil as ns, world
from tutor.lab.world import WORLD_DIR


def host_batch(node_paths: dict[str, str]) -> str:
    """`ip -batch` for the lab host: a cable to each world machine (its end in the namespace at
    `node_paths[name]`), the host's addresses and its default route: what
    `ip addr` and `route` show before the student types anything."""
    lines = ["link set lo up"]
    for n in world.NODES:
        lines.append(f"link add {n.host_dev} type veth peer name {n.dev} netns {node_paths[n.name]}")
    for n in world.NODES:
        lines += [f"addr add {n.host_address} dev {n.host_dev}", f"link set {n.host_dev} up"]
    lines.append(f"route add default via {world.gateway().ip}")
    return "\n".join(lines) + "\n"


def node_batch(node: world.Node) -> str:
    """`ip -batch` inside world machine `node`: its cable's address, and the rest on lo."""
    lines = ["link set lo up", f"addr add {node.address} dev {node.dev}", f"link set {node.dev} up"]
    lines += [f"addr add {a}/32 dev lo" for a in node.extra]
    return "\n".join(lines) + "\n"


def node_path(node: str, world_dir: str = WORLD_DIR) -> str:
    """Where the world node's network namespace is bind-mounted inside the lab."""
    return f"{world_dir}/{node}"


def _new_netns_file(path: str) -> None:
    """Create a network namespace that outlives its creator, held by a bind mount at `path`."""
    open(path, "w").close()
    pid = os.fork()
    if pid == 0:
        try:
            ns.unshare(ns.CLONE_NEWNET)
            ns.mount("/proc/self/ns/net", path, None, ns.MS_BIND)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise OSError(f"could not create the world node namespace {path}")


def _ip_batch(batch: str, fds: tuple[int, ...] = ()) -> None:
    proc = subprocess.run(["ip", "-batch", "-"], input=batch, text=True, pass_fds=fds,
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise OSError(f"building the lab network failed: {proc.stderr.strip()}")


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
        # `ip` opens `netns self/fd/N` relative to its working directory: the lab's own /proc,
        # whatever the lab has mounted on /proc since.
        with ns.in_proc():
            _ip_batch(host_batch({n: f"self/fd/{fd}" for n, fd in nodes.items()}), tuple(nodes.values()))
        for n in world.NODES:
            with in_netns_fd(nodes[n.name]):
                _ip_batch(node_batch(n))
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
