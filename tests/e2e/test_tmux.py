"""End to end: the real `tutor start lesson1` in a detached tmux terminal of fixed size.

Keys go in with `tmux send-keys`, the screen comes back with `capture-pane`. The tmux server
(on its own socket) and the lab are always ended, even when an assertion fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tutor.lab import client

pytestmark = [pytest.mark.e2e, pytest.mark.lab,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]


def _tutor_argv() -> list[str]:
    script = Path(sys.executable).with_name("tutor")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tutor.cli"]


class Terminal:
    """One tmux server on a private socket, running one command in a 120x40 window."""

    def __init__(self, argv: list[str], env: dict[str, str]):
        self.socket = f"tutor-e2e-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        command = " ".join(["env", *(f"{k}={v}" for k, v in env.items()), *argv])
        self.tmux("new-session", "-d", "-x", "120", "-y", "40", "-s", "course", command)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              check=True, timeout=10).stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "course", *keys)

    def type(self, line: str) -> None:
        self.tmux("send-keys", "-t", "course", "-l", line)
        self.keys("Enter")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-t", "course", "-p")

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear within {timeout:g} s; the screen:\n{screen}")
            time.sleep(0.1)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def terminal(lab_name, tmp_path):
    env = {"TUTOR_LAB": lab_name, "XDG_STATE_HOME": str(tmp_path / "state"), "TERM": "xterm-256color",
           "LANG": "C.UTF-8", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    term = Terminal([*_tutor_argv(), "start", "lesson1"], env)
    try:
        yield term
    finally:
        term.kill()
        client.down(lab_name)


def test_tutor_in_a_terminal_runs_commands_and_turns_a_step_green(terminal, lab_name):
    terminal.wait_for("root@lab:/#")
    terminal.wait_for("Step 1 of 5")
    terminal.type("ip netns add red")
    terminal.type("ip netns add blue")
    terminal.type("ip netns")
    terminal.wait_for("Step 2 of 5")              # step 1 went green and the next one opened
    screen = terminal.wait_for("blue")
    assert "red" in screen
    assert set(client.status(lab_name).namespaces) == {"red", "blue"}   # the same lab as the CLI's
    terminal.keys("F7")                           # back to step 1: its checks are ticked
    screen = terminal.wait_for("✓ netns red")
    assert "✓ netns blue" in screen
    terminal.type("sleep 100")
    time.sleep(0.5)
    terminal.keys("C-c")                          # the real terminal's Ctrl+C stops it
    terminal.wait_for("^C")
    terminal.type("echo after-sleep")
    terminal.wait_for("after-sleep")
