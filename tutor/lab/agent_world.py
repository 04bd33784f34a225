"""What the lab agent holds of the simulated world: its nodes and servers, the HTTP servers
that `serve` starts, the spare network built ahead for the next reset, and the reset itself.

The world is defined in `tutor.lab.world` and built by `tutor.lab.network`; this is the agent's
live hold on it. `Agent` (`tutor.lab.agent_control`) is an `AgentWorld` that answers its door.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import sys
import time

from tutor.lab import door, network, nsutil as ns, sandbox, servers, world
from tutor.safefile import N_


class AgentWorld:
    """The world PID 1 of a lab serves, and the reset that renews it (see the module)."""

    control: socket.socket   # the agent's door (see Agent): the spare's builder closes its copy

    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        self.servers: list = []                       # DnsServer / HttpServer of the world
        self.world: dict[str, int] = {}               # each world node's namespace, held
        self.own_mounts: set[int] = set()             # mount ids as the lab was built or reset
        self.served: dict[tuple[str, int], servers.HttpServer] = {}   # `serve http NS PORT`
        # The next reset's network, built while the lab is idle: a lab host namespace (held by
        # this descriptor), its world nodes under SPARE_DIR (and held), and their servers, not
        # yet serving.
        self.spare: tuple[int, dict[str, int], list] | None = None
        self.spare_due: float | None = time.monotonic() + 0.05   # when to build it; None: never
        self.builder: tuple[int, socket.socket] | None = None    # (pid, socket) while building

    def _watch_door(self) -> None:
        """Register the agent's own door with `self.sel` (a reset makes a new selector)."""
        raise NotImplementedError

    # -- building ---------------------------------------------------------------------------
    def build(self) -> None:
        """The world under WORLD_DIR, wired to the current namespace, its servers serving."""
        nodes = network.build_world()
        try:
            world_servers = _world_servers(_world_sockets(nodes))
        except BaseException:
            network.close_nodes(nodes)
            raise
        self._take_world(nodes, world_servers)

    def _take_world(self, nodes: dict[str, int], world_servers: list) -> None:
        network.close_nodes(self.world)
        self.world, self.servers = nodes, world_servers
        self._serve_world()

    def _serve_world(self) -> None:
        for server in self.servers:
            server.register(self.sel)

    def prepare_spare(self) -> None:
        """Start building the next reset's network, so that a reset only has to switch to it.

        A child builds it, named `lab-spare` in the lab's `ps`: the agent itself never leaves
        the lab host's namespace, which is the one every command entering the lab joins (via
        /proc/<agent>/ns/net), and it goes on answering while the child works (seconds, when
        the kernel is busy tearing down other namespaces). The child hands back the namespace
        and the world's listening sockets, then exits; `_spare_built` takes them.
        """
        if self.spare is not None or self.builder is not None:
            return
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                mine.close()
                self.control.close()   # only the agent answers the door
                ns.set_name("lab-spare")
                ns.unshare(ns.CLONE_NEWNET)
                nodes = network.build_world(sandbox.SPARE_DIR)
                socks = _world_sockets(nodes)
                held = [ns.open_own_ns("net"), *(nodes[n] for n in world.NODE_NAMES),
                        *(s.fileno() for s in socks)]
                socket.send_fds(theirs, [b"spare"], held)
                code = 0
            finally:
                os._exit(code)
        theirs.close()
        mine.setblocking(False)
        self.builder = (pid, mine)
        self.sel.register(mine, selectors.EVENT_READ, self._spare_built)

    def _spare_built(self, mask: int) -> None:
        """The builder answered (or died): keep what it built, or build no more spares."""
        pid, mine = self._drop_builder(kill=False)
        try:
            _, fds, _, _ = socket.recv_fds(mine, 16, _SPARE_FDS)
        except OSError:
            fds = []
        finally:
            mine.close()
            _wait_child(pid)
        if len(fds) != _SPARE_FDS:
            for fd in fds:
                os.close(fd)
            print("agent: the spare network could not be built; resets build their own",
                  file=sys.stderr)
            self.spare_due = None
            return
        netns, socks = fds[0], fds[1 + len(world.NODES):]
        self.spare = (netns, dict(zip(world.NODE_NAMES, fds[1:1 + len(world.NODES)], strict=True)),
                      _world_servers([socket.socket(fileno=fd) for fd in socks]))

    def _drop_builder(self, kill: bool) -> tuple[int, socket.socket]:
        assert self.builder is not None   # called only while a builder runs
        pid, mine = self.builder
        self.builder = None
        try:
            self.sel.unregister(mine)
        except (KeyError, ValueError):
            pass
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            mine.close()
            _wait_child(pid)
        return pid, mine

    def _try_prepare_spare(self) -> None:
        """Build the spare network when the lab has been quiet a moment, or right after a reset."""
        self.spare_due = float("inf")   # until a reset uses the spare
        try:
            self.prepare_spare()
        except OSError as exc:   # resets then build their network themselves, as before
            print(f"agent: no spare network: {exc}", file=sys.stderr)
            self.spare_due = None

    def reset(self) -> None:
        """Back to a fresh lab: new network namespaces, a fresh /etc and /var/lib, no student
        processes."""
        if self.builder is not None:   # too soon: its half-built spare goes, a new one is built
            self._drop_builder(kill=True)
        for server in self.servers + list(self.served.values()):
            server.close()
        self.served.clear()
        self.servers.clear()
        self.sel.close()
        self.sel = selectors.DefaultSelector()
        self._watch_door()
        _kill_lab_processes()
        network.drop_student_namespaces()
        self._unmount_strangers()
        spare, self.spare = self.spare, None
        if spare is not None and not self._use_spare(*spare):
            print("agent: the spare network was tampered with; building a new one", file=sys.stderr)
            spare = None
        if spare is None:   # none ready (or not to be trusted): build this one now
            ns.unshare(ns.CLONE_NEWNET)
            self.build()
            problem = network.world_problem(self.world)
            if problem:
                raise WorldError(problem)
        sandbox.reset_etc()
        sandbox.reset_var_lib()
        sandbox.remount_sys()   # sysfs shows the namespace it was mounted in: the new one
        self.own_mounts = ns.mount_ids()
        if self.spare_due is not None:
            self.spare_due = time.monotonic()   # right after this reply

    def _use_spare(self, netns: int, nodes: dict[str, int], world_servers: list) -> bool:
        """Switch to the spare network if it still is what the builder made; else drop it."""
        ns.setns(netns, ns.CLONE_NEWNET)
        os.close(netns)
        try:
            network.move_world(sandbox.SPARE_DIR)
            problem = network.world_problem(nodes)
        except OSError as exc:
            problem = str(exc)
        if problem:
            for server in world_servers:
                server.close()
            network.close_nodes(nodes)
            return False
        self._take_world(nodes, world_servers)
        return True

    def _unmount_strangers(self) -> None:
        """Undo what the lab mounted since it was built or last reset (over /run/tutor, /etc,
        /proc ...), deepest first; the spare's nodes stay (they are checked when used)."""
        strangers = [point for mount_id, point in ns.mounts() if mount_id not in self.own_mounts
                     and not point.startswith(sandbox.SPARE_DIR + "/")]
        for point in sorted(strangers, key=lambda p: p.count("/"), reverse=True):
            with contextlib.suppress(OSError):
                ns.umount(point)
        sandbox.restore_proc()

    # -- serving ----------------------------------------------------------------------------
    def _serve(self, netns: str, port: int, body: str) -> dict:
        """The `serve` request: answer HTTP on `port` in namespace `netns` until the next reset."""
        path = f"/run/netns/{netns}"
        if not os.path.exists(path):
            return door.refusal(N_("there is no namespace {netns} to serve from"), netns=netns)
        old = self.served.pop((netns, port), None)
        if old:
            old.close()
        with network.in_netns(path):
            sock = _listener("0.0.0.0", port)
        http = servers.HttpServer(sock, default_body=body + "\n")
        http.register(self.sel)
        self.served[(netns, port)] = http
        return {"ok": True}


