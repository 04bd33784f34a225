"""The lab agent: one long-lived process that holds a lab's namespaces and serves its world.

Started by `tutor.lab.lifecycle.start()` (see `main` for its arguments). It binds its control
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

This module sets the lab up. The child then runs an `Agent` (`tutor.lab.agent_control`: its
loop and the requests it answers, one JSON object per line), which holds and resets the world
(`tutor.lab.agent_world`).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import sys

from tutor import collector
from tutor.lab import door, limits, nsutil as ns, sandbox
from tutor.lab.agent_control import Agent
from tutor.safefile import N_

# Everything the agent will ever import must be imported above, before it enters the lab: the
# lab's root is an unprivileged id on the machine that may not read the interpreter's own files
# (a Python under /root, say), and the lab sees a private /root anyway.


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


def _refuse(fd: int, template: str, **params: object) -> None:
    """Say why the lab cannot start: `error` and the refusal's JSON (`door.refusal`)."""
    _report(fd, "error " + json.dumps(door.refusal(template, **params)))


def _report(fd: int, message: str) -> None:
    try:
        os.write(fd, (message + "\n").encode())
    except OSError:
        pass


def main(argv: list[str]) -> int:
    """Entry point: `python -m tutor.lab.agent NAME MODE READY_FD LOCK_FD TETHER_FD`.

    LOCK_FD is the socket folder's start lock, held until the lab listens; TETHER_FD (-1 for
    none) the pipe whose end-of-file stops the lab (see `tutor.lab.lifecycle.start`)."""
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
        _refuse(ready, N_("the lab {name} is already running"), name=repr(name))
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
        # ENOSPC from unshare(CLONE_NEWUSER) means no user namespace may be made (the count
        # in user.max_user_namespaces is used up, or 0), not a full disk
        why = ("no more user namespaces may be made here (user.max_user_namespaces)"
               if exc.errno == errno.ENOSPC else exc.strerror or str(exc))
        _refuse(ready, N_("cannot create the lab's namespaces in {mode} mode ({why})"), mode=mode, why=why)
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
        _refuse(ready, N_("setting up the lab failed: {why}"), why=exc)
        os._exit(5)
    control.setblocking(False)
    signal.signal(signal.SIGTERM, lambda *_: setattr(agent, "running", False))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _report(ready, "ready" + (f" hidden {','.join(hidden)}" if hidden else ""))
    os.close(ready)
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    collector.started()   # forked from a starting `tutor` (selftest's lab): its start is over too
    agent.serve_forever()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
