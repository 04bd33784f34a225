"""The one door to the lab: start, find, stop and reset the agent, and run commands inside it.

Every process that runs in the lab is started here (`command` builds its argv, `run` and
`popen` start it). Nothing in this module imports more than the standard library, so
`tutor verify` and `tutor shell` stay fast.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import sys
import time
from collections import namedtuple

TYPE_CHECKING = False
if TYPE_CHECKING:   # imported where a process starts: `tutor lab status` needs none
    import subprocess

WORLD_DIR = "/run/tutor/world"
LAB_PATH = "/run/tutor/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
START_TIMEOUT = 10.0


class LabError(Exception):
    """A lab problem worth one clear sentence to the user (exit code 2)."""


class LabInfo(namedtuple("LabInfo", "name pid mode namespaces")):
    """What a running agent says about itself: name, pid, mode, namespaces (a tuple).

    (A named tuple, not a dataclass: the lab agent imports this module, and `dataclasses`
    would cost every lab ~8 ms to start.)"""
    __slots__ = ()


def control_address(name: str, uid: int | None = None) -> str:
    """The abstract socket name of lab `name` for user `uid` (the agent binds it)."""
    uid = os.getuid() if uid is None else uid
    return f"\0netns-tutor/{uid}/{name}"


def lab_name() -> str:
    """The lab this process talks to: $TUTOR_LAB, or `default`."""
    return os.environ.get("TUTOR_LAB") or "default"


def request(op: str, name: str | None = None, timeout: float = 30.0, **args) -> dict:
    """Send one control request to the agent and return its reply; LabError if none runs."""
    reply, _ = _request(op, name, timeout, 0, **args)
    return reply


def request_fds(op: str, count: int, name: str | None = None, **args) -> tuple[dict, list[int]]:
    """Like `request`, for replies that carry file descriptors (netlink sockets)."""
    return _request(op, name, 10.0, count, **args)


def _request(op: str, name: str | None, timeout: float, max_fds: int, **args) -> tuple[dict, list[int]]:
    name = name or lab_name()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(control_address(name))
    except (ConnectionRefusedError, FileNotFoundError):
        sock.close()
        raise LabError(f"the lab {name!r} is not running (start it with: tutor lab up)") from None
    fds: list[int] = []
    try:
        sock.sendall((json.dumps({"op": op, **args}) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            if max_fds and not fds:
                chunk, anc, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(4 * max_fds))
                for level, kind, payload in anc:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds += [int.from_bytes(payload[i:i + 4], sys.byteorder)
                                for i in range(0, len(payload) - len(payload) % 4, 4)]
            else:
                chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        raise LabError(f"the lab {name!r} did not answer ({exc})") from None
    finally:
        sock.close()
    try:
        reply = json.loads(data)
    except ValueError:
        raise LabError(f"the lab {name!r} stopped while answering") from None
    if not reply.get("ok"):
        raise LabError(reply.get("error", "the lab refused the request"))
    return reply, fds


def status(name: str | None = None) -> LabInfo | None:
    """The running lab, or None."""
    try:
        reply = request("status", name, timeout=5)
    except LabError:
        return None
    return LabInfo(reply["name"], reply["pid"], reply["mode"], tuple(reply["namespaces"]))


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
                 proc: subprocess.Popen | None = None, ready_fd: int = -1):
        self.name, self.info, self.proc, self.ready_fd = name, info, proc, ready_fd
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


def start(name: str | None = None) -> Starting:
    """Begin starting the lab (if it is not running) and return at once; `.wait()` for it."""
    name = name or lab_name()
    info = status(name)
    if info:
        return Starting(name, info)
    import subprocess
    mode = choose_mode()
    read_fd, write_fd = os.pipe()
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tutor.lab.agent", name, mode, str(write_fd)],
            pass_fds=(write_fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True, cwd="/", env=env)
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return Starting(name, proc=proc, ready_fd=read_fd)


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
    info = status(name)
    if info is None:
        return False
    try:
        request("stop", name, timeout=5)
    except LabError:
        pass
    _wait_gone(info.pid, timeout)
    return True


def kill(name: str | None = None) -> None:
    """SIGKILL the agent (what a crash looks like); the kernel tears the lab down."""
    info = status(name)
    if info:
        os.kill(info.pid, 9)
        _wait_gone(info.pid, 5.0)


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not _ended(pid):
        time.sleep(0.002)
    if not _ended(pid):
        os.kill(pid, 9)


def _ended(pid: int) -> bool:
    """True once the lab whose PID 1 is `pid` has ended.

    That is when the agent has exited (a zombie waiting for the machine's init to reap it has
    ended), or when it is exiting and only waits in the kernel for the machine's init to reap
    processes of the lab that were orphaned outside it (a killed nsenter's child is reparented
    to the machine's init, not the lab's). By then it has closed its socket and dropped its
    namespaces, and no process of the lab is alive; a lazy init can take seconds.
    """
    state = _state(pid)
    if state is None or state == "Z":
        return True
    try:
        os.readlink(f"/proc/{pid}/ns/net")
        return False                      # still holds the lab's namespaces
    except FileNotFoundError:
        pass                              # exiting: its namespaces are released
    except OSError:
        return False
    try:
        pid_ns = os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return True
    for entry in os.listdir("/proc"):
        if entry.isdigit() and entry != str(pid):
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == pid_ns and _state(int(entry)) != "Z":
                    return False
            except OSError:
                continue
    return True


def _state(pid: int) -> str | None:
    """The process state letter of `pid` (R, S, Z, ...), or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def reset(name: str | None = None) -> None:
    """Wipe the lab back to a fresh one (new namespaces, fresh /etc, no student processes)."""
    request("reset", name)


def serve(netns: str, port: int, body: str, name: str | None = None) -> None:
    """Ask the agent to answer HTTP on `port` in namespace `netns`."""
    request("serve", name, netns=netns, port=port, body=body)


def _in_userns(pid: int) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
    except OSError:
        return False


def shell_env(term: str | None = None) -> dict[str, str]:
    """The environment of every command in the lab: clean, predictable, the lab's helpers first."""
    return {"PATH": LAB_PATH, "HOME": "/root", "TERM": term or os.environ.get("TERM", "xterm"),
            "LANG": "C.UTF-8", "SHELL": "/bin/bash", "USER": "root", "LOGNAME": "root"}


def command(argv: list[str], *, netns: str | None = None, node: str | None = None,
            info: LabInfo | None = None, terminal: bool | None = None) -> list[str]:
    """argv that runs `argv` in the lab host, in namespace `netns` or on world node `node`.

    `terminal` says the command will run on the user's terminal (by default: when `argv` is the
    interactive shell of `bash_argv(None)`). It then gets a terminal of its own, relayed to the
    user's by `script`: with the user's terminal as its controlling terminal, a process in the
    lab could type into it (TIOCSTI) and the user's own shell would run that after the lab's
    exits. Without `terminal`, start the argv in a new session (`run` and `popen` do).
    """
    info = info or status()
    if info is None:
        raise LabError(f"the lab {lab_name()!r} is not running (start it with: tutor lab up)")
    enter = ["nsenter", "--target", str(info.pid)]
    if os.geteuid() == 0 and os.getgroups():
        # nsenter cannot drop supplementary groups inside the lab (setgroups is denied there):
        # drop them before, or the lab's processes would keep root's groups on the machine.
        enter = ["setpriv", "--clear-groups", "--"] + enter
    if _in_userns(info.pid):
        enter.append("--user")
        if os.geteuid() != 0:
            # The lab's root already is this user's uid. nsenter would otherwise switch to
            # uid 0 and first drop supplementary groups, which only root may do here.
            enter.append("--preserve-credentials")
    enter += ["--mount", "--net", "--uts", "--ipc", "--pid", "--wd=/", "--"]
    env = ["env", "-i", *(f"{k}={v}" for k, v in shell_env().items())]
    if netns:
        full = enter + env + ["ip", "netns", "exec", netns, *argv]
    elif node:
        full = enter + env + ["nsenter", f"--net={WORLD_DIR}/{node}", "--", *argv]
    else:
        full = enter + env + argv
    if terminal is None:
        terminal = argv == bash_argv(None)
    if terminal:
        return ["env", "SHELL=/bin/sh", "script", "--quiet", "--return", "--command",
                shlex.join(full), "/dev/null"]
    return full


def bash_argv(cmdline: str | None) -> list[str]:
    """bash for an interactive shell (`cmdline` None) or for one command line."""
    base = ["bash", "--noprofile", "--rcfile", "/run/tutor/bashrc"]
    return base + ["-i"] if cmdline is None else ["bash", "--noprofile", "--norc", "-c", cmdline]


def run(cmdline: str, *, netns: str | None = None, node: str | None = None, timeout: float = 30,
        info: LabInfo | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    """Run one shell command line in the lab and capture its output (text)."""
    import subprocess
    argv = command(bash_argv(cmdline), netns=netns, node=node, info=info, terminal=False)
    try:
        # a new session: no controlling terminal for anything in the lab (see `command`)
        return subprocess.run(argv, capture_output=True, text=True, errors="replace",
                              timeout=timeout, input=input, start_new_session=True,
                              stdin=None if input else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(argv, 124, _text(exc.stdout), _text(exc.stderr) +
                                           f"\n(stopped after {timeout:g} s)")


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


def popen(cmdline: str, *, netns: str | None = None, node: str | None = None,
          info: LabInfo | None = None, **kwargs) -> subprocess.Popen:
    """Start one command line in the lab without waiting (the TUI console streams it).

    In a new session unless the caller says otherwise (see `command` for why)."""
    import subprocess
    kwargs.setdefault("start_new_session", True)
    argv = command(bash_argv(cmdline), netns=netns, node=node, info=info, terminal=False)
    return subprocess.Popen(argv, **kwargs)


def quote(argv: list[str]) -> str:
    """A shell-quoted command line, for messages."""
    return shlex.join(argv)
