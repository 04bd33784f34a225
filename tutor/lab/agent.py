"""The lab agent: one long-lived process that holds a lab's namespaces and serves its world.

Started by `tutor.lab.client.start()` (see `main` for its arguments). It binds its control
socket in the owner's private folder (see `tutor.lab.door`), then builds the lab in two user
namespaces (see `tutor.lab.sandbox` for why two):

- the *outer* one — the invoking user's own in rootless mode, none (real root) in root mode —
  in which it makes the machine read-only and covers its /proc, /sys, /dev, /run, /tmp;
- the *lab's* one, whose root is an unprivileged id on the machine (the invoking user, or
  an id of its own from `door.LAB_UIDS` when root starts the lab), with new mount, network,
  UTS, IPC and PID namespaces.

It then forks: the child is PID 1 of the lab, so when it dies for any reason — SIGKILL included
— the kernel ends every process in the lab and with them every namespace, interface, rule and
mount. The parent only reports the child's PID and leaves. The child is not dumpable, so
nothing inside the lab can trace it, open its /proc files or take its descriptors.

Control protocol: one JSON object per line, answered by one JSON line (see `_handle`).
"""

from __future__ import annotations

import array
import contextlib
import encodings.idna  # noqa: F401  (dnslib encodes CNAME targets with it, lazily)
import json
import os
import selectors
import signal
import socket
import sys
import time

from tutor.lab import door, limits, network, nsutil as ns, sandbox, servers, world

# Everything the agent will ever import must be imported above, before it enters the lab: the
# lab's root is an unprivileged id on the machine that may not read the interpreter's own files
# (a Python under /root, say), and the lab sees a private /root anyway.

NETLINK_GROUPS = 0x1 | 0x4 | 0x10 | 0x40 | 0x400   # link, neigh, ipv4 addr, ipv4 route, ipv6 route


