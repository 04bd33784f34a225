"""Follow the live lab: netlink events in, a fresh `LabSnapshot` out, without polling tables.

`LabWatcher.run()` is a blocking loop for one thread. It holds a netlink socket per namespace
(the lab host and each of the student's namespaces), learns about new and deleted namespaces
from an inotify descriptor on the lab's `/run/netns` that the agent hands over, notices a reset
(the agent swaps the lab host's network namespace) by that namespace's inode in the agent's
status, asked once a second, and hears the agent die at once through a pidfd. iptables rules and
`ip_forward` are not netlink state: they are read with one `client.run` when asked
(`refresh(rules=True)`, after each command) — iptables has no change events the lab hands out.

The first event after a quiet spell is read at once, so a change shows as soon as it happened;
during a burst (a reset replaying twenty commands) the tables are re-read at most every
DEBOUNCE seconds. Netlink tables are published before the slower rules read, not after it.

A socket per namespace costs a file descriptor, and a student can make a thousand namespaces
(`for i in $(seq 1100); do ip netns add n$i; done`). The loop waits with poll(), which takes
any descriptor number (select() stops at 1023), and follows at most MAX_FOLLOWED namespaces,
fewer when the descriptors this process may open run short (`ulimit -n`): FD_RESERVE of them
stay free for the rest of the app (a command's pipes, a verification). Should the process run
out all the same (EMFILE), the watcher follows half as many and says so (until it next
connects, and counts the free descriptors again); it never stops.

Never imports Textual: the app passes a callback that posts a message.
"""

from __future__ import annotations

import errno
import os
import resource
import select
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable

from tutor.app.labstate import NetlinkReader, NsState, close_fds
from tutor.lab import client, control

DEBOUNCE = 0.05
IDLE_CHECK = 1.0
RETRY = 0.05        # first wait before opening a namespace that could not be entered, again
MAX_FOLLOWED = 200  # namespaces given live tables; a lesson uses a handful, a tab bar shows ~10
FD_RESERVE = 64     # descriptors left to the rest of the app when sockets are handed out
CHUNK = 200         # sockets per request: one SCM_RIGHTS message carries at most 253 (SCM_MAX_FD)
OUT_OF_FDS = (errno.EMFILE, errno.ENFILE)

RULES_SCRIPT = r"""
dump() { echo "@@ns $1"; echo "@@fwd $(cat /proc/sys/net/ipv4/ip_forward)";
         echo '*nat'; iptables -t nat -S 2>&1; echo '*filter'; iptables -S 2>&1; }
dump ''
for n in $(ip netns list | cut -d' ' -f1); do ip netns exec "$n" bash -c "$(declare -f dump); dump $n"; done
"""


@dataclass
class LabSnapshot:
    """The whole lab as last read: namespaces by name ("" = the lab host)."""
    namespaces: dict[str, NsState] = field(default_factory=dict)
    error: str = ""          # a one-sentence problem (the lab stopped), else ""
    generation: int = 0      # grows with every snapshot
    down: bool = False       # no lab answers: it stopped, or was never started
    note: str = ""           # namespaces the lab has but the watcher does not follow, and why

    def names(self) -> list[str]:
        """The lab host first, then the student's namespaces in order."""
        return sorted(self.namespaces, key=lambda n: (n != "", n))


class _Inotify:
    """The agent's inotify descriptor on the lab's /run/netns (its `watch` request): readable
    when a namespace is added or removed."""

    def __init__(self):
        _, fds = control.request_fds("watch", 1)
        if len(fds) != 1:
            close_fds(fds)
            raise OSError("the lab handed over no watch")
        self.fd = fds[0]
        os.set_blocking(self.fd, False)

    def fileno(self) -> int:
        return self.fd

    def drain(self) -> None:
        try:
            while os.read(self.fd, 4096):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        os.close(self.fd)


class _PidFd:
    """A pidfd of the agent: select() finds it readable once the agent has exited."""

    def __init__(self, fd: int):
        self.fd = fd

    @classmethod
    def open(cls, pid: int) -> "_PidFd | None":
        """None where pidfds are not available (then the once-a-second check notices)."""
        try:
            return cls(os.pidfd_open(pid))
        except (AttributeError, OSError):
            return None

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        os.close(self.fd)


