"""End to end: terminal controls from the lab reach the real `tutor` in tmux as visible text.

A namespace whose name carries OSC 0 (retitle the window) and RIS (reset the terminal) shows in
the namespace tabs, the tables and the map, each control as caret text; a command prints RIS,
DECALN (`ESC #8`: fill the screen with E) and OSC 0 ended by ST, which the console's terminal
emulator (`tutor.app.vterm`) takes in: RIS clears only that command's own screen, DECALN and
the title are dropped. The real terminal (tmux) must act on none of it: the pane keeps its
title, the screen is neither cleared nor filled with E.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

from tmuxterm import Terminal
from tutor.lab import client, lifecycle

pytestmark = [pytest.mark.e2e, pytest.mark.lab,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]

TITLE = "untouched-title"


@pytest.fixture
def terminal(lab_name, tmp_path):
    script = Path(sys.executable).with_name("tutor")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "tutor.cli"]
    env = {"TUTOR_LAB": lab_name, "XDG_STATE_HOME": str(tmp_path / "state"),
           "TERM": "xterm-256color", "LANG": "C.UTF-8",
           "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    term = Terminal([*argv, "start", "lesson1"], env)
    try:
        yield term
    finally:
        term.kill()
        lifecycle.down(lab_name)


def _title(term: Terminal) -> str:
    return term.tmux("display-message", "-p", "-t", "t", "#{pane_title}").strip()


def test_controls_from_the_lab_never_reach_the_terminal(terminal, lab_name):
    terminal.wait_for("root@lab:/#")
    terminal.wait_for("Step 1 of 5")
    terminal.tmux("select-pane", "-t", "t", "-T", TITLE)
    assert _title(terminal) == TITLE
    # from another terminal, as `tutor shell` would: the watcher shows it in tabs, tables, map
    r = client.run(r"ip netns add $'x\e]0;pwned\a' && ip netns add $'y\ec'"
                   r" && ip link add $'v\e#8' type veth peer name $'w\e]0;t\a'")
    assert r.returncode == 0, r.stderr
    terminal.wait_for("x^[]0;pwned^G")           # the namespace's tab
    terminal.keys("F10", "F10", "F10", "F10", "F10")   # links → addr → routes → arp → iptables → map
    terminal.wait_for("╭")
    terminal.keys("F10")                          # back to links: the veth's names in a table
    terminal.wait_for("v^[#8@w^[]0;t^G")
    terminal.type(r"printf '\033c\033#8\033]0;pwned\033\\'; echo; echo done-printing")
    screen = terminal.wait_for("done-printing")
    time.sleep(0.5)                               # whatever the terminal did would show by now
    screen = terminal.screen()
    assert "\ndone-printing" in screen.replace("│", "\n")
    assert "pwned^[" not in screen, screen          # the title went nowhere, not even shown
    assert not re.search("E{12}", screen), screen   # DECALN fills every cell with E
    assert "root@lab:/#" in screen and "Step 1 of 5" in screen, screen   # not cleared by RIS
    assert _title(terminal) == TITLE