class Agent:
    """PID 1 of a lab: answers control requests and serves the simulated world."""

    def __init__(self, name: str, mode: str, control: socket.socket, host_pid: int,
                 tether: int = -1):
        self.name, self.mode, self.control, self.host_pid = name, mode, control, host_pid
        self.tether = tether   # reads end-of-file when the process the lab is tied to dies
        self.owner_is_root_here = False   # the owner's uid maps to the lab's root (a user's lab)
        self.cgroups: list[str] = []      # the lab's cgroup folders on the machine (root's labs)
        self._pidns = ns.own_ns_inode("pid")   # the lab's PID namespace
        self.started = time.time()
        self.sel = selectors.DefaultSelector()
        self.servers: list = []                       # DnsServer / HttpServer of the world
        self.world: dict[str, int] = {}               # each world node's namespace, held
        self.own_mounts: set[int] = set()             # mount ids as the lab was built or reset
        self.served: dict[tuple[str, int], servers.HttpServer] = {}   # `serve http NS PORT`
        self.running = True
        # The next reset's network, built while the lab is idle: a lab host namespace (held by
        # this descriptor), its world nodes under SPARE_DIR (and held), and their servers, not
        # yet serving.
        self.spare: tuple[int, dict[str, int], list] | None = None
        self.spare_due: float | None = time.monotonic() + 0.05   # when to build it; None: never
        self.builder: tuple[int, socket.socket] | None = None    # (pid, socket) while building

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
        self.spare = (netns, dict(zip(world.NODE_NAMES, fds[1:1 + len(world.NODES)])),
                      _world_servers([socket.socket(fileno=fd) for fd in socks]))

    def _drop_builder(self, kill: bool) -> tuple[int, socket.socket]:
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

    def reset(self) -> None:
        """Back to a fresh lab: new network namespaces, a fresh /etc, no student processes."""
        if self.builder is not None:   # too soon: its half-built spare goes, a new one is built
            self._drop_builder(kill=True)
        for server in self.servers + list(self.served.values()):
            server.close()
        self.served.clear()
        self.servers.clear()
        self.sel.close()
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.control, selectors.EVENT_READ, self._accept)
        self._watch_tether()
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

    # -- control ----------------------------------------------------------------------------
    def serve_forever(self) -> None:
        self.sel.register(self.control, selectors.EVENT_READ, self._accept)
        self._watch_tether()
        while self.running:
            wait = 1.0 if self.spare_due is None else max(0.0, min(1.0, self.spare_due - time.monotonic()))
            for key, mask in self.sel.select(timeout=wait):
                try:
                    servers.dispatch(key, mask)
                except Exception as exc:  # one bad client must never take the lab down
                    print(f"agent: {exc!r}", file=sys.stderr)
            for server in self.servers + list(self.served.values()):
                server.tick()
            _reap()   # here, not in a SIGCHLD handler: it would steal subprocess.run's child
            if self.spare_due is not None and time.monotonic() >= self.spare_due and self.running:
                self._try_prepare_spare()

    def _watch_tether(self) -> None:
        if self.tether >= 0:
            self.sel.register(self.tether, selectors.EVENT_READ, self._tether_moved)

    def _tether_moved(self, mask: int) -> None:
        """The process this lab is tied to has died (or wrote, which it never does): stop."""
        self.running = False

    def _try_prepare_spare(self) -> None:
        """Build the spare network when the lab has been quiet a moment, or right after a reset."""
        self.spare_due = float("inf")   # until a reset uses the spare
        try:
            self.prepare_spare()
        except OSError as exc:   # resets then build their network themselves, as before
            print(f"agent: no spare network: {exc}", file=sys.stderr)
            self.spare_due = None

    def _accept(self, mask: int) -> None:
        try:
            conn, _ = self.control.accept()
        except BlockingIOError:
            return
        conn.settimeout(5)
        # Only the owner's door leads here (a 0700 folder, see tutor.lab.door). Still: a peer
        # inside the lab (its PID reads as non-zero in the lab's PID namespace) is refused,
        # and so, when a user (not root) owns the lab, is any uid but theirs (0 in here; every
        # unmapped uid reads as the overflow uid, root's included, so root's labs cannot ask).
        pid, uid = door.peer(conn)
        if pid != 0 or (self.owner_is_root_here and uid != 0):
            with contextlib.suppress(OSError):
                conn.sendall(b'{"ok": false, "error": "this lab answers only its owner"}\n')
            conn.close()
            return
        try:
            line = conn.makefile("rb").readline(65536)
            request = json.loads(line or b"{}")
            fds: list[int] = []
            reply = self._handle(request, fds)
            data = (json.dumps(reply) + "\n").encode()
            if fds:
                conn.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
                for fd in fds:
                    os.close(fd)
            else:
                conn.sendall(data)
        except (OSError, ValueError, TypeError, KeyError, RecursionError) as exc:
            try:
                conn.sendall((json.dumps({"ok": False, "error": f"bad request ({exc})"}) + "\n").encode())
            except OSError:
                pass
        finally:
            conn.close()

    def _handle(self, request: dict, fds: list[int]) -> dict:
        """One request: {"op": ..., args}. Arguments are checked here; none is ever a path."""
        if not isinstance(request, dict):
            raise ValueError("a request is a JSON object")
        op = request.get("op")
        if op == "status":
            return {"ok": True, "pid": self.host_pid, "mode": self.mode, "name": self.name,
                    "started": self.started, "namespaces": network.student_namespaces(),
                    "netns": ns.own_ns_inode("net"), "pidns": self._pidns,
                    "cgroups": self.cgroups}
        if op == "enter":
            fds.extend(ns.open_own_ns(kind) for kind in door.NAMESPACES)
            return {"ok": True, "cgroups": self.cgroups}
        if op == "stop":
            self.running = False
            return {"ok": True}
        if op == "reset":
            try:
                self.reset()
            except (WorldError, OSError) as exc:
                return {"ok": False, "error": f"the reset could not rebuild the lab's world ({exc}); "
                                              "stop the lab (tutor lab down) and start it again"}
            return {"ok": True}
        if op == "serve":
            port, body = request.get("port"), request.get("body", "")
            if type(port) is not int or not 0 < port < 65536 or not isinstance(body, str) \
                    or len(body) > 4096:
                raise ValueError("serve needs a port from 1 to 65535 and a short body")
            return self._serve(_namespace_name(request.get("netns")), port, body)
        if op == "netlink":
            names = request.get("namespaces", [])
            if not isinstance(names, list) or len(names) > 250:
                raise ValueError("netlink needs a list of at most 250 namespace names")
            fds.extend(self._netlink_sockets([n if n == "" else _namespace_name(n) for n in names]))
            return {"ok": True, "count": len(fds)}
        if op == "watch":
            fds.append(ns.watch_entries("/run/netns"))
            return {"ok": True}
        return {"ok": False, "error": f"unknown request {str(op)[:40]!r}"}

    def _serve(self, netns: str, port: int, body: str) -> dict:
        path = f"/run/netns/{netns}"
        if not os.path.exists(path):
            return {"ok": False, "error": f"there is no namespace {netns} to serve from"}
        old = self.served.pop((netns, port), None)
        if old:
            old.close()
        with network.in_netns(path):
            sock = _listener("0.0.0.0", port)
        http = servers.HttpServer(sock, default_body=body + "\n")
        http.register(self.sel)
        self.served[(netns, port)] = http
        return {"ok": True}

    def _netlink_sockets(self, namespaces: list[str]) -> list[int]:
        """Netlink sockets subscribed to link/address/route/neighbour events, one per namespace
        ("" is the lab host), handed to the caller over SCM_RIGHTS."""
        fds = []
        for name in namespaces:
            path = f"/run/netns/{name}" if name else None
            if path and not os.path.exists(path):
                continue
            with network.in_netns(path):
                s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
            s.bind((0, NETLINK_GROUPS))
            fds.append(os.dup(s.fileno()))
            s.close()
        return fds


