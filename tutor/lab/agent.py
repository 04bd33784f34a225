"""The lab agent: one long-lived process that holds a lab's namespaces and serves its world.

Started by `tutor.lab.client.up()` as `python -m tutor.lab.agent NAME MODE READY_FD`. It binds
its control socket (an abstract Unix socket: no file to leave behind), then builds the lab in
two user namespaces (see `tutor.lab.sandbox` for why two):

- the *outer* one — the invoking user's own in rootless mode, none (real root) in root mode —
  in which it makes the machine read-only and covers its /proc, /sys, /dev, /run, /tmp;
- the *lab's* one, whose root is an unprivileged id on the machine (the invoking user, or
  `LAB_ID` when root starts the lab), with new mount, network, UTS, IPC and PID namespaces.

It then forks: the child is PID 1 of the lab, so when it dies for any reason — SIGKILL included
— the kernel ends every process in the lab and with them every namespace, interface, rule and
mount. The parent only reports the child's PID and leaves.

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

from tutor.lab import network, nsutil as ns, sandbox, servers
from tutor.lab.client import control_address

# Everything the agent will ever import must be imported above, before it enters the lab: the
# lab's root is an unprivileged id on the machine that may not read the interpreter's own files
# (a Python under /root, say), and the lab sees a private /root anyway.

NETLINK_GROUPS = 0x1 | 0x4 | 0x10 | 0x40 | 0x400   # link, neigh, ipv4 addr, ipv4 route, ipv6 route


class Agent:
    """PID 1 of a lab: answers control requests and serves the simulated world."""

    def __init__(self, name: str, mode: str, control: socket.socket, host_pid: int):
        self.name, self.mode, self.control, self.host_pid = name, mode, control, host_pid
        self.started = time.time()
        self.sel = selectors.DefaultSelector()
        self.servers: list = []                       # DnsServer / HttpServer of the world
        self.served: dict[tuple[str, int], servers.HttpServer] = {}   # `serve http NS PORT`
        self.running = True
        # The next reset's network, built while the lab is idle: a lab host namespace (held by
        # this descriptor), its world nodes under SPARE_DIR, and their servers, not yet serving.
        self.spare: tuple[int, list] | None = None
        self.spare_due: float | None = time.monotonic() + 0.05   # when to build it; None: never
        self.builder: tuple[int, socket.socket] | None = None    # (pid, socket) while building

    # -- building ---------------------------------------------------------------------------
    def build(self) -> None:
        network.build_world()
        self.servers = _world_servers(_world_sockets(sandbox.WORLD_DIR))
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
                ns.set_name("lab-spare")
                ns.unshare(ns.CLONE_NEWNET)
                network.build_world(sandbox.SPARE_DIR)
                socks = _world_sockets(sandbox.SPARE_DIR)
                held = [os.open("/proc/self/ns/net", os.O_RDONLY), *(s.fileno() for s in socks)]
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
            _, fds, _, _ = socket.recv_fds(mine, 16, 4)
        except OSError:
            fds = []
        finally:
            mine.close()
            _wait_child(pid)
        if len(fds) != 4:
            for fd in fds:
                os.close(fd)
            print("agent: the spare network could not be built; resets build their own",
                  file=sys.stderr)
            self.spare_due = None
            return
        netns, *socks = fds
        self.spare = (netns, _world_servers([socket.socket(fileno=fd) for fd in socks]))

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
        _kill_lab_processes()
        network.drop_student_namespaces()
        spare, self.spare = self.spare, None
        if spare is None:   # none ready: build this one now
            ns.unshare(ns.CLONE_NEWNET)
            self.build()
        else:
            netns, self.servers = spare
            ns.setns(netns, ns.CLONE_NEWNET)
            os.close(netns)
            network.move_world(sandbox.SPARE_DIR)
            self._serve_world()
        sandbox.reset_etc()
        sandbox.remount_sys()   # sysfs shows the namespace it was mounted in: the new one
        if self.spare_due is not None:
            self.spare_due = time.monotonic()   # right after this reply

    # -- control ----------------------------------------------------------------------------
    def serve_forever(self) -> None:
        self.sel.register(self.control, selectors.EVENT_READ, self._accept)
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
        # No peer check: inside the lab's user namespace every uid but the lab's own reads as
        # the overflow uid, root included. A stranger can stop or reset a lab, never reach the
        # machine through it.
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
        except (OSError, ValueError) as exc:
            try:
                conn.sendall((json.dumps({"ok": False, "error": str(exc)}) + "\n").encode())
            except OSError:
                pass
        finally:
            conn.close()

    def _handle(self, request: dict, fds: list[int]) -> dict:
        op = request.get("op")
        if op == "status":
            return {"ok": True, "pid": self.host_pid, "mode": self.mode, "name": self.name,
                    "started": self.started, "namespaces": network.student_namespaces()}
        if op == "stop":
            self.running = False
            return {"ok": True}
        if op == "reset":
            self.reset()
            return {"ok": True}
        if op == "serve":
            return self._serve(str(request["netns"]), int(request["port"]), str(request.get("body", "")))
        if op == "netlink":
            fds.extend(self._netlink_sockets(request.get("namespaces", [])))
            return {"ok": True, "count": len(fds)}
        return {"ok": False, "error": f"unknown request {op!r}"}

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
            path = f"/run/netns/{name}" if name else "/proc/self/ns/net"
            if name and not os.path.exists(path):
                continue
            with network.in_netns(path):
                s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
            s.bind((0, NETLINK_GROUPS))
            fds.append(os.dup(s.fileno()))
            s.close()
        return fds


def _world_sockets(world_dir: str) -> list[socket.socket]:
    """The internet node's listening sockets (DNS over UDP and TCP, web), in the node held
    under `world_dir`."""
    with network.in_netns(network.node_path("internet", world_dir)):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("8.8.8.8", 53))
        return [udp, _listener("8.8.8.8", 53), _listener("0.0.0.0", 80)]


def _world_servers(socks: list[socket.socket]) -> list:
    """The world's DNS and web servers on the sockets of `_world_sockets`."""
    udp, tcp, web = socks
    return [servers.DnsServer(udp, tcp), servers.HttpServer(web)]


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