class LabWatcher:
    """Keeps a LabSnapshot of the running lab up to date and reports each change."""

    def __init__(self, emit: Callable[[LabSnapshot], None]):
        self.emit = emit
        self.readers: dict[str, NetlinkReader] = {}
        self.snapshot = LabSnapshot()
        self._agent: tuple[int, int] | None = None    # (pid, inode of its netns)
        self._inotify: _Inotify | None = None
        self._pidfd: _PidFd | None = None            # readable once the agent has exited
        self._last_pid = 0                            # the agent we last followed
        self._unopened: set[str] = set()              # listed, but could not be entered
        self._retry_at = 0.0                          # when to try those again (0: never)
        self._retry_wait = RETRY
        self._skipped: set[str] = set()               # listed, but more than we may follow
        self._fd_cap: int | None = None               # at most this many, just after running out
        self._following = 0                           # namespaces we last tried to follow
        self._note = ""
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._lock = threading.Lock()
        self._want_rules = True
        self._want_reconnect = True
        self.stopped = False
        self._ended = False

    # -- called from other threads ----------------------------------------------------------
    def refresh(self, rules: bool = True, reconnect: bool = False) -> None:
        """Ask for a fresh snapshot soon (after a command, a reset, or the student's request)."""
        with self._lock:
            self._want_rules |= rules
            self._want_reconnect |= reconnect
        self._wake()

    def stop(self) -> None:
        """End `run()` soon; it closes every socket it holds."""
        self.stopped = True
        self._wake()

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> None:
        """Follow the lab until stop(). Blocking: run it in a thread."""
        dirty: set[str] = set()
        last_read = 0.0
        last_check = 0.0
        try:
            while not self.stopped:
                try:
                    dirty, last_read, last_check = self._turn(dirty, last_read, last_check)
                except OSError as exc:
                    if exc.errno not in OUT_OF_FDS:
                        raise
                    dirty = self._out_of_fds()
                except control.Busy:      # slow, not gone: keep what is shown, ask again soon
                    with self._lock:
                        self._want_reconnect = True
                    time.sleep(0.2)
                except control.LabError as exc:   # a door that is not the lab's: say so, retry
                    self._agent = None
                    if self.snapshot.error != str(exc):
                        self._publish(LabSnapshot(error=str(exc), down=True))
                    time.sleep(0.5)
        finally:
            self._disconnect()
            self._ended = True
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _wake(self) -> None:
        """Poke the loop; once it has ended its pipe is closed (and the number may be another
        file's by now): then there is no one to poke."""
        if not self._ended:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass

    def _turn(self, dirty: set[str], last_read: float, last_check: float) -> tuple[set[str], float, float]:
        """One pass of the loop: (re)connect if needed, wait for events, re-read what changed."""
        with self._lock:
            reconnect, self._want_reconnect = self._want_reconnect, False
        if self._retry_at and time.monotonic() >= self._retry_at:
            reconnect = True
        if (reconnect or self._agent is None
                or self._agent_changed(time.monotonic() - last_check >= IDLE_CHECK)):
            last_check = time.monotonic()
            if self._connect():
                dirty = set(self.readers)
                self._want_rules = True
            else:
                time.sleep(0.5)
                return dirty, last_read, last_check
        waiting: list = [*self.readers.values(), self._wake_r]
        if self._inotify:
            waiting.append(self._inotify)
        if self._pidfd:
            waiting.append(self._pidfd)
        timeout = max(0.0, last_read + DEBOUNCE - time.monotonic()) if dirty else IDLE_CHECK
        if self._retry_at:
            timeout = min(timeout, max(0.0, self._retry_at - time.monotonic()))
        for item in _readable(waiting, timeout):
            if item is self._wake_r:
                _drain_pipe(self._wake_r)
                dirty = set(self.readers)
                if not self.stopped and self._namespaces_changed():
                    with self._lock:
                        self._want_reconnect = True
            elif item is self._inotify:
                self._inotify.drain()
                with self._lock:
                    self._want_reconnect = True
            elif item is self._pidfd:      # the agent is gone: say so now
                self._agent = None
                with self._lock:
                    self._want_reconnect = True
            elif item.drain():
                dirty.add(item.name)
        if dirty and self.readers and time.monotonic() - last_read >= DEBOUNCE:
            last_read = time.monotonic()
            dirty = self._read(dirty)
        return dirty, last_read, last_check

    def _out_of_fds(self) -> set[str]:
        """This process ran out of file descriptors: follow half as many namespaces, say so,
        and connect again soon (a socket that was dropped could have missed events)."""
        self._close_readers()
        self._fd_cap = self._following // 2
        self._note = "this app ran out of file descriptors: it follows fewer namespaces"
        if not self.snapshot.down:
            self._publish(replace(self.snapshot))
        with self._lock:
            self._want_reconnect = True
        time.sleep(0.5)    # what used the descriptors may give them back meanwhile
        return set()

    def _followable(self, names: list[str]) -> list[str]:
        """The lab host and as many namespaces (in order) as we may follow; the rest are noted."""
        wanted = len(names) - 1
        limit, why = min(MAX_FOLLOWED, wanted), "too many to show"
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        free = soft - len(os.listdir("/proc/self/fd")) - FD_RESERVE - 1   # (-1: the lab host)
        if free < limit:
            limit, why = max(0, free), f"this app may open only {soft} files (ulimit -n)"
        if self._fd_cap is not None and self._fd_cap < limit:
            limit, why = self._fd_cap, "this app ran out of file descriptors"
        self._fd_cap = None   # for one connection: the next one counts the free descriptors again
        kept = names[:1 + limit]
        self._following = limit
        self._skipped = set(names[1 + limit:])
        self._note = f"following {limit} of {wanted} namespaces: {why}" if self._skipped else ""
        return kept

    def _agent_changed(self, check: bool) -> bool:
        """True when the lab was reset or restarted under us (checked at most once a second)."""
        if not check:
            return False
        return self._agent != control.identity()

    def _connect(self) -> bool:
        """(Re)open netlink sockets for the lab host and every namespace; False if no lab runs."""
        self._close_readers()
        info = control.status()
        if info is None:
            self._agent = None
            self._close_inotify()
            if not self.snapshot.down:
                name = control.lab_name()
                error = (f"the lab {name!r} stopped (agent pid {self._last_pid} is gone)"
                         if self._last_pid else f"the lab {name!r} is not running")
                self._publish(LabSnapshot(error=error, down=True))
            return False
        if self._agent is None or self._agent[0] != info.pid or self._inotify is None:
            self._close_inotify()
            self._pidfd = _PidFd.open(info.pid)
            self._last_pid = info.pid
            try:
                self._inotify = _Inotify()
            except (OSError, control.LabError):
                self._inotify = None   # then namespaces are found after each command only
            info = control.status() or info   # listed after the watch began: none slips through
        self._agent = control.identity()
        names = self._followable(["", *info.namespaces])
        sockets = _open_sockets(names)
        if "" not in sockets:   # the lab host itself: the agent is busy or going; try again
            close_fds(list(sockets.values()))
            with self._lock:
                self._want_reconnect = True
            return False
        self.readers = {name: NetlinkReader(fd, name) for name, fd in sockets.items()}
        # `ip netns add` makes the file before it mounts the namespace on it; a student can
        # make a file there that never is one: look again soon, then less and less often
        unopened = set(names) - set(sockets)
        if unopened:
            self._retry_wait = RETRY if unopened != self._unopened else min(self._retry_wait * 2, IDLE_CHECK)
            self._retry_at = time.monotonic() + self._retry_wait
        else:
            self._retry_at = 0.0
        self._unopened = unopened
        return True

    def _namespaces_changed(self) -> bool:
        """After a command: does the lab list other namespaces than we follow? (belt and braces)"""
        info = control.status()
        followed = (set(self.readers) - {""}) | self._unopened | self._skipped
        return info is None or set(info.namespaces) != followed

    def _disconnect(self) -> None:
        self._close_readers()
        self._close_inotify()

    def _close_readers(self) -> None:
        for reader in self.readers.values():
            reader.close()
        self.readers = {}

    def _close_inotify(self) -> None:
        if self._inotify:
            self._inotify.close()
            self._inotify = None
        if self._pidfd:
            self._pidfd.close()
            self._pidfd = None

    def _read(self, dirty: set[str]) -> set[str]:
        """Re-dump the dirty namespaces and publish; returns namespaces that changed meanwhile."""
        again: set[str] = set()
        namespaces = {n: s for n, s in self.snapshot.namespaces.items() if n in self.readers}
        for name in dirty:
            reader = self.readers.get(name)
            if reader is None:
                continue
            try:
                state, events = reader.read()
            except OSError:
                with self._lock:
                    self._want_reconnect = True
                continue
            old = namespaces.get(name)
            if old:
                state.rules, state.ip_forward = old.rules, old.ip_forward
            namespaces[name] = state
            if events:
                again.add(name)
        with self._lock:
            rules, self._want_rules = self._want_rules, False
        if namespaces != self.snapshot.namespaces or self.snapshot.error:
            self._publish(LabSnapshot(namespaces))
        if rules:   # one lab command (~30 ms): after the netlink tables are on their way
            namespaces = {n: replace(s) for n, s in namespaces.items()}
            _read_rules(namespaces)
            if namespaces != self.snapshot.namespaces:
                self._publish(LabSnapshot(namespaces))
        return again

    def _publish(self, snapshot: LabSnapshot) -> None:
        if not snapshot.down:
            snapshot.note = self._note
        snapshot.generation = self.snapshot.generation + 1
        self.snapshot = snapshot
        self.emit(snapshot)