def _namespace_name(name: object) -> str:
    """`name` if it can be a namespace under /run/netns (a file name there), else ValueError."""
    if not isinstance(name, str) or not name or len(name) > 255 or "/" in name \
            or name in (".", "..") or "\0" in name:
        raise ValueError(f"{str(name)[:40]!r} is not a namespace name")
    return name


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
    out, rest = [], list(socks)
    for service in (s for n in world.NODES for s in n.services):
        if service.kind == "dns":
            out.append(servers.DnsServer(rest.pop(0), rest.pop(0)))
        else:
            out.append(servers.HttpServer(rest.pop(0)))
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
    """Collect child `pid`, unless the loop's `_reap` already has."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _reap(*_: object) -> None:
    """PID 1 adopts every orphan of the lab; collect them so none stays a zombie."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _enter_namespaces(mode: str, lab_uid: int, processes: int) -> list[str]:
    """Everything up to the last unshare; the next fork is PID 1 of the lab.

    `lab_uid` is the lab's root on the machine when root starts the lab (its own leased id,
    see tutor.lab.door); it also owns the lab's user namespace, so the kernel's per-user
    counts (processes, inotify instances ...) are the lab's alone. `processes` caps the lab
    (see tutor.lab.limits). Returns the machine's mounts that refused to become read-only and
    were hidden instead.
    """
    if mode == "rootless":
        if os.geteuid() == 0:
            _become(lab_uid)   # the lab's root must never be the machine's root
        uid, gid = os.getuid(), os.getgid()
        ns.unshare(ns.CLONE_NEWUSER)
        _write_id_maps("/proc", "self", uid, gid)
        owner = 0
    else:
        owner = lab_uid
    ns.unshare(ns.CLONE_NEWNS)
    procfd, hidden = sandbox.build_outer(owner)
    try:
        limits.cap_processes(processes)
        if mode == "rootless":
            ns.unshare(ns.CLONE_NEWUSER)
            _write_id_maps(procfd, "self", 0, 0)
        else:
            _enter_userns_as(lab_uid, procfd)
    finally:
        os.close(procfd)   # the machine's /proc: nothing of the lab may inherit it
    ns.unshare(ns.CLONE_NEWNS | ns.CLONE_NEWNET | ns.CLONE_NEWUTS | ns.CLONE_NEWIPC
               | ns.CLONE_NEWPID)
    return hidden


def _become(ident: int) -> None:
    """Drop from root to `ident` for good (groups too), staying able to map ourselves."""
    os.setgroups([])
    os.setresgid(ident, ident, ident)
    os.setresuid(ident, ident, ident)
    ns.set_dumpable(True)   # the kernel cleared it; /proc/self/uid_map must stay ours to write


def _write_id_maps(proc: str | int, pid: str, uid: int, gid: int) -> None:
    """Map root of `pid`'s user namespace to `uid`/`gid` outside it; no setgroups inside."""
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        if isinstance(proc, int):
            fd = os.open(f"{pid}/{name}", os.O_WRONLY, dir_fd=proc)
        else:
            fd = os.open(f"{proc}/{pid}/{name}", os.O_WRONLY)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)


