"""A lab's life: start it (under the folder's start lock, after sweeping what killed labs
left), reset it (under its reset lock), stop or kill it, and wait until every trace is gone.

Starting runs the agent (`python -m tutor.lab.agent`) outside any lab; everything that runs
inside one goes through `tutor.lab.client`. Talking to the agent is `tutor.lab.control`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time

from tutor.i18n import Msg
from tutor.lab import door, limits, spawn
from tutor.lab.control import LabError, LabInfo, NotRunning, close_all, lab_name, request, status, status_reply

TYPE_CHECKING = False
if TYPE_CHECKING:   # imported where a process starts: `tutor lab status` needs none
    import subprocess

START_TIMEOUT = 10.0


def choose_mode() -> str:
    """rootless when the kernel lets an unprivileged user create user namespaces, else root
    (if we are). $TUTOR_LAB_MODE forces one. LabError (one sentence) when neither can start."""
    from tutor.lab.doctor import decide_mode, read_userns
    mode, why = decide_mode(os.environ.get("TUTOR_LAB_MODE", ""), os.geteuid() == 0, read_userns())
    if mode is None:
        raise LabError(why)
    return mode


def up(name: str | None = None) -> tuple[LabInfo, bool]:
    """Start the lab if it is not running. Returns (info, started_now)."""
    starting = start(name)
    return starting.wait(), starting.started


class Starting:
    """A lab on its way up (see `start`): the caller works on while the agent builds the lab."""

    def __init__(self, name: str, info: LabInfo | None = None,
                 proc: subprocess.Popen | spawn.Forked | None = None, ready_fd: int = -1,
                 tether_fd: int = -1):
        self.name, self.info, self.proc, self.ready_fd = name, info, proc, ready_fd
        self.tether_fd = tether_fd   # our end of the tether (see `start`), -1 if none
        self.started = proc is not None
        self.stopped = False
        self._held: tuple[int, int] | None = None   # a tethered lab's: a pidfd of its agent, its PID namespace

    def wait(self) -> LabInfo:
        """The running lab's info, once the agent says it is ready; LabError if it failed."""
        if self.info is not None:
            return self.info
        if self.proc is None:
            raise LabError(Msg("the lab {name!r} was stopped", name=self.name))
        lines = _read_lines(self.ready_fd, START_TIMEOUT)
        os.close(self.ready_fd)
        self.proc.wait()
        self.proc = None
        for line in lines:
            if line.startswith("error "):
                raise LabError(_refused(line[6:]))
        if not any(line.startswith("ready") for line in lines):
            raise LabError(Msg("the lab agent did not start (no answer within {seconds} s); run `tutor doctor`",
                               seconds=f"{START_TIMEOUT:.0f}"))
        # A tethered lab's agent, held before it is asked who it is: see `_let_go`
        said = _said_pid(lines)
        pidfd = _pidfd(said) if self.tether_fd >= 0 else -1
        try:
            found = status_reply(self.name)
            if found is None:
                raise LabError(Msg("the lab agent started but does not answer"))
        except BaseException:
            close_all([pidfd] if pidfd >= 0 else [])
            raise
        self.info, reply = found
        if pidfd >= 0 and self.info.pid == said and isinstance(reply.get("pidns"), int):
            self._held = (pidfd, reply["pidns"])
        elif pidfd >= 0:
            os.close(pidfd)   # (without it, `stop` stops the lab as `down` does)
        return self.info

    def stop(self) -> None:
        """Stop the lab this started (once it is up); nothing if it was running before, or
        if this stopped it already."""
        if not self.started or self.stopped:
            return
        self.stopped = True
        try:
            self.wait()
        except LabError:
            pass
        if self._held is not None:
            self._let_go(*self._held)
        else:
            down(self.name)
        if self.tether_fd >= 0:
            os.close(self.tether_fd)
            self.tether_fd = -1

    def _let_go(self, pidfd: int, pid_ns: int) -> None:
        """Stop a tethered lab by letting go of its tether, and wait until every trace of it is
        gone, as `down` does, without a word to the agent (three round trips fewer, issue 15).

        The pidfd is the agent's: it was opened on the PID the agent said it has (its "pid"
        line), after the agent said it was ready and before it answered, with that PID, who it
        is. Had another process held that PID when the pidfd was opened, the agent would have
        had to take the PID over after it said it was ready, which it cannot."""
        try:
            os.close(self.tether_fd)   # the agent reads end-of-file there and stops
            self.tether_fd = -1
            assert self.info is not None
            _wait_gone(self.info.pid, pidfd, pid_ns, 5.0)
        finally:
            os.close(pidfd)
            self._held = None
        _forget(self.name)


