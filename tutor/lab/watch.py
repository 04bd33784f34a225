"""Follow the live lab: netlink events in, a fresh `LabSnapshot` out, without polling tables.

`LabWatcher.run()` is a blocking loop for one thread. It holds a netlink socket per namespace
(the lab host and each of the student's namespaces), learns about new and deleted namespaces
from an inotify descriptor on the lab's `/run/netns` that the agent hands over, notices a reset
(the agent swaps the lab host's network namespace) by that namespace's inode in the agent's
status, asked once a second, and hears the agent die at once through a pidfd. iptables rules and
`ip_forward` are not netlink state: they are read with one `client.run` when asked
(`refresh(rules=True)`, after each command) — iptables has no change events the lab hands out —
for the lab host and the namespace on screen only (`watch_rules_of`).
What it publishes is the lab's one model (`tutor.lab.state.LabState`), the one the checks judge.

The first event after a quiet spell is read at once, so a change shows as soon as it happened;
during a burst (a reset replaying twenty commands) the tables are re-read at most every
DEBOUNCE seconds. Netlink tables are published before the slower rules read, not after it.

A socket per namespace costs a file descriptor, and a student can make a thousand namespaces
(`for i in $(seq 1100); do ip netns add n$i; done`). The loop waits with poll(), which takes
any descriptor number (select() stops at 1023), and follows at most MAX_FOLLOWED namespaces,
fewer when the descriptors this process may open run short (`ulimit -n`): FD_RESERVE of them
stay free for the rest of the app (a command's pipes, a verification). Should the process run
out all the same (EMFILE), the watcher follows half as many and says so (until it next
connects, and counts the free descriptors again); it never stops. The descriptors it waits on,
and how the agent hands them over, are in `watchfds`.

Never imports Textual: the app passes a callback that posts a message.
"""

from __future__ import annotations

import errno
import os
import resource
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from tutor.i18n import _
from tutor.lab import client, control, iptables
from tutor.lab.netlink import NetlinkReader, close_fds
from tutor.lab.state import HOST, IP_FORWARD, LabState, NsState
from tutor.lab.watchfds import Inotify, PidFd, drain_pipe, open_sockets, readable

DEBOUNCE = 0.05
IDLE_CHECK = 1.0
RETRY = 0.05        # first wait before opening a namespace that could not be entered, again
MAX_FOLLOWED = 200  # namespaces given live tables; a lesson uses a handful, a tab bar shows ~10
FD_RESERVE = 64     # descriptors left to the rest of the app when sockets are handed out
OUT_OF_FDS = (errno.EMFILE, errno.ENFILE)

RULES_SCRIPT = f"""
dump() {{ echo "@@ns $1"; echo "@@fwd $(cat /proc/sys/net/ipv4/ip_forward)"; iptables-save 2>&1; }}
dump {HOST}
for n in $(ip netns list | cut -d' ' -f1); do
  [ "$n" = {HOST} ] || ip netns exec "$n" bash -c "$(declare -f dump); dump $n"
done
"""


def rules_script(names: list[str] | None) -> str:
    """Read iptables and ip_forward of the lab host and of `names` (None: every namespace)."""
    if names is None:
        return RULES_SCRIPT
    head = RULES_SCRIPT.split("for n in", 1)[0]
    listed = " ".join(shlex.quote(n) for n in names if n != HOST)
    if not listed:
        return head
    return head + (f'for n in {listed}; do\n  [ -e "/run/netns/$n" ] && '
                   f'ip netns exec "$n" bash -c "$(declare -f dump); dump $n"\ndone\n')


@dataclass
class LabSnapshot:
    """The whole lab as last read, and what the watcher has to say about following it."""
    state: LabState = field(default_factory=LabState)
    error: str = ""          # a one-sentence problem (the lab stopped), else ""
    generation: int = 0      # grows with every snapshot
    down: bool = False       # no lab answers: it stopped, or was never started
    note: str = ""           # namespaces the lab has but the watcher does not follow, and why

    def names(self) -> list[str]:
        """The lab host first, then the student's namespaces in order."""
        return sorted(self.state.ns, key=lambda n: (n != HOST, n))


