"""Talking to a running lab's agent: one checked connection, one request, its answer.

The owner's end of the control socket (`tutor.lab.door` says where it is and how each end
checks the other; `tutor.lab.agent_control` is the agent's end). `status` and `identity` say
which lab answers; `request` and `request_fds` carry every other request. The lab's errors live
here too: `LabError` (re-exported from door: the one lab error) and its kinds `NotRunning`,
`Busy`. Nothing in this module imports more than the standard library, so `tutor verify` and
`tutor lab status` stay fast.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
from collections import namedtuple

from tutor.i18n import Msg
from tutor.lab import door
from tutor.lab.door import LabError  # re-exported: the one lab error


class LabInfo(namedtuple("LabInfo", "name pid mode namespaces")):
    """What a running agent says about itself: name, pid, mode, namespaces (a tuple).

    `pid` is what the kernel says of the socket's listener, never what the reply claims.
    (A named tuple, not a dataclass: the lab agent imports this module, and `dataclasses`
    would cost every lab ~8 ms to start.)"""
    __slots__ = ()


def lab_name() -> str:
    """The lab this process talks to: $TUTOR_LAB, or `default`."""
    return os.environ.get("TUTOR_LAB") or "default"


class NotRunning(LabError):
    """No lab of that name answers."""


class Busy(LabError):
    """The lab is there but did not answer in time (a loaded machine, a long reset)."""


def not_running(name: str | None = None) -> NotRunning:
    """The one sentence for a lab that does not answer."""
    return NotRunning(Msg("the lab {name!r} is not running (start it with "
                          "`tutor lab up`, or open the course with `tutor`)", name=name or lab_name()))


def request(op: str, name: str | None = None, timeout: float = 30.0, **args) -> dict:
    """Send one control request to the agent and return its reply; LabError if none runs."""
    reply, _ = _request(op, name, timeout, 0, **args)
    return reply


def request_fds(op: str, count: int, name: str | None = None, **args) -> tuple[dict, list[int]]:
    """Like `request`, for replies that carry file descriptors (netlink sockets)."""
    return _request(op, name, 10.0, count, **args)


def _connect(name: str, timeout: float) -> tuple[socket.socket, int]:
    """A connection to lab `name`'s agent and the agent's PID, both checked (see door)."""
    where = door.checked_folder()
    if where is None:
        raise not_running(name)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    try:
        sock.connect(door.socket_path(name, where))
    except (ConnectionRefusedError, FileNotFoundError):
        sock.close()
        raise not_running(name) from None
    except OSError as exc:
        sock.close()
        raise LabError(Msg("cannot reach the lab {name!r} ({why})", name=name, why=exc.strerror or exc)) from None
    pid, uid = door.peer(sock)
    if not door.is_agent_uid(uid) or pid <= 0:
        sock.close()
        raise LabError(Msg("the lab {name!r} is answered by a process of uid {uid}, not by a lab of yours; "
                           "stop it and remove {path}", name=name, uid=uid, path=door.socket_path(name, where)))
    return sock, pid


def _request(op: str, name: str | None, timeout: float, max_fds: int, **args) -> tuple[dict, list[int]]:
    name = name or lab_name()
    sock, pid = _connect(name, timeout)
    fds: list[int] = []
    try:
        sock.sendall((json.dumps({"op": op, **args}) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            if max_fds and not fds:
                chunk, anc, flags, _ = sock.recvmsg(65536, socket.CMSG_SPACE(4 * max_fds),
                                                    socket.MSG_CMSG_CLOEXEC)
                for level, kind, payload in anc:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds += [int.from_bytes(payload[i:i + 4], sys.byteorder)
                                for i in range(0, len(payload) - len(payload) % 4, 4)]
                if flags & socket.MSG_CTRUNC:   # the kernel had no room for them all
                    raise OSError(errno.EMFILE, "no free file descriptor for the lab's answer")
            else:
                chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            if len(data) > 1 << 24:
                raise OSError("the answer is too long")
    except (ConnectionResetError, BrokenPipeError):
        close_all(fds)
        # The agent closed without a word: it was exiting (it answers refusals in words).
        raise not_running(name) from None
    except TimeoutError:
        close_all(fds)
        raise Busy(Msg("the lab {name!r} did not answer within {seconds} s", name=name,
                       seconds=f"{timeout:g}")) from None
    except OSError as exc:
        close_all(fds)
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            raise   # ours, not the lab's: the caller may follow fewer namespaces
        raise LabError(Msg("the lab {name!r} did not answer ({why})", name=name, why=exc)) from None
    finally:
        sock.close()
    if not data:   # closed without a word: it died, or is going (it answers refusals in words)
        close_all(fds)
        raise not_running(name)
    try:
        reply = json.loads(data)
        if not isinstance(reply, dict):
            raise ValueError
    except (ValueError, RecursionError):
        close_all(fds)
        raise LabError(Msg("the lab {name!r} stopped while answering", name=name)) from None
    if not reply.get("ok"):
        close_all(fds)
        raise LabError(door.heard(reply))
    reply["agent_pid"] = pid
    return reply, fds


def close_all(fds: list[int]) -> None:
    """Close every descriptor in `fds` (those a reply carried, when it is refused or unused)."""
    for fd in fds:
        os.close(fd)


def status(name: str | None = None) -> LabInfo | None:
    """The running lab, or None."""
    found = status_reply(name)
    return found[0] if found else None


def status_reply(name: str | None = None) -> tuple[LabInfo, dict] | None:
    """The running lab and the agent's whole answer (its PID namespace's inode at "pidns"), or
    None."""
    name = name or lab_name()
    try:
        reply = request("status", name, timeout=5)
    except NotRunning:
        return None
    try:
        if reply["pid"] != reply["agent_pid"]:
            raise LabError(Msg("the lab {name!r} names another process as its own (pid {pid}, not {agent}); "
                               "stop it", name=name, pid=reply["pid"], agent=reply["agent_pid"]))
        return LabInfo(str(reply["name"]), reply["agent_pid"], str(reply["mode"]),
                       tuple(str(n) for n in reply["namespaces"])), reply
    except (KeyError, TypeError):
        raise LabError(Msg("the lab {name!r} answered nonsense; stop it", name=name)) from None


def identity(name: str | None = None) -> tuple[int, int] | None:
    """(agent PID, inode of the lab host's network namespace) of the running lab, or None: it
    changes when the lab is restarted or reset (a reset gives the lab host a new namespace)."""
    try:
        reply = request("status", name, timeout=5)
        return reply["agent_pid"], int(reply["netns"])
    except (LabError, KeyError, TypeError, ValueError):
        return None


def serve(netns: str, port: int, body: str, name: str | None = None) -> None:
    """Ask the agent to answer HTTP on `port` in namespace `netns`."""
    request("serve", name, netns=netns, port=port, body=body)