def start(name: str | None = None, tether: bool = False, fork: bool = False) -> Starting:
    """Begin starting the lab (if it is not running) and return at once; `.wait()` for it.

    With `tether`, the lab lives only as long as this process: the agent stops when the pipe
    it holds from us reads end-of-file, which the kernel makes happen on any death (selftest's
    throwaway lab goes with it, SIGKILL included). With `fork` the agent is forked from this
    process rather than started in a fresh interpreter (see `tutor.lab.spawn`)."""
    name = door.check_name(name or lab_name())
    info = status(name)
    if info:
        return Starting(name, info)
    where = door.checked_folder(create=True)
    assert where is not None   # create=True makes the folder or raises LabError
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
        args = [name, mode, str(write_fd), str(lock), str(tether_r), caps.encode()]
        try:
            # The agent inherits the start lock and holds it until it listens.
            if fork and spawn.single_threaded():
                proc: subprocess.Popen | spawn.Forked = spawn.fork_agent(args, passed, env)
            else:
                import subprocess
                proc = subprocess.Popen(
                    [sys.executable, "-m", "tutor.lab.agent", *args],
                    pass_fds=passed, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, start_new_session=True, cwd="/", env=env)
        except BaseException:
            close_all([read_fd, tether_w] if tether else [read_fd])
            raise
        finally:
            close_all([write_fd, tether_r] if tether else [write_fd])
    finally:
        os.close(lock)
    return Starting(name, proc=proc, ready_fd=read_fd, tether_fd=tether_w)


def _said_pid(lines: list[str]) -> int | None:
    """The PID the agent said it has, on its ready pipe ("pid N"), or None."""
    said = [line.split()[1] for line in lines if line.startswith("pid ") and len(line.split()) == 2]
    return int(said[-1]) if said and said[-1].isdigit() else None


def _pidfd(pid: int | None) -> int:
    """A pidfd of process `pid`, or -1 (no PID, or no such process)."""
    if pid is None:
        return -1
    try:
        return os.pidfd_open(pid)
    except OSError:
        return -1


def start_throwaway(purpose: str = "selftest") -> Starting:
    """Start a lab of its own for one run of this process (selftest's), tied to it: it stops
    when this process dies, however it dies. Its agent is forked from this process."""
    return start(f"{purpose}-{os.getpid()}-{int(time.time() * 1000) % 100000}", tether=True, fork=True)


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
    for stale in (f"{where}/{name}.sock", f"{where}/{name}.reset", f"{where}/{name}.lesson"):
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
                   Msg("another lab is starting and holds {lock}; try again", lock=f"{where}/.start.lock"))


def _refused(text: str) -> str:
    """An agent's `error` line (a `door.refusal` as JSON) as one sentence in the student's language."""
    import json
    try:
        reply = json.loads(text)
    except ValueError:
        return text
    return door.heard(reply) if isinstance(reply, dict) else text


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
    import select
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0 and not _ended(pid, pidfd, pid_ns):
        select.select([pidfd], [], [], min(left, 0.002))   # back at once when the agent exits
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
    fd = _locked(f"{where}/{name}.reset", timeout, Msg("another reset of the lab {name!r} is "
                                                       "still running; try again when it is done", name=name))
    try:
        yield
    finally:
        os.close(fd)


def reset(name: str | None = None) -> None:
    """Wipe the lab back to a fresh one (new namespaces, fresh /etc, no student processes)."""
    forget_lesson(name)
    request("reset", name)


# -- which lesson the lab was set up for ------------------------------------------------------
# `<folder>/<name>.lesson`, beside the socket, holds "LESSON-ID AGENT-PID": written after a lesson's
# start was built (`tutor.lessons.course.reset_lesson`) or the student chose to go on with the lab
# as it was; removed by a plain reset and with the lab's other leftovers. The course app reads it
# on resume to ask before it works on a lab set up for another lesson. The agent's pid ties it to
# one lab: a lab started anew under the same name is not taken for the old one.

def _lesson_file(name: str | None) -> str | None:
    where = door.checked_folder()
    return None if where is None else f"{where}/{door.check_name(name or lab_name())}.lesson"


def record_lesson(lesson_id: str, info: LabInfo) -> None:
    """Note that lab `info` is set up for `lesson_id` (OSError if it cannot be written)."""
    from tutor import safefile
    path = _lesson_file(info.name)
    if path is not None and lesson_id.replace("-", "").isalnum():
        safefile.write_private(path, f"{lesson_id} {info.pid}\n".encode())


def recorded_lesson(info: LabInfo) -> str | None:
    """The lesson lab `info` was last set up for, or None (never noted, or for an earlier lab)."""
    from tutor import safefile
    path = _lesson_file(info.name)
    try:
        words = safefile.read_bytes(path, 256).decode().split() if path else []
    except (OSError, UnicodeDecodeError):
        return None
    if len(words) == 2 and words[1] == str(info.pid):
        return words[0]
    return None


def forget_lesson(name: str | None = None) -> None:
    """The lab is no longer set up for a lesson (it is being wiped)."""
    path = _lesson_file(name)
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
