"""The lab agent at work: its loop, its door, and the requests it answers.

`Agent` is PID 1 of a lab once `tutor.lab.agent` has set the lab up. It serves the world it
holds (`tutor.lab.agent_world`) and answers the owner at its control socket (the owner's end is
`tutor.lab.control`; `tutor.lab.door` says how each end checks the other).

Control protocol: one JSON object per line, answered by one JSON line (see `Agent._handle`).
"""

from __future__ import annotations

import array
import contextlib
import json
import os
import selectors
import socket
import sys
import time

from tutor.lab import door, network, nsutil as ns, rtnl, servers
from tutor.lab.agent_world import AgentWorld, WorldError
from tutor.safefile import N_

NETLINK_GROUPS = 0x1 | 0x4 | 0x10 | 0x40 | 0x400   # link, neigh, ipv4 addr, ipv4 route, ipv6 route


class Agent(AgentWorld):
    """PID 1 of a lab: answers control requests and serves the simulated world."""

    def __init__(self, name: str, mode: str, control: socket.socket, host_pid: int,
                 tether: int = -1):
        self.name, self.mode, self.control, self.host_pid = name, mode, control, host_pid
        self.tether = tether   # reads end-of-file when the process the lab is tied to dies
        self.owner_is_root_here = False   # the owner's uid maps to the lab's root (a user's lab)
        self.cgroups: list[str] = []      # the lab's cgroup folders on the machine (root's labs)
        self._pidns = ns.own_ns_inode("pid")   # the lab's PID namespace
        self.started = time.time()
        self.running = True
        super().__init__()
        if tether >= 0:
            # A throwaway lab (selftest's) builds no spare network until its first reset: a
            # selftest of one lesson never resets, and the spare's build would take a core
            # from the steps it times (issue 15).
            self.spare_due = float("inf")

    # -- control ----------------------------------------------------------------------------
    def serve_forever(self) -> None:
        """Answer the door and serve the world until stopped (`stop`, SIGTERM, the tether)."""
        self._watch_door()
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

    def _watch_door(self) -> None:
        """Listen at the control socket, and to the tether if the lab has one."""
        self.sel.register(self.control, selectors.EVENT_READ, self._accept)
        if self.tether >= 0:
            self.sel.register(self.tether, selectors.EVENT_READ, self._tether_moved)

    def _tether_moved(self, mask: int) -> None:
        """The process this lab is tied to has died (or wrote, which it never does): stop."""
        self.running = False

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
                conn.sendall((json.dumps(door.refusal(N_("this lab answers only its owner"))) + "\n").encode())
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
                conn.sendall((json.dumps(door.refusal(N_("bad request ({why})"), why=exc)) + "\n").encode())
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
                return door.refusal(N_("the reset could not rebuild the lab's world ({why}); stop the lab "
                                       "(tutor lab down) and start it again"), why=exc)
            return {"ok": True}
        if op == "serve":
            port, body = request.get("port"), request.get("body", "")
            if type(port) is not int or not 0 < port < 65536 or not isinstance(body, str) \
                    or len(body) > 4096:
                raise ValueError("serve needs a port from 1 to 65535 and a short body")
            return self._serve(_namespace_name(request.get("netns")), port, body)
        if op == "look":
            names, more, ids = request.get("namespaces", []), request.get("more", 0), request.get("ids", True)
            if not isinstance(names, list) or type(more) is not int or not 0 <= len(names) + more <= 200 \
                    or type(ids) is not bool:
                raise ValueError("look needs a list of at most 200 namespace names")
            return self._look([n if n == "" else _namespace_name(n) for n in names], fds, more, ids)
        if op == "watch":
            fds.append(ns.watch_entries("/run/netns"))
            return {"ok": True}
        return door.refusal(N_("unknown request {op}"), op=repr(str(op)[:40]))

    @staticmethod
    def _netlink_socket(name: str) -> int | None:
        """A netlink socket in namespace `name` ("" the lab host), subscribed to its link,
        address, route and neighbour events, to hand over with SCM_RIGHTS; None when there is
        no such namespace, OSError when the file there is none."""
        path = f"/run/netns/{name}" if name else None
        if path and not os.path.exists(path):
            return None
        with network.in_netns(path):
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        with sock:
            sock.bind((0, NETLINK_GROUPS))
            return os.dup(sock.fileno())

    def _look(self, namespaces: list[str], fds: list[int], more: int = 0, ids: bool = True) -> dict:
        """For a reading of the lab (the checks' `tutor.checks.observe`, the watcher's
        `tutor.lab.watchfds`): every namespace's name, and for each of `namespaces` that can be
        entered a netlink socket subscribed to its changes (in `fds`, in the order of `read`)
        and, with `ids`, the ids it gives the lab's other namespaces, by name (`ip netns
        list-id`; the watcher needs none). Ids of the world's machines are left out, as `ip`
        leaves them nameless. `more`: then up to that many of the listed namespaces not named,
        in the order listed (a reading of the whole lab takes one request, not one to learn the
        names and one to read them); `tried` says which names were tried."""
        listed = network.student_namespaces()
        if more:
            asked = set(namespaces)
            namespaces = namespaces + [n for n in listed if n not in asked][:more]
        opened = []
        for name in namespaces:
            try:
                fd = self._netlink_socket(name)
            except OSError:   # no namespace (a file a student made there): left out of `read`
                continue
            if fd is not None:
                fds.append(fd)
                opened.append(name)
        nsids = []
        for name, fd in zip(opened, fds, strict=True) if ids else ():
            others = dict.fromkeys(o for o in ["", *opened, *listed] if o != name)
            with socket.socket(fileno=os.dup(fd)) as sock:
                sock.settimeout(2.0)
                named = rtnl.nsids(sock, self._candidates(others))
            nsids.append([[i, n] for i, n in sorted(named.items()) if not n.startswith("world:")])
        return {"ok": True, "namespaces": listed, "tried": namespaces, "read": opened, "nsids": nsids}

    def _candidates(self, names: dict[str, None]):
        """(name, descriptor) for `rtnl.nsids`, the likeliest first: the lab host ("", every
        cable of a lesson ends there), the world's machines (held open already), then `names`.
        Each is opened only when it is tried and closed once the next is asked for: a reading
        of a thousand namespaces holds a few descriptors, not a thousand. A name that is no
        namespace (a file a student made there) is passed over."""
        if "" in names:
            yield from self._opened("")
        yield from ((f"world:{n}", f) for n, f in self.world.items())
        for name in names:
            if name:
                yield from self._opened(name)

    @staticmethod
    def _opened(name: str):
        try:
            fd = network.open_netns(f"/run/netns/{name}" if name else None)
        except OSError:
            return
        try:
            yield name, fd
        finally:
            os.close(fd)


def _namespace_name(name: object) -> str:
    """`name` if it can be a namespace under /run/netns (a file name there), else ValueError."""
    if not isinstance(name, str) or not name or len(name) > 255 or "/" in name \
            or name in (".", "..") or "\0" in name:
        raise ValueError(f"{str(name)[:40]!r} is not a namespace name")
    return name


def _reap(*_: object) -> None:
    """PID 1 adopts every orphan of the lab; collect them so none stays a zombie."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass
