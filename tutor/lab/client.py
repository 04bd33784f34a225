"""The one door to the lab: every process that runs inside a lab is started here.

`command` builds its argv, `run` and `popen` start it, through the namespaces the agent hands
over at its door (`tutor.lab.door` says where the door is and how each end checks the other);
within `one_shell`, a thread's `run`s go to one shell in the lab instead.
Nothing else starts a process in the lab (STYLE: one door); what changes the lab otherwise goes
to its agent as a request (`tutor.lab.control`: `serve`; `tutor.lab.lifecycle`: `reset`), and
starting and stopping labs is `tutor.lab.lifecycle`. Nothing in this module imports more than
the standard library, so `tutor verify` and `tutor shell` stay fast.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
from collections import namedtuple

from tutor.i18n import Msg
from tutor.lab import door, limits
from tutor.lab.control import LabError, LabInfo, close_all, lab_name, request_fds

TYPE_CHECKING = False
if TYPE_CHECKING:   # imported where a process starts: `tutor lab status` needs none
    import subprocess
    from collections.abc import Callable

WORLD_DIR = "/run/tutor/world"
LAB_PATH = "/run/tutor/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


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
        close_all(list(self.fds))


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
        close_all(fds)
        raise LabError(Msg("the lab {name!r} did not hand over its namespaces", name=name))
    enter = ["nsenter"]
    if os.geteuid() == 0 and os.getgroups():
        # nsenter cannot drop supplementary groups inside the lab (setgroups is denied there):
        # drop them before, or the lab's processes would keep root's groups on the machine.
        enter = ["setpriv", "--clear-groups", "--"] + enter
    enter += [f"--{_NSENTER.get(kind, kind)}=/proc/self/fd/{fd}" for kind, fd in zip(NAMESPACES, fds, strict=True)]
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
    group is registered with the tracker a long-lived caller set (`track_with`), once started:
    what goes this way is the course's own reads, probes and scripts, which end by themselves,
    so it does not wait for the registration as a student's line does (`popen_registered`)."""
    shell = _shell
    if shell is not None and netns is None and node is None and input is None and shell.serves(info):
        result = shell.run(cmdline, timeout)
        if result is not None:
            return result
    return _run_apart(cmdline, netns=netns, node=node, timeout=timeout, info=info, input=input)


def run_later(cmdline: str, *, timeout: float = 30,
              info: LabInfo | None = None) -> Callable[[], subprocess.CompletedProcess]:
    """Begin `run(cmdline)` in the lab host and return what waits for its result. With this
    thread's one shell (`one_shell`) the script is on its way when this returns, and the caller
    may work on meanwhile, at anything but the lab (selftest judges a step while the next
    step's commands run, issue 15); without one it has run by then. Take the result before
    anything else goes to the lab."""
    shell = _shell
    if shell is not None and shell.serves(info):
        pending = shell.send(cmdline, timeout)
        if pending is not None:
            return pending
    done = run(cmdline, timeout=timeout, info=info)
    return lambda: done


def _run_apart(cmdline: str, *, netns: str | None, node: str | None, timeout: float,
               info: LabInfo | None, input: str | None) -> subprocess.CompletedProcess:
    """`run` in a process of its own."""
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
_shell: _Shell | None = None    # see `one_shell`


@contextlib.contextmanager
def one_shell(info: LabInfo):
    """While this lasts, every `run` of this thread in the lab host of `info` (no `netns`,
    `node` or `input`) goes to one bash started in the lab now, a script after another, each
    in a subshell of its own, instead of a process each: entering the lab (the agent's
    namespaces, the cgroup's sh, setpriv, nsenter, env, bash) costs ~10 ms a time here, and
    selftest makes a trip per step of a lesson (issue 15). A lab reset kills the shell with
    the lab's other processes: take one per reset. The shell is gone when this ends."""
    global _shell
    shell, outer = _Shell(info), _shell
    _shell = shell
    try:
        yield shell
    finally:
        _shell = outer
        shell.close()


class _Shell:
    """One bash in the lab that runs scripts in turn (see `one_shell`). A script goes in on
    the shell's stdin as a quoted here-document: nothing in it is expanded, and a syntax error
    in it stays inside its `eval`. A token no process in the lab knows ends its stdout and its
    stderr; its exit status follows the token on stdout."""

    def __init__(self, info: LabInfo):
        import _thread
        import subprocess
        self.name, self.thread, self.info = info.name, _thread.get_ident(), info
        self.busy = False   # a script sent, its result not yet taken (`send`)
        self.token = "@@tutor-" + os.urandom(12).hex()
        cmd = command(["bash", "--noprofile", "--norc", "-s"], info=info, terminal=False)
        try:
            self.proc: subprocess.Popen | None = subprocess.Popen(
                cmd.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True, pass_fds=cmd.fds)
        finally:
            cmd.close()
        if _tracker:
            _tracker[0](self.proc.pid)

    def serves(self, info: LabInfo | None) -> bool:
        """Whether a `run` in the lab host of `info`, from this thread, may go to this shell."""
        import _thread
        return (self.proc is not None and _thread.get_ident() == self.thread
                and (info.name if info else lab_name()) == self.name)

    def run(self, script: str, timeout: float) -> subprocess.CompletedProcess | None:
        """Run `script` as `run` would; None when the shell is gone (then run it the usual way)."""
        pending = self.send(script, timeout)
        return pending() if pending is not None else None

    def send(self, script: str, timeout: float) -> Callable[[], subprocess.CompletedProcess] | None:
        """Hand `script` to the shell and return what waits for its result (`run` as it would
        end); None when the shell is gone. One script at a time: its result is taken before the
        next is sent."""
        proc, t = self.proc, self.token
        assert proc is not None and proc.stdin is not None
        assert not self.busy, "the shell's last script has not been answered"
        text = (f"IFS= read -r -d '' __tutor_script <<'{t}'\n{script}\n{t}\n"
                f"echo {t}:start; echo {t}:start >&2\n"
                f"( eval \"unset __tutor_script; $__tutor_script\" ) </dev/null\n"
                f"printf '\\n{t}:end %d\\n' $?; printf '\\n{t}:end\\n' >&2\n")
        try:
            proc.stdin.write(text.encode())
            proc.stdin.flush()
        except OSError:
            self.close()
            return None
        self.busy = True
        return lambda: self._answer(script, timeout)

    def _answer(self, script: str, timeout: float) -> subprocess.CompletedProcess:
        """The result of the script `send` sent (the shell gone before it began: run again, apart)."""
        import subprocess
        self.busy = False
        found = self._read(timeout)
        if found is None:
            self.close()
            return subprocess.CompletedProcess(script, 124, "", f"\n(stopped after {timeout:g} s)")
        out, err, code, started = found
        if code is None:   # the shell died: before the script began (a reset ended it), or in it
            self.close()
            if not started:
                return _run_apart(script, netns=None, node=None, timeout=timeout, info=self.info, input=None)
            return subprocess.CompletedProcess(script, 255, out, err)
        return subprocess.CompletedProcess(script, code, out, err)

    def _read(self, timeout: float) -> tuple[str, str, int | None, bool] | None:
        """(stdout, stderr, exit status, whether it began) of the script just sent; status
        None if the shell ended before the script did; None if the timeout came first. What
        came before the script's start mark is not its own (a process a script before left
        behind)."""
        import selectors
        import time
        proc = self.proc
        assert proc is not None and proc.stdout is not None and proc.stderr is not None
        start, end = f"{self.token}:start\n".encode(), f"\n{self.token}:end".encode()
        fds = (proc.stdout.fileno(), proc.stderr.fileno())
        bufs = {fd: bytearray() for fd in fds}

        def ended(fd: int) -> bool:   # the end mark is the last line: look at the tail only
            buf = bufs[fd]
            return buf.endswith(b"\n") and buf.rfind(end, max(0, len(buf) - len(end) - 16)) >= 0

        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            for fd in fds:
                sel.register(fd, selectors.EVENT_READ)
            while not all(map(ended, fds)) and sel.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                for key, _ in sel.select(left):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        sel.unregister(key.fd)
                    bufs[key.fd] += chunk
        texts, code = [], None
        for fd in fds:
            buf = bytes(bufs[fd])
            if start in buf:
                buf = buf[buf.find(start) + len(start):]
            body, mark, tail = buf.rpartition(end)
            if mark and fd == fds[0]:
                code = int(tail.split()[0]) if tail.split() and tail.split()[0].isdigit() else 255
            texts.append((body if mark else buf).decode(errors="replace"))
        if not all(map(ended, fds)):
            code = None
        return texts[0], texts[1], code, start in bufs[fds[0]]

    def close(self) -> None:
        """End the shell and whatever it started that still runs in its process group."""
        proc, self.proc, self.busy = self.proc, None, False
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):
                pipe.close()   # type: ignore[union-attr]
        if _tracker:
            _tracker[1](proc.pid)


def track_with(add, remove) -> None:
    """Have every `run` register its process group while it runs (the TUI's keeper kills them
    if the app dies first; a verification's probes would otherwise go on without it)."""
    global _tracker
    _tracker = (add, remove)


# A standby's bash: read one NUL-ended command line from descriptor {fd}, close it, and become
# exactly the `bash_argv(line)` that `popen` would have started. EOF first: nothing to run.
_STANDBY = ('IFS= read -r -d "" line <&{fd} || exit 0; exec {fd}<&-; '
            'exec bash --noprofile --norc -c "$line"')


def lab_identity(name: str | None = None) -> tuple[int, ...]:
    """Which lab answers at the door now: its namespaces' inode numbers. A reset switches the
    lab host's network, a restart all of them, so a process that entered an earlier lab no
    longer matches (one trip to the agent)."""
    _, fds = request_fds("enter", len(NAMESPACES), name or lab_name())
    try:
        return _inodes(fds)
    finally:
        close_all(fds)


def _inodes(fds) -> tuple[int, ...]:
    """The inode numbers of namespace descriptors: which namespaces they are."""
    return tuple(os.fstat(fd).st_ino for fd in fds)


class Standby:
    """A console command started ahead in the lab host, waiting for its command line.

    Why: from Enter to the first output, starting a command's chain (the cgroup's `sh`,
    `setpriv`, `nsenter`, `env`, `bash`) took a median of 24 ms on a busy 2-core machine, and
    handing a line to a chain already started 3.6 ms (bench_tui: Enter -> first output). The
    console starts one while the student types (`standby`); Enter hands it the line (`start`).
    It runs the line as `popen` would, in the lab that answers *now*: a standby whose lab has
    since been reset or restarted is not used (`start` says False) and the caller discards it.
    """

    def __init__(self, proc: subprocess.Popen, pipe: int, identity: tuple[int, ...], name: str):
        self.proc = proc
        self._pipe: int | None = pipe   # where its command line goes
        self.identity = identity
        self.name = name

    def start(self, cmdline: str) -> bool:
        """Run `cmdline` (no NUL in it) in this standby: False when it can no longer run it
        here (it has ended, or the lab is not the one it entered)."""
        if self._pipe is None or self.proc.poll() is not None:
            return False
        try:
            if lab_identity(self.name) != self.identity:
                return False
            self.hand(cmdline)
        except (LabError, OSError):
            return False
        finally:
            self._close_pipe()
        return True

    def hand(self, cmdline: str) -> None:
        """Give it `cmdline` now, in the lab it entered (OSError if it has ended)."""
        pipe = self._pipe
        assert pipe is not None, "a standby takes one line"
        try:
            os.write(pipe, cmdline.encode("utf-8", "surrogateescape") + b"\0")
        finally:
            self._close_pipe()

    def discard(self) -> None:
        """Never mind: it ends (EOF on its line), killed with its group if it does not at once."""
        import subprocess
        self._close_pipe()
        try:
            self.proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def _close_pipe(self) -> None:
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            os.close(pipe)


def standby(*, netns: str | None = None, info: LabInfo | None = None, **kwargs) -> Standby:
    """Start a `Standby` in the lab host (or namespace `netns`), in a new session (see `command`
    for why); `kwargs` go to Popen (its stdout and stderr: the console's pty)."""
    import subprocess
    name = info.name if info else lab_name()
    theirs, mine = os.pipe()
    try:
        cmd = command(["bash", "--noprofile", "--norc", "-c", _STANDBY.format(fd=theirs)], netns=netns,
                      info=info, terminal=False)
        try:
            identity = _inodes(cmd.fds)
            proc = subprocess.Popen(cmd.argv, pass_fds=(*cmd.fds, theirs), start_new_session=True,
                                    **kwargs)
        finally:
            cmd.close()
    except BaseException:
        os.close(mine)
        raise
    finally:
        os.close(theirs)
    return Standby(proc, mine, identity, name)


def popen_registered(cmdline: str, register: Callable[[int], object], unregister: Callable[[int], object], *,
                     netns: str | None = None, info: LabInfo | None = None, **kwargs) -> subprocess.Popen:
    """`popen` for a command that must not outlive its caller: `register(pid)` (the keeper's
    `add`) runs before the line is handed over. The process waits for its line as a standby
    does, so if the caller dies before it has registered the process, the line never runs: the
    process reads the end of its pipe and leaves. A plain `popen` followed by `register` would
    leave a `sleep 1000` typed at that moment running on (~3 ms: one bash more). If the line
    cannot be handed over, the process is ended and `unregister(pid)` undoes the registration
    (a process group id left registered could be another's later)."""
    waiting = standby(netns=netns, info=info, **kwargs)
    pid = waiting.proc.pid   # its own session: the group's id is its pid
    try:
        register(pid)
        waiting.hand(cmdline)
    except BaseException:
        waiting.discard()
        unregister(pid)
        raise
    return waiting.proc


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
