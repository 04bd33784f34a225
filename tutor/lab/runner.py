"""Run one console command in the lab host (or one namespace of it) and stream its output in
coalesced chunks. The console runs the student's lines with it, the Packets view its tcpdump
(`tutor.lab.capture`).

The process is started by the one door to the lab (`client.popen`): `nsenter` on this side,
whose child runs the student's `bash -c` inside the lab's PID namespace. Stopping must not kill
`nsenter` first: its orphaned child would be re-parented to this machine's init and linger as a
zombie in the lab's `ps`. So Ctrl+C sends SIGINT to every *other* member of the process group
(what a terminal's Ctrl+C reaches), escalates to SIGKILL if they ignore it, and only kills
`nsenter` last. Output is read with poll() (select() refuses a descriptor numbered past
1023, which an app holding a socket per namespace can reach) and handed over at most every
FLUSH seconds, and the part of a flood (`yes`) that nobody could read is dropped with a
note. A line longer than MAX_LINE characters (`cat /dev/zero`, which never ends its line) is
cut there with a note: the console keeps whole lines, and one that grows forever would take
the app's memory with it. Terminal controls in the output are left to the console, which
shows everything it is handed through `tutor.sanitize` (once, at the one place text enters
its scrollback).
While it runs, the command's process group is registered with the keeper (`keeper.py`), which
kills it should the app die first.

Never imports Textual: `CommandRunner.run()` takes plain callbacks.
"""

from __future__ import annotations

import codecs
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable

from tutor.lab import client, control
from tutor.lab.keeper import keeper

FLUSH = 0.05           # seconds between output chunks handed to the UI
MAX_PENDING = 256_000  # characters kept between two flushes; older ones are dropped
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

    def __init__(self, cmdline: str, netns: str | None = None):
        self.cmdline = cmdline
        self.netns = netns
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

    def run(self, output: Callable[[str], object], cancelled: Callable[[], bool] = lambda: False) -> int:
        """Run to the end, calling `output(text)` with coalesced chunks; returns the exit status.

        `cancelled()` (the worker's flag) ends the command as Ctrl+C would.
        """
        if "\0" in self.cmdline:
            # no argv can carry it; Popen's ValueError would end the worker before it reports
            output("tutor: a command line cannot contain a NUL character (^@)\n")
            return 2
        try:
            self.proc = client.popen(self.cmdline, netns=self.netns, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        except (control.LabError, OSError) as exc:
            self.lab_error = str(exc)
            output(f"tutor: {exc}\n")
            return 127
        proc = self.proc
        assert proc.stdout is not None   # made with stdout=PIPE above
        keeper.add(proc.pid)    # its own session: the group's id is its pid
        fd = proc.stdout.fileno()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending, dropped, last_flush, ended = "", 0, time.monotonic(), 0.0
        column = 0      # characters of the unfinished last line handed over so far
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        try:
            while True:
                if cancelled():
                    self.stop()
                self._escalate()
                if poller.poll(FLUSH * 1000):
                    data = os.read(fd, 65536)
                    if not data:
                        break
                    pending += decoder.decode(data)
                    if len(pending) > MAX_PENDING:
                        keep = len(pending) - MAX_PENDING // 2
                        cut = pending.find("\n", keep) + 1 or keep   # no newline: cut anyway
                        dropped += pending[:cut].count("\n")
                        pending = pending[cut:]
                now = time.monotonic()
                if pending and now - last_flush >= FLUSH:
                    text, column = cap_lines(settle_returns(pending), column)
                    output(_with_note(text, dropped))
                    pending, dropped, last_flush = "", 0, now
                if proc.poll() is not None:
                    # a backgrounded child (`sleep 9 &`) may hold the pipe open: don't wait for it
                    ended = ended or now
                    if now - ended > LINGER:
                        break
        finally:
            pending += decoder.decode(b"", final=True)
            if pending or dropped:
                output(_with_note(cap_lines(settle_returns(pending), column)[0], dropped))
            proc.stdout.close()
            status = self._wait()
            keeper.remove(proc.pid)
        return status

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


def _with_note(text: str, dropped: int) -> str:
    if not dropped:
        return text
    return f"[tutor] … {dropped} lines skipped: output came faster than it can be shown\n" + text
