"""Run one console command in the lab host (or one namespace of it) and stream its output in
coalesced chunks. The console runs the student's lines with it, the Packets view its tcpdump
(`tutor.lab.capture`).

Given a `size`, the command runs on a pty of that size (the console's): its stdout and stderr
are the slave end of a pty this process opens, so tools behave as in a terminal (curl shows no
progress meter, ping's lines come at once, `ls` colours), and the output is the raw terminal
stream, for the console's emulator (`tutor.app.vterm`) to draw. The pty is ours, not the user's
terminal, and it never becomes the lab's controlling terminal (the command starts in a new
session and opens no tty), so nothing in the lab can type into anything (see `client.command`).
Its stdin stays /dev/null: the console sends no keys, and a program waiting for them (`cat`)
would wait forever. Ctrl+C stays a signal (below), not a ^C typed into the pty: that would
need the pty as the controlling terminal of a session inside the lab, and the keeper could then
no longer end the command by its process group. Without a `size` (tcpdump), plain pipes.

The process is started by the one door to the lab (`client.popen`): `nsenter` on this side,
whose child runs the student's `bash -c` inside the lab's PID namespace. Stopping must not kill
`nsenter` first: its orphaned child would be re-parented to this machine's init and linger as a
zombie in the lab's `ps`. So Ctrl+C sends SIGINT to every *other* member of the process group
(what a terminal's Ctrl+C reaches), escalates to SIGKILL if they ignore it, and only kills
`nsenter` last. Output is read with poll() (select() refuses a descriptor numbered past
1023, which an app holding a socket per namespace can reach) and handed over at once, then at
most every FLUSH seconds, and the part of a flood (`yes`) that nobody could read is dropped with
a note. On pipes, a line longer than MAX_LINE characters (`cat /dev/zero`, which never ends its
line) is cut there with a note: one that grows forever would take the reader's memory with it
(on a pty the emulator wraps it, and its scrollback is capped). On pipes, terminal controls in
the output are left to the reader, which shows everything it is handed through
`tutor.sanitize`; on a pty, to the emulator, which acts on them and shows the rest through
`tutor.sanitize`.
The console's commands may be started ahead (`Ready`, a `client.Standby` on a pty): the process
waits in the lab while the student types, and Enter hands it the line.
While it runs, the command's process group is registered with the keeper (`keeper.py`), which
kills it should the app die first. It is registered before its line runs (`Ready`, and
`client.popen_registered` for a line started on Enter): an app killed in between leaves a
process that reads the end of its pipe and leaves, never the line running on.

Never imports Textual: `CommandRunner.run()` takes plain callbacks.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Callable

from tutor.i18n import _, said
from tutor.lab import client, control
from tutor.lab.keeper import keeper

FLUSH = 0.05           # seconds between output chunks handed to the UI
MAX_PENDING = 256_000  # characters kept between two flushes; older ones are dropped
# on a pty: what the emulator can take in one flush (pyte reads ~0.5 MB/s on a busy core)
MAX_PENDING_PTY = 16_000
MAX_LINE = 20_000      # characters of one output line shown (`ip -j link` fits); the rest is cut
CUT_NOTE = " … [tutor: line cut]"
KILL_AFTER = 1.0       # seconds a command may ignore SIGINT before SIGKILL
LINGER = 0.3           # seconds to keep reading after the command ended (backgrounded children)


def settle_returns(text: str) -> str:
    """A line rewritten with \\r (a progress counter) keeps its last version, as a terminal
    would show it; \\r\\n is a plain newline."""
    text = text.replace("\r\n", "\n")
    if "\r" in text:
        text = "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))
    return text


def group_members(pgid: int) -> list[int]:
    """PIDs (as this machine sees them) in process group `pgid`."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