class WorldError(Exception):
    """The world a reset built is not what it should be (the sentence says how)."""


# Listening sockets per service kind: DNS answers over UDP and TCP, the web over TCP.
_SOCKETS_PER = {"dns": 2, "http": 1}
_SPARE_FDS = 1 + len(world.NODES) + sum(_SOCKETS_PER[s.kind] for n in world.NODES for s in n.services)


def _world_sockets(nodes: dict[str, int]) -> list[socket.socket]:
    """The listening sockets of every world machine's services (as `tutor.lab.world` declares
    them), each made in its machine's namespace (held by descriptor `nodes[name]`)."""
    socks: list[socket.socket] = []
    for node in world.NODES:
        with network.in_netns_fd(nodes[node.name]):
            for service in node.services:
                if service.kind == "dns":
                    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    udp.bind((service.address, service.port))
                    socks += [udp, _listener(service.address, service.port)]
                else:
                    socks.append(_listener(service.address, service.port))
    return socks


def _world_servers(socks: list[socket.socket]) -> list:
    """The world's servers on the sockets of `_world_sockets` (in the same order)."""
    out: list[servers.DnsServer | servers.HttpServer] = []
    rest = list(socks)
    for service in (s for n in world.NODES for s in n.services):
        mine, rest = rest[:_SOCKETS_PER[service.kind]], rest[_SOCKETS_PER[service.kind]:]
        if service.kind == "dns":
            out.append(servers.DnsServer(mine[0], mine[1]))
        else:
            out.append(servers.HttpServer(mine[0]))
    return out


def _listener(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    return sock


def _kill_lab_processes() -> None:
    """SIGKILL every process of the lab but the agent itself (PID 1)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != 1:
            try:
                os.kill(int(entry), signal.SIGKILL)
            except ProcessLookupError:
                pass


def _wait_child(pid: int) -> None:
    """Collect child `pid`, unless the loop's `_reap` (tutor.lab.agent_control) already has."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