LAB_ID = 65534   # "nobody": the lab's root on the machine when root starts the lab


def _enter_namespaces(mode: str) -> list[str]:
    """Everything up to the last unshare; the next fork is PID 1 of the lab.

    Returns the machine's mounts that refused to become read-only and were hidden instead.
    """
    if mode == "rootless":
        if os.geteuid() == 0:
            _become(LAB_ID)   # the lab's root must never be the machine's root
        uid, gid = os.getuid(), os.getgid()
        ns.unshare(ns.CLONE_NEWUSER)
        _write_id_maps("/proc", "self", uid, gid)
        owner = 0
    else:
        owner = LAB_ID
    ns.unshare(ns.CLONE_NEWNS)
    procfd, hidden = sandbox.build_outer(owner)
    try:
        if mode == "rootless":
            ns.unshare(ns.CLONE_NEWUSER)
            _write_id_maps(procfd, "self", 0, 0)
        else:
            _enter_userns_as(LAB_ID, procfd)
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
    """Root mode: a new user namespace whose root is `ident` on the machine.

    Only a process still outside it may write a mapping to an id other than its own, so a
    helper forked before the unshare writes ours.
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
        ns.unshare(ns.CLONE_NEWUSER)
        os.write(go_w, b"x")
    finally:
        os.close(go_w)
        _, status = os.waitpid(helper, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise OSError(1, "could not map the lab's root to an unprivileged id")
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def _report(fd: int, message: str) -> None:
    try:
        os.write(fd, (message + "\n").encode())
    except OSError:
        pass


def main(argv: list[str]) -> int:
    """Entry point: `python -m tutor.lab.agent NAME MODE READY_FD`."""
    name, mode, ready = argv[0], argv[1], int(argv[2])
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        control.bind(control_address(name))
    except OSError:
        _report(ready, f"error the lab {name!r} is already running")
        return 3
    control.listen(16)
    started_by_root = os.geteuid() == 0
    try:
        hidden = _enter_namespaces(mode)
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
    if started_by_root:
        # Lab processes share our uid; keep them out of our /proc entries and descriptors.
        ns.set_dumpable(False)
    return _run_child(name, mode, control, ready, host_pid, hidden)


def _run_child(name: str, mode: str, control: socket.socket, ready: int, host_pid: int,
               hidden: list[str]) -> int:
    try:
        sandbox.build_inner(sys.executable)
        agent = Agent(name, mode, control, host_pid)
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