class LabWatcher:
    """Keeps a LabSnapshot of the running lab up to date and reports each change."""

    def __init__(self, emit: Callable[[LabSnapshot], object]):
        self.emit = emit
        self.readers: dict[str, NetlinkReader] = {}
        self.snapshot = LabSnapshot()
        self._agent: tuple[int, int] | None = None    # (pid, inode of its netns)
        self._inotify: Inotify | None = None
        self._pidfd: PidFd | None = None            # readable once the agent has exited
        self._last_pid = 0                            # the agent we last followed
        self._unopened: set[str] = set()              # listed, but could not be entered
        self._retry_at = 0.0                          # when to try those again (0: never)
        self._retry_wait = RETRY
        self._skipped: set[str] = set()               # listed, but more than we may follow
        self._fd_cap: int | None = None               # at most this many, just after running out
        self._following = 0                           # namespaces we last tried to follow
        self._listed: list[str] = []                  # the student's namespaces the lab lists
        self._note = ""
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._lock = threading.Lock()
        self._want_rules = True
        self._want_reconnect = True
        self._rules_of: list[str] = []               # student namespaces whose rules are read
        self.stopped = False
        self._ended = False

    # -- called from other threads ----------------------------------------------------------
    def refresh(self, rules: bool = True, reconnect: bool = False) -> None:
        """Ask for a fresh snapshot soon (after a command, a reset, or the student's request)."""
        with self._lock:
            self._want_rules |= rules
            self._want_reconnect |= reconnect
        self._wake()

    def watch_rules_of(self, name: str) -> None:
        """Read iptables of the lab host and of namespace `name` (the one on screen) from now on,
        and now: a namespace's rules are read when they are looked at, so a lab of a thousand
        namespaces costs a command no more than a lab of two."""
        with self._lock:
            self._rules_of = [] if name == HOST else [name]
            self._want_rules = True
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
        for item in readable(waiting, timeout):
            if item is self._wake_r:
                drain_pipe(self._wake_r)
                # the lab host and the namespace on screen: every other followed namespace
                # tells its changes by netlink event, so a command costs the same whatever the
                # number of namespaces (issue 15; all 200 re-read took ~0.3 s of a core)
                with self._lock:
                    dirty |= {HOST, *self._rules_of} & set(self.readers)
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
        self._note = _("this app ran out of file descriptors: it follows fewer namespaces")
        if not self.snapshot.down:
            self._publish(replace(self.snapshot))
        with self._lock:
            self._want_reconnect = True
        time.sleep(0.5)    # what used the descriptors may give them back meanwhile
        return set()

    def _followable(self, names: list[str]) -> list[str]:
        """The lab host and as many namespaces (in order) as we may follow; the rest are noted."""
        wanted = len(names) - 1
        limit, why = min(MAX_FOLLOWED, wanted), _("too many to show")
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        free = soft - len(os.listdir("/proc/self/fd")) - FD_RESERVE - 1   # (-1: the lab host)
        if free < limit:
            limit, why = max(0, free), _("this app may open only {count} files (ulimit -n)").format(count=soft)
        if self._fd_cap is not None and self._fd_cap < limit:
            limit, why = self._fd_cap, _("this app ran out of file descriptors")
        self._fd_cap = None   # for one connection: the next one counts the free descriptors again
        kept = names[:1 + limit]
        self._following = limit
        self._skipped = set(names[1 + limit:])
        self._note = _("following {count} of {total} namespaces: {why}").format(
            count=limit, total=wanted, why=why) if self._skipped else ""
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
                error = (_("the lab {name!r} stopped (agent pid {pid} is gone)").format(name=name, pid=self._last_pid)
                         if self._last_pid else _("the lab {name!r} is not running").format(name=name))
                self._publish(LabSnapshot(error=error, down=True))
            return False
        if self._agent is None or self._agent[0] != info.pid or self._inotify is None:
            self._close_inotify()
            self._pidfd = PidFd.open(info.pid)
            self._last_pid = info.pid
            try:
                self._inotify = Inotify()
            except (OSError, control.LabError):
                self._inotify = None   # then namespaces are found after each command only
            info = control.status() or info   # listed after the watch began: none slips through
        self._agent = control.identity()
        self._listed = [n for n in info.namespaces if n != HOST]
        names = self._followable([HOST, *self._listed])
        self._skipped |= set(info.namespaces) - set(self._listed)   # `host`: the lab host's name
        sockets = open_sockets(names)
        if HOST not in sockets:   # the lab host itself: the agent is busy or going; try again
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
        followed = (set(self.readers) - {HOST}) | self._unopened | self._skipped
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
        old_state = self.snapshot.state
        namespaces = {n: s for n, s in old_state.ns.items() if n in self.readers}
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
                state.iptables = old.iptables
            namespaces[name] = state
            if events:
                again.add(name)
        with self._lock:
            rules, self._want_rules = self._want_rules, False
            rules_of = list(self._rules_of)
        lab = LabState(list(self._listed), namespaces,
                       sysctls={k: v for k, v in old_state.sysctls.items() if k[0] in namespaces})
        if lab != old_state or self.snapshot.error:
            self._publish(LabSnapshot(lab))
        if rules:   # one lab command (~30 ms): after the netlink tables are on their way
            lab = lab.copy(ns={n: s.copy() for n, s in namespaces.items()}, sysctls=dict(lab.sysctls))
            read_rules(lab, rules_of)
            if lab != self.snapshot.state:
                self._publish(LabSnapshot(lab))
        return again

    def _publish(self, snapshot: LabSnapshot) -> None:
        if not snapshot.down:
            snapshot.note = self._note
        snapshot.generation = self.snapshot.generation + 1
        self.snapshot = snapshot
        self.emit(snapshot)


def read_rules(lab: LabState, names: list[str] | None = None) -> None:
    """Fill in iptables rules and ip_forward for the lab host and `names` (None: every
    namespace), with one lab command."""
    try:
        out = client.run(rules_script(names), timeout=10).stdout
    except control.LabError:
        return
    current: NsState | None = None
    lines: list[str] = []
    for line in out.splitlines() + ["@@ns \0end"]:
        if line.startswith("@@ns "):
            if current is not None:
                current.iptables = iptables.parse("\n".join(lines))
            current, lines = lab.ns.get(line[5:]), []
        elif line.startswith("@@fwd ") and current is not None:
            lab.sysctls[(current.name, IP_FORWARD)] = line[6:].strip()
        else:
            lines.append(line)