def _open_sockets(names: list[str]) -> dict[str, int]:
    """A netlink socket per namespace the agent can enter, by name (CHUNK at a time)."""
    sockets: dict[str, int] = {}
    try:
        for i in range(0, len(names), CHUNK):
            sockets.update(_open_chunk(names[i:i + CHUNK]))
    except OSError:    # out of descriptors: none of these is half-held
        close_fds(list(sockets.values()))
        raise
    return sockets


def _open_chunk(names: list[str]) -> dict[str, int]:
    """One request for all of `names`; if that fails (a namespace not mounted yet makes the
    agent refuse) or comes back short (one deleted meanwhile: the answer can no longer be paired
    by order), one request per namespace, skipping the ones that fail."""
    try:
        _, fds = control.request_fds("netlink", len(names), namespaces=names)
    except control.LabError:
        fds = []
    if len(fds) == len(names):
        return dict(zip(names, fds))
    close_fds(fds)
    sockets: dict[str, int] = {}
    for name in names:
        try:
            _, fds = control.request_fds("netlink", 1, namespaces=[name])
        except control.LabError:
            continue
        except OSError:    # out of descriptors: give back what this chunk holds
            close_fds(list(sockets.values()))
            raise
        if fds:
            sockets[name] = fds[0]
            close_fds(fds[1:])
    return sockets




def _read_rules(namespaces: dict[str, NsState]) -> None:
    """Fill in iptables rules and ip_forward for every namespace, with one lab command."""
    try:
        out = client.run(RULES_SCRIPT, timeout=10).stdout
    except control.LabError:
        return
    current: NsState | None = None
    lines: list[str] = []
    for line in out.splitlines() + ["@@ns \0end"]:
        if line.startswith("@@ns "):
            if current is not None:
                current.rules = "\n".join(lines)
            current, lines = namespaces.get(line[5:]), []
        elif line.startswith("@@fwd ") and current is not None:
            current.ip_forward = line[6:].strip()
        else:
            lines.append(line)


def _readable(items: list, timeout: float) -> list:
    """Those of `items` (descriptors, or objects with fileno()) that are readable, or closed,
    within `timeout` seconds. poll(), not select(): select() refuses descriptors past 1023."""
    poller = select.poll()
    by_fd = {}
    for item in items:
        fd = item if isinstance(item, int) else item.fileno()
        by_fd[fd] = item
        poller.register(fd, select.POLLIN)
    return [by_fd[fd] for fd, _ in poller.poll(timeout * 1000)]


def _drain_pipe(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass
