"""The one door to the lab: start, find, stop and reset the agent, and run commands inside it.

Every process that runs in the lab is started here (`command` builds its argv, `run` and
`popen` start it), through the namespaces the agent hands over at its door (`tutor.lab.door`
says where the door is and how each end checks the other). Nothing in this module imports more
than the standard library, so `tutor verify` and `tutor shell` stay fast.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shlex
import signal
import socket
import sys
import time
from collections import namedtuple

from tutor.lab import door, limits
from tutor.lab.door import LabError  # re-exported: the one lab error

TYPE_CHECKING = False
if TYPE_CHECKING:   # imported where a process starts: `tutor lab status` needs none
    import subprocess

WORLD_DIR = "/run/tutor/world"
LAB_PATH = "/run/tutor/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
START_TIMEOUT = 10.0


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
    return NotRunning(f"the lab {name or lab_name()!r} is not running (start it with "
                      "`tutor lab up`, or open the course with `tutor`)")


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
        raise LabError(f"cannot reach the lab {name!r} ({exc.strerror or exc})") from None
    pid, uid = door.peer(sock)
    if not door.is_agent_uid(uid) or pid <= 0:
        sock.close()
        raise LabError(f"the lab {name!r} is answered by a process of uid {uid}, not by a lab "
                       f"of yours; stop it and remove {door.socket_path(name, where)}")
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
        _close_all(fds)
        # The agent closed without a word: it was exiting (it answers refusals in words).
        raise not_running(name) from None
    except TimeoutError:
        _close_all(fds)
        raise Busy(f"the lab {name!r} did not answer within {timeout:g} s") from None
    except OSError as exc:
        _close_all(fds)
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            raise   # ours, not the lab's: the caller may follow fewer namespaces
        raise LabError(f"the lab {name!r} did not answer ({exc})") from None
    finally:
        sock.close()
    if not data:   # closed without a word: it died, or is going (it answers refusals in words)
        _close_all(fds)
        raise not_running(name)
    try:
        reply = json.loads(data)
        if not isinstance(reply, dict):
            raise ValueError
    except (ValueError, RecursionError):
        _close_all(fds)
        raise LabError(f"the lab {name!r} stopped while answering") from None
    if not reply.get("ok"):
        _close_all(fds)
        raise LabError(str(reply.get("error", "the lab refused the request")))
    reply["agent_pid"] = pid
    return reply, fds


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


def status(name: str | None = None) -> LabInfo | None:
    """The running lab, or None."""
    name = name or lab_name()
    try:
        reply = request("status", name, timeout=5)
    except NotRunning:
        return None
    try:
        if reply["pid"] != reply["agent_pid"]:
            raise LabError(f"the lab {name!r} names another process as its own "
                           f"(pid {reply['pid']}, not {reply['agent_pid']}); stop it")
        return LabInfo(str(reply["name"]), reply["agent_pid"], str(reply["mode"]),
                       tuple(str(n) for n in reply["namespaces"]))
    except (KeyError, TypeError):
        raise LabError(f"the lab {name!r} answered nonsense; stop it") from None


def identity(name: str | None = None) -> tuple[int, int] | None:
    """(agent PID, inode of the lab host's network namespace) of the running lab, or None: it
    changes when the lab is restarted or reset (a reset gives the lab host a new namespace)."""
    try:
        reply = request("status", name, timeout=5)
        return reply["agent_pid"], int(reply["netns"])
    except (LabError, KeyError, TypeError, ValueError):
        return None


def choose_mode() -> str:
    """rootless when the kernel lets an unprivileged user create user namespaces, else root
    (if we are). $TUTOR_LAB_MODE forces one."""
    forced = os.environ.get("TUTOR_LAB_MODE", "")
    if forced in ("root", "rootless"):
        return forced
    from tutor.lab.doctor import userns_problem
    if userns_problem(unprivileged=True) is None:
        return "rootless"
    if os.geteuid() == 0 and userns_problem() is None:
        return "root"
    raise LabError(f"this machine cannot run a lab: {userns_problem()}; run `tutor doctor`")


def up(name: str | None = None) -> tuple[LabInfo, bool]:
    """Start the lab if it is not running. Returns (info, started_now)."""
    starting = start(name)
    return starting.wait(), starting.started


class Starting:
    """A lab on its way up (see `start`): the caller works on while the agent builds the lab."""

    def __init__(self, name: str, info: LabInfo | None = None,
                 proc: subprocess.Popen | None = None, ready_fd: int = -1, tether_fd: int = -1):
        self.name, self.info, self.proc, self.ready_fd = name, info, proc, ready_fd
        self.tether_fd = tether_fd   # our end of the tether (see `start`), -1 if none
        self.started = proc is not None

    def wait(self) -> LabInfo:
        """The running lab's info, once the agent says it is ready; LabError if it failed."""
        if self.info is not None:
            return self.info
        if self.proc is None:
            raise LabError(f"the lab {self.name!r} was stopped")
        lines = _read_lines(self.ready_fd, START_TIMEOUT)
        os.close(self.ready_fd)
        self.proc.wait()
        self.proc = None
        for line in lines:
            if line.startswith("error "):
                raise LabError(line[6:])
        if not any(line.startswith("ready") for line in lines):
            raise LabError("the lab agent did not start (no answer within "
                           f"{START_TIMEOUT:.0f} s); run `tutor doctor`")
        self.info = status(self.name)
        if self.info is None:
            raise LabError("the lab agent started but does not answer")
        return self.info

    def stop(self) -> None:
        """Stop the lab this started (once it is up); nothing if it was running before."""
        if not self.started:
            return
        try:
            self.wait()
        except LabError:
            pass
        down(self.name)
        if self.tether_fd >= 0:
            os.close(self.tether_fd)
            self.tether_fd = -1


def start(name: str | None = None, tether: bool = False) -> Starting:
    """Begin starting the lab (if it is not running) and return at once; `.wait()` for it.

    With `tether`, the lab lives only as long as this process: the agent stops when the pipe
    it holds from us reads end-of-file, which the kernel makes happen on any death (selftest's
    throwaway lab goes with it, SIGKILL included)."""
    name = door.check_name(name or lab_name())
    info = status(name)
    if info:
        return Starting(name, info)
    import subprocess
    where = door.checked_folder(create=True)
    lock = _start_lock(where)
    try:
        info = status(name)   # started by someone else while we waited for the lock
        if info:
            return Starting(name, info)
        _sweep(where)   # what labs that were killed left: this one's socket among them
        mode = choose_mode()
        read_fd, write_fd = os.pipe()
        tether_r, tether_w = os.pipe() if tether else (-1, -1)
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        passed = (write_fd, lock) + ((tether_r,) if tether else ())
        caps = limits.configured()
        try:
            # The agent inherits the start lock and holds it until it listens.
            proc = subprocess.Popen(
                [sys.executable, "-m", "tutor.lab.agent", name, mode, str(write_fd), str(lock),
                 str(tether_r), caps.encode()],
                pass_fds=passed, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True, cwd="/", env=env)
        except BaseException:
            _close_all([read_fd, tether_w] if tether else [read_fd])
            raise
        finally:
            _close_all([write_fd, tether_r] if tether else [write_fd])
    finally:
        os.close(lock)
    return Starting(name, proc=proc, ready_fd=read_fd, tether_fd=tether_w)


def start_throwaway(purpose: str = "selftest") -> Starting:
    """Start a lab of its own for one run of this process (selftest's), tied to it: it stops
    when this process dies, however it dies."""
    return start(f"{purpose}-{os.getpid()}-{int(time.time() * 1000) % 100000}", tether=True)


def _sweep(where: str) -> None:
    """Remove what labs that ended without `down` left (killed, or tethered to a selftest
    that died): a socket no one listens on, its reset lock, its cgroups. Under the start lock."""
    try:
        entries = os.listdir(where)
    except OSError:
        return
    for entry in entries:
        if entry.endswith(".reset") and entry[:-6] + ".sock" not in entries:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{where}/{entry}")
        if not entry.endswith(".sock"):
            continue
        name, path = entry[:-5], f"{where}/{entry}"
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            probe.connect(path)
            continue   # a lab answers there
        except (ConnectionRefusedError, FileNotFoundError):
            pass
        except OSError:
            continue
        finally:
            probe.close()
        _remove_leftovers(where, name)


def _remove_leftovers(where: str, name: str) -> None:
    """What lab `name` leaves once it has ended: its socket file, reset lock and cgroups."""
    # (the socket as door.socket_path names it, without refusing a name found in the folder)
    for stale in (f"{where}/{name}.sock", f"{where}/{name}.reset"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(stale)
    limits.remove_for(name)


def _locked(path: str, timeout: float, busy: str) -> int:
    """`path` (made 0600 if need be) opened and locked for us alone, waiting up to `timeout`
    seconds for whoever holds it; LabError `busy` after that. Closing the descriptor frees it."""
    import fcntl
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise LabError(busy) from None
            time.sleep(0.005)


def _start_lock(where: str) -> int:
    """The folder's start lock, taken: one lab starts (or a stale socket goes) at a time."""
    return _locked(f"{where}/.start.lock", START_TIMEOUT,
                   f"another lab is starting and holds {where}/.start.lock; try again")


def _read_lines(fd: int, timeout: float) -> list[str]:
    """Lines the agent writes on its ready pipe, until `ready`, an error, EOF or the timeout."""
    import select
    deadline = time.monotonic() + timeout
    buf = b""
    while True:
        lines = buf.decode(errors="replace").splitlines()
        if buf.endswith(b"\n") and any(l.startswith(("ready", "error ")) for l in lines):
            return lines
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return lines
        chunk = os.read(fd, 4096)
        if not chunk:
            return lines
        buf += chunk


def down(name: str | None = None, timeout: float = 5.0) -> bool:
    """Stop the lab; True if one was running. Waits until every trace of it is gone."""
    name = name or lab_name()
    held = _hold(name)
    if held is None:
        _forget(name)
        return False
    info, pidfd, pid_ns = held
    try:
        try:
            request("stop", name, timeout=5)
        except LabError:
            pass
        _wait_gone(info.pid, pidfd, pid_ns, timeout)
    finally:
        os.close(pidfd)
    _forget(name)
    return True


def kill(name: str | None = None) -> None:
    """SIGKILL the agent (what a crash looks like); the kernel tears the lab down."""
    name = name or lab_name()
    held = _hold(name)
    if held:
        info, pidfd, pid_ns = held
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            _wait_gone(info.pid, pidfd, pid_ns, 5.0)
        finally:
            os.close(pidfd)
    _forget(name)


def _hold(name: str) -> tuple[LabInfo, int, int] | None:
    """The running lab, a pidfd of its agent and its PID namespace's inode, or None. The agent
    answers again after the pidfd is open, so the pidfd is the agent's and not a process that
    reused its PID."""
    for _ in range(3):
        info = status(name)
        if info is None:
            return None
        try:
            pidfd = os.pidfd_open(info.pid)
        except ProcessLookupError:
            continue
        try:
            again = request("status", name, timeout=5)
        except NotRunning:
            again = {}
        if again.get("agent_pid") == info.pid and isinstance(again.get("pidns"), int):
            return info, pidfd, again["pidns"]
        os.close(pidfd)
    return None


def _forget(name: str) -> None:
    """Remove the socket file and cgroups a stopped or killed lab left (the agent cannot: it
    lives in a mount namespace that hides the folder, as an id that may not touch them)."""
    where = door.checked_folder()
    if where is None:
        return
    lock = _start_lock(where)
    try:
        if status(name) is None:
            _remove_leftovers(where, name)
    finally:
        os.close(lock)


def _wait_gone(pid: int, pidfd: int, pid_ns: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not _ended(pid, pidfd, pid_ns):
        time.sleep(0.002)
    if not _ended(pid, pidfd, pid_ns):
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)


def _ended(pid: int, pidfd: int, pid_ns: int) -> bool:
    """True once the lab whose PID 1 is `pid` (PID namespace inode `pid_ns`) has ended.

    That is when the agent has exited (a zombie waiting for the machine's init to reap it has
    ended), or when it is exiting and only waits in the kernel for the machine's init to reap
    processes of the lab that were orphaned outside it (a killed nsenter's child is reparented
    to the machine's init, not the lab's). By then it has closed its socket and dropped its
    namespaces, and no process of the lab is alive; a lazy init can take seconds.
    The pidfd tells first: once it reads as ready the agent has exited, and `pid` may even
    belong to another process by now. The agent is not dumpable, so its owner (unlike root)
    cannot read its namespaces: then its exiting flag in /proc/PID/stat tells.
    """
    import select
    if select.select([pidfd], [], [], 0)[0]:
        return True
    stat = _stat(pid)
    if stat is None or stat[0] == "Z":
        return True
    try:
        os.readlink(f"/proc/{pid}/ns/net")
        return False                      # still holds the lab's namespaces
    except FileNotFoundError:
        pass                              # exiting: its namespaces are released
    except OSError:
        if not int(stat[6]) & PF_EXITING:
            return False
    target = f"pid:[{pid_ns}]"
    for entry in os.listdir("/proc"):
        if entry.isdigit() and entry != str(pid):
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == target and _state(int(entry)) != "Z":
                    return False
            except OSError:
                continue
    return True


PF_EXITING = 0x4   # /proc/PID/stat's flags: the task is on its way out


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the name (state first), or None: no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def _state(pid: int) -> str | None:
    """The process state letter of `pid` (R, S, Z, ...), or None when there is no such process."""
    stat = _stat(pid)
    return stat[0] if stat else None


@contextlib.contextmanager
def resetting(name: str | None = None, timeout: float = 120.0):
    """Hold lab `name`'s reset lock for the body: a reset and the commands that rebuild a
    lesson's start are one change. Another reset (a second TUI, the CLI) waits its turn, so
    the lab ends as one of them left it, never a mix of both."""
    name = door.check_name(name or lab_name())
    where = door.checked_folder(create=True)
    fd = _locked(f"{where}/{name}.reset", timeout, f"another reset of the lab {name!r} is "
                 "still running; try again when it is done")
    try:
        yield
    finally:
        os.close(fd)


def reset(name: str | None = None) -> None:
    """Wipe the lab back to a fresh one (new namespaces, fresh /etc, no student processes)."""
    request("reset", name)


def serve(netns: str, port: int, body: str, name: str | None = None) -> None:
    """Ask the agent to answer HTTP on `port` in namespace `netns`."""
    request("serve", name, netns=netns, port=port, body=body)


def shell_env(term: str | None = None) -> dict[str, str]:
    """The environment of every command in the lab: clean, predictable, the lab's helpers first."""
    return {"PATH": LAB_PATH, "HOME": "/root", "TERM": term or os.environ.get("TERM", "xterm"),
            "LANG": "C.UTF-8", "SHELL": "/bin/bash", "USER": "root", "LOGNAME": "root"}


class LabCommand(namedtuple("LabCommand", "argv fds")):
    """An argv that enters the lab, and the namespace descriptors it names (`/proc/self/fd/N`):
    the child must inherit `fds` (subprocess's `pass_fds`), and the caller closes them after
    starting it (`close`)."""
    __slots__ = ()

    def close(self) -> None:
        """Close the namespace descriptors (the started process keeps its own copies)."""
        _close_all(list(self.fds))


NAMESPACES = door.NAMESPACES
_NSENTER = {"mnt": "mount"}   # nsenter's names where they differ


def command(argv: list[str], *, netns: str | None = None, node: str | None = None,
            info: LabInfo | None = None, terminal: bool | None = None) -> LabCommand:
    """A command that runs `argv` in the lab host, in namespace `netns` or on world node `node`.

    The agent hands over its namespaces as descriptors, so a command enters the lab that
    answered now — never a process that took an old PID of the agent.

    `terminal` says the command will run on the user's terminal (by default: when `argv` is the
    interactive shell of `bash_argv(None)`). It then gets a terminal of its own, relayed to the
    user's by `script`: with the user's terminal as its controlling terminal, a process in the
    lab could type into it (TIOCSTI) and the user's own shell would run that after the lab's
    exits. Without `terminal`, start the argv in a new session (`run` and `popen` do).
    """
    name = info.name if info else lab_name()
    reply, fds = request_fds("enter", len(NAMESPACES), name)
    if len(fds) != len(NAMESPACES):
        _close_all(fds)
        raise LabError(f"the lab {name!r} did not hand over its namespaces")
    enter = ["nsenter"]
    if os.geteuid() == 0 and os.getgroups():
        # nsenter cannot drop supplementary groups inside the lab (setgroups is denied there):
        # drop them before, or the lab's processes would keep root's groups on the machine.
        enter = ["setpriv", "--clear-groups", "--"] + enter
    enter += [f"--{_NSENTER.get(kind, kind)}=/proc/self/fd/{fd}" for kind, fd in zip(NAMESPACES, fds)]
    if os.geteuid() != 0:
        # The lab's root already is this user's uid. nsenter would otherwise switch to uid 0
        # and first drop supplementary groups, which only root may do here.
        enter.append("--preserve-credentials")
    enter += ["--wd=/", "--"]
    env = ["env", "-i", *(f"{k}={v}" for k, v in shell_env().items())]
    if netns:
        full = enter + env + ["ip", "netns", "exec", netns, *argv]
    elif node:
        full = enter + env + ["nsenter", f"--net={WORLD_DIR}/{node}", "--", *argv]
    else:
        full = enter + env + argv
    cgroups = reply.get("cgroups") or []
    if cgroups and os.geteuid() == 0 and all(isinstance(c, str) and c.startswith(limits.CGROUP + "/")
                                             and "/../" not in c for c in cgroups):
        full = limits.join_argv(cgroups, full)   # the lab's memory and process caps
    if terminal is None:
        terminal = argv == bash_argv(None)
    if terminal:
        full = ["env", "SHELL=/bin/sh", "script", "--quiet", "--return", "--command",
                shlex.join(full), "/dev/null"]
    return LabCommand(full, tuple(fds))


def bash_argv(cmdline: str | None) -> list[str]:
    """bash for an interactive shell (`cmdline` None) or for one command line."""
    base = ["bash", "--noprofile", "--rcfile", "/run/tutor/bashrc"]
    return base + ["-i"] if cmdline is None else ["bash", "--noprofile", "--norc", "-c", cmdline]


def run(cmdline: str, *, netns: str | None = None, node: str | None = None, timeout: float = 30,
        info: LabInfo | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    """Run one shell command line in the lab and capture its output (text).

    Past `timeout` its whole process group is killed (exit status 124). While it runs, its
    group is registered with the tracker a long-lived caller set (`track_with`)."""
    import subprocess
    cmd = command(bash_argv(cmdline), netns=netns, node=node, info=info, terminal=False)
    try:
        # a new session: no controlling terminal for anything in the lab (see `command`)
        proc = subprocess.Popen(cmd.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.PIPE if input else subprocess.DEVNULL,
                                text=True, errors="replace", start_new_session=True,
                                pass_fds=cmd.fds)
    finally:
        cmd.close()
    if _tracker:
        _tracker[0](proc.pid)   # its own session: the group's id is its pid
    try:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            return subprocess.CompletedProcess(cmd.argv, 124, out or "", (err or "") +
                                               f"\n(stopped after {timeout:g} s)")
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        if _tracker:
            _tracker[1](proc.pid)
    return subprocess.CompletedProcess(cmd.argv, proc.returncode, out, err)


_tracker: tuple | None = None   # (add, remove) of process group ids, see `track_with`


def track_with(add, remove) -> None:
    """Have every `run` register its process group while it runs (the TUI's keeper kills them
    if the app dies first; a verification's probes would otherwise go on without it)."""
    global _tracker
    _tracker = (add, remove)


def popen(cmdline: str, *, netns: str | None = None, node: str | None = None,
          info: LabInfo | None = None, **kwargs) -> subprocess.Popen:
    """Start one command line in the lab without waiting (the TUI console streams it).

    In a new session unless the caller says otherwise (see `command` for why)."""
    import subprocess
    kwargs.setdefault("start_new_session", True)
    cmd = command(bash_argv(cmdline), netns=netns, node=node, info=info, terminal=False)
    try:
        return subprocess.Popen(cmd.argv, pass_fds=cmd.fds, **kwargs)
    finally:
        cmd.close()