class CommandRunner:
    """One command line running in the lab; `run()` blocks (thread), `stop()` is thread-safe.
    `netns` runs it in that namespace of the lab (None: the lab host)."""

    def __init__(self, cmdline: str, netns: str | None = None, size: tuple[int, int] | None = None):
        self.cmdline = cmdline
        self.netns = netns
        self.size = size        # (columns, lines) of the pty to run on; None: pipes
        self._master: int | None = None   # the pty's master end while it runs
        self.proc: subprocess.Popen | None = None
        self.stop_requested = 0.0
        self.killed = False
        self.lab_error = ""     # set when the lab could not run the command at all

    def stop(self) -> None:
        """Ctrl+C: interrupt the command (SIGINT now, SIGKILL if it is still there later)."""
        if self.stop_requested:
            return
        self.stop_requested = time.monotonic()
        self._signal(signal.SIGINT)

    def resize(self, columns: int, lines: int) -> None:
        """The console changed size: so does the pty (thread-safe; a no-op on pipes)."""
        self.size = (columns, lines)
        master = self._master
        if master is not None:
            with contextlib.suppress(OSError):   # closed meanwhile: the command has ended
                set_size(master, columns, lines)

    def _signal(self, sig: int) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        for pid in group_members(proc.pid):
            if pid != proc.pid:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass

    def run(self, output: Callable[[str], object], cancelled: Callable[[], bool] = lambda: False,
            ready: Ready | None = None) -> int:
        """Run to the end, calling `output(text)` with coalesced chunks; returns the exit status.

        `cancelled()` (the worker's flag) ends the command as Ctrl+C would. `ready` (on a pty):
        a command started ahead for the console's next line (`Ready`); it is used or discarded.
        """
        if "\0" in self.cmdline:
            # no argv can carry it; Popen's ValueError would end the worker before it reports
            output("tutor: " + _("a command line cannot contain a NUL character (^@)") + "\n")
            if ready is not None:
                ready.discard()
            return 2
        if ready is not None and not self._take(ready):
            ready.discard()
        if self.proc is None and not self._spawn(output):
            return 127
        proc = self.proc
        assert proc is not None   # taken or spawned above
        if self._master is not None:
            fd, on_pty, max_pending = self._master, True, MAX_PENDING_PTY
        else:
            assert proc.stdout is not None   # made with stdout=PIPE above
            fd, on_pty, max_pending = proc.stdout.fileno(), False, MAX_PENDING
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # the first chunk goes at once (Enter -> first output is what a student waits on), then
        # at most one every FLUSH seconds
        pending, dropped, last_flush, ended = "", 0, 0.0, 0.0
        column = 0      # characters of the unfinished last line handed over so far
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        try:
            while True:
                if cancelled():
                    self.stop()
                self._escalate()
                if poller.poll(FLUSH * 1000):
                    data = _read(fd)
                    if not data:
                        break
                    pending += decoder.decode(data)
                    if len(pending) > max_pending:
                        keep = len(pending) - max_pending // 2
                        cut = pending.find("\n", keep) + 1 or keep   # no newline: cut anyway
                        dropped += pending[:cut].count("\n")
                        pending = pending[cut:]
                now = time.monotonic()
                if pending and now - last_flush >= FLUSH:
                    text, column = (pending, 0) if on_pty else cap_lines(settle_returns(pending), column)
                    output(_with_note(text, dropped, on_pty))
                    pending, dropped, last_flush = "", 0, now
                if proc.poll() is not None:
                    # a backgrounded child (`sleep 9 &`) may hold the pipe open: don't wait for it
                    ended = ended or now
                    if now - ended > LINGER:
                        break
        finally:
            pending += decoder.decode(b"", final=True)
            if pending or dropped:
                text = pending if on_pty else cap_lines(settle_returns(pending), column)[0]
                output(_with_note(text, dropped, on_pty))
            if proc.stdout is not None:
                proc.stdout.close()
            self._close_master()
            status = self._wait()
            keeper.remove(proc.pid)
        return status

    def _take(self, ready: Ready) -> bool:
        """Run this line in `ready` (its pty set to this size first): False when it cannot."""
        if not self.size or ready.master is None:
            return False
        with contextlib.suppress(OSError):
            set_size(ready.master, *self.size)
        if not ready.standby.start(self.cmdline):
            return False
        self._master, self.proc = ready.take()
        return True

    def _spawn(self, output: Callable[[str], object]) -> bool:
        """Start the line in the lab now; False (and `lab_error`, said to `output`) if it cannot."""
        slave = None
        try:
            if self.size:
                self._master, slave = os.openpty()
                set_size(self._master, *self.size)
                out: int = slave
                err: int = slave
            else:
                out, err = subprocess.PIPE, subprocess.STDOUT
            # a new session, which never opens a tty: the pty is nobody's controlling terminal;
            # registered with the keeper before the line runs (if the app dies first, it never does)
            self.proc = client.popen_registered(self.cmdline, keeper.add, keeper.remove, netns=self.netns,
                                                stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        except (control.LabError, OSError) as exc:
            self._close_master()
            self.lab_error = said(exc)
            output(f"tutor: {self.lab_error}\n")
            return False
        finally:
            if slave is not None:
                os.close(slave)   # the command holds its own: EOF (EIO) comes when it is gone
        return True

    def _close_master(self) -> None:
        master, self._master = self._master, None
        if master is not None:
            os.close(master)

    def _escalate(self) -> None:
        """SIGKILL what ignored SIGINT; as a last resort the whole group, nsenter included."""
        if not self.stop_requested:
            return
        waited = time.monotonic() - self.stop_requested
        if waited > KILL_AFTER and not self.killed:
            self.killed = True
            self._signal(signal.SIGKILL)
        elif waited > 2 * KILL_AFTER and self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _wait(self) -> int:
        proc = self.proc
        assert proc is not None   # only after popen succeeded
        deadline = time.monotonic() + 3 * KILL_AFTER
        while proc.poll() is None and time.monotonic() < deadline:
            self._escalate()
            try:    # returns within a millisecond of the exit (a fixed sleep cost ~10 ms a command)
                proc.wait(timeout=0.02)
            except subprocess.TimeoutExpired:
                pass
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()


class Ready:
    """The console's next command, started ahead on a pty of its own (`client.Standby`): the
    console makes one while the student types, and `CommandRunner.run` hands it the line.
    It is registered with the keeper from the start, like a running command; `discard` ends it."""

    def __init__(self, size: tuple[int, int]):
        master, slave = os.openpty()
        try:
            set_size(master, *size)
            self.standby = client.standby(stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.master: int | None = master
        keeper.add(self.standby.proc.pid)

    def take(self) -> tuple[int, subprocess.Popen]:
        """The pty's master end and the process, for the runner that now owns them."""
        master, self.master = self.master, None
        assert master is not None, "a Ready is taken once"
        return master, self.standby.proc

    def discard(self) -> None:
        """Not used: its process ends and its pty closes."""
        if self.master is None:
            return
        self.standby.discard()
        keeper.remove(self.standby.proc.pid)
        master, self.master = self.master, None
        os.close(master)


def set_size(fd: int, columns: int, lines: int) -> None:
    """Set the window size of the pty whose end `fd` is (what `stty size` in it reads)."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))


def _read(fd: int) -> bytes:
    """Read what is there; b"" at the end. A pty's master says EIO once no slave is open."""
    try:
        return os.read(fd, 65536)
    except OSError as exc:
        if exc.errno == errno.EIO:
            return b""
        raise


def cap_lines(text: str, column: int, limit: int = MAX_LINE) -> tuple[str, int]:
    """`text` with every line cut at `limit` characters (once, with CUT_NOTE), and the length of
    its unfinished last line. `column` is how much of the first line was handed over before."""
    pieces = text.split("\n")
    out = []
    for i, piece in enumerate(pieces):
        start = column if i == 0 else 0
        if start + len(piece) > limit:
            piece = piece[:max(0, limit - start)] + (CUT_NOTE if start <= limit else "")
        out.append(piece)
    last_start = column if len(pieces) == 1 else 0
    return "\n".join(out), last_start + len(pieces[-1])


def _with_note(text: str, dropped: int, on_pty: bool = False) -> str:
    if not dropped:
        return text
    # (on a pty a line ends in \r\n, as the pty's own output does: \n alone only moves down)
    return (_("[tutor] … {count} lines skipped: output came faster than it can be shown").format(count=dropped)
            + ("\r\n" if on_pty else "\n") + text)
