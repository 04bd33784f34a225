"""The real `tutor` in a detached tmux pane of fixed size, for end-to-end tests.

One tmux server per Terminal, on a private socket; `kill()` ends the server and waits for the
program in the pane by its pid, so nothing outlives a test.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time


class Terminal:
    """The real `tutor` in a detached tmux pane (120x40) on a private tmux server."""

    def __init__(self, argv: list[str], env: dict[str, str], remain: bool = False):
        """`remain`: the pane stays on the screen after the program exits, so what it printed
        last can be read (set in the same tmux command, before the program can end)."""
        self.socket = f"tutor-term-{os.getpid()}-{random.randrange(1 << 30):x}"
        # COLUMNS/LINES in this process's environment would pin the app to their size
        command = " ".join(["exec", "env", "-u", "COLUMNS", "-u", "LINES",
                            *(f"{k}={v}" for k, v in env.items()), *argv])
        self.tmux("new-session", "-d", "-x", "120", "-y", "40", "-s", "t", command,
                  *([";", "set-option", "-w", "-t", "t", "remain-on-exit", "on"] if remain else []))
        self.pid = int(self.tmux("display-message", "-p", "-t", "t", "#{pane_pid}").strip())

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              timeout=10).stdout

    def keys(self, *keys: str) -> None:
        """Press keys, by tmux's names (`Enter`, `C-c`, `F3`)."""
        self.tmux("send-keys", "-t", "t", *keys)

    def type(self, line: str) -> None:
        self.tmux("send-keys", "-t", "t", "-l", line)
        self.tmux("send-keys", "-t", "t", "Enter")

    def paste(self, text: str, bracketed: bool = True) -> None:
        """Paste `text` as a terminal does: bracketed (one paste event, when the program asked
        for it), or not (every character arrives as a keystroke)."""
        subprocess.run(["tmux", "-L", self.socket, "load-buffer", "-"], input=text, text=True,
                       capture_output=True, timeout=10, check=False)
        self.tmux("paste-buffer", *(["-p"] if bracketed else []), "-t", "t")

    def screen(self, history: bool = False) -> str:
        """The pane as it shows now; with `history`, the lines scrolled off above it first."""
        return self.tmux("capture-pane", "-t", "t", "-p", *(["-S", "-"] if history else []))

    def wait_for(self, text: str, timeout: float = 15.0, history: bool = False) -> str:
        """The screen once `text` is on it (`history`: or scrolled off it)."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen(history)
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on the screen after {timeout:g} s:\n{screen}")
            time.sleep(0.05)

    def kill(self) -> None:
        """End the tmux server, and the program in it by its pid if it is still there."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)
        wait_gone(self.pid, 5.0)


def wait_gone(pid: int, timeout: float) -> bool:
    """True once `pid` has exited (SIGKILL after `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return True
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return False