def _enter_userns_as(ident: int, procfd: int) -> None:
    """Root mode: a new user namespace whose root is `ident` on the machine, owned by `ident`.

    Only a process still outside it may write a mapping to an id other than its own, so a
    helper forked before the unshare writes ours. The namespace's owner is the creator's
    effective uid: we switch to `ident` for the unshare, keeping our capabilities
    (SECBIT_NO_SETUID_FIXUP), which a machine that forbids unprivileged user namespaces needs.
    """
    os.setgroups([])
    go_r, go_w = os.pipe()
    helper = os.fork()
    if helper == 0:
        code = 1
        try:
            os.close(go_w)
            if os.read(go_r, 1) == b"x":
                _write_id_maps(procfd, str(os.getppid()), ident, ident)
                code = 0
        finally:
            os._exit(code)
    os.close(go_r)
    try:
        ns.set_securebits(ns.SECBIT_NO_SETUID_FIXUP)
        os.setresuid(0, ident, 0)
        ns.unshare(ns.CLONE_NEWUSER)
        os.write(go_w, b"x")
    finally:
        os.close(go_w)
        _, status = os.waitpid(helper, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise OSError(1, "could not map the lab's root to an unprivileged id")
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    ns.set_securebits(0)


def _report(fd: int, message: str) -> None:
    try:
        os.write(fd, (message + "\n").encode())
    except OSError:
        pass


def main(argv: list[str]) -> int:
    """Entry point: `python -m tutor.lab.agent NAME MODE READY_FD LOCK_FD TETHER_FD`.

    LOCK_FD is the socket folder's start lock, held until the lab listens; TETHER_FD (-1 for
    none) the pipe whose end-of-file stops the lab (see `tutor.lab.client.start`)."""
    name, mode, ready, lock, tether = argv[0], argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    caps = limits.Limits.decode(argv[5]) if len(argv) > 5 else limits.configured()
    for fd in (ready, lock, tether):   # passed to us; nothing we start may inherit them
        if fd >= 0:
            os.set_inheritable(fd, False)
    where = door.checked_folder()
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        if where is None:
            raise OSError("no socket folder")
        control.bind(door.socket_path(name, where))
    except OSError:
        _report(ready, f"error the lab {name!r} is already running")
        return 3
    finally:
        os.umask(old_umask)
    lab_uid = owner = os.getuid()
    cgroups: list[str] = []
    if os.geteuid() == 0:
        lab_uid, _lease = door.lease_uid(where)   # held for the lab's life (never closed)
        cgroups = limits.make_cgroups(name, caps)
    try:
        hidden = _enter_namespaces(mode, lab_uid, caps.processes)
    except OSError as exc:
        _report(ready, f"error cannot create the lab's namespaces in {mode} mode "
                       f"({exc.strerror or exc})")
        return 4
    pid_r, pid_w = os.pipe()
    pid = os.fork()
    if pid:
        os.write(pid_w, f"{pid}\n".encode())
        _report(ready, f"pid {pid}")
        return 0
    os.close(pid_w)
    host_pid = int(os.read(pid_r, 32))
    os.close(pid_r)
    # Out of reach from inside: nothing in the lab may open our /proc files, trace us or take
    # our descriptors (pidfd_getfd), whatever its uid. The kernel records the listener (this
    # process) for SO_PEERCRED when it listens, so clients learn our real PID from the kernel.
    ns.set_dumpable(False)
    control.listen(16)
    os.close(lock)
    return _run_child(name, mode, control, ready, host_pid, hidden, tether, lab_uid == owner, cgroups)


def _run_child(name: str, mode: str, control: socket.socket, ready: int, host_pid: int,
               hidden: list[str], tether: int, owner_is_root_here: bool, cgroups: list[str]) -> int:
    try:
        sandbox.build_inner(sys.executable)
        ns.hold_proc()
        agent = Agent(name, mode, control, host_pid, tether)
        agent.owner_is_root_here = owner_is_root_here
        agent.cgroups = cgroups
        agent.own_mounts = ns.mount_ids()
        agent.build()
    except Exception as exc:  # report set-up failures in one line to whoever started us
        _report(ready, f"error setting up the lab failed: {exc}")
        os._exit(5)
    control.setblocking(False)
    signal.signal(signal.SIGTERM, lambda *_: setattr(agent, "running", False))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _report(ready, "ready" + (f" hidden {','.join(hidden)}" if hidden else ""))
    os.close(ready)
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    agent.serve_forever()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
