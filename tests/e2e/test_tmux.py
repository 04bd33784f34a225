"""End to end: the real `tutor start lesson1` in a detached tmux terminal of fixed size.

Keys go in with `tmux send-keys`, the screen comes back with `capture-pane`. The tmux server
(on its own socket) and the lab are always ended, even when an assertion fails.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from tmuxterm import Terminal
from tutor.lab import client, control, lifecycle

pytestmark = [pytest.mark.e2e, pytest.mark.lab,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]


def _tutor_argv() -> list[str]:
    script = Path(sys.executable).with_name("tutor")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tutor.cli"]


@pytest.fixture
def terminal(lab_name, tmp_path):
    env = {"TUTOR_LAB": lab_name, "XDG_STATE_HOME": str(tmp_path / "state"), "TERM": "xterm-256color",
           "LANG": "C.UTF-8", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    term = Terminal([*_tutor_argv(), "start", "lesson1"], env)
    try:
        yield term
    finally:
        term.kill()
        lifecycle.down(lab_name)


def test_tutor_in_a_terminal_runs_commands_and_turns_a_step_green(terminal, lab_name):
    terminal.wait_for("root@lab:/#")
    terminal.wait_for("Step 1 of 5")
    terminal.type("ip netns add red")
    terminal.type("ip netns add blue")
    terminal.type("ip netns")
    terminal.wait_for("Step 2 of 5")              # step 1 went green and the next one opened
    screen = terminal.wait_for("blue")
    assert "red" in screen
    info = control.status(lab_name)                # the same lab as the CLI's
    assert info is not None and set(info.namespaces) == {"red", "blue"}
    terminal.keys("F7")                           # back to step 1: its checks are ticked
    screen = terminal.wait_for("✓ netns red")
    assert "✓ netns blue" in screen
    terminal.type("sleep 100")
    info, deadline = control.status(lab_name), time.monotonic() + 15
    while client.run("pgrep -x sleep", info=info).returncode != 0:   # it runs: now stop it
        assert time.monotonic() < deadline, "the console never started sleep 100 in the lab"
    terminal.keys("C-c")                          # the real terminal's Ctrl+C stops it
    terminal.wait_for("^C")
    terminal.type("echo after-sleep")
    terminal.wait_for("after-sleep")


def _rss_mb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmRSS"))


@pytest.mark.timeout(150)
@pytest.mark.slow(20)
def test_a_huge_paste_as_keystrokes_is_refused_with_memory_bounded(terminal, lab_name):
    """100 kB pasted without bracketed paste arrives as 100,000 keystrokes: the line is
    refused with one sentence, nothing runs, the app's memory stays bounded (each key used to
    queue a copy of the whole line: gigabytes), and the keys typed after it still work."""
    terminal.wait_for("Step 1 of 5")
    time.sleep(0.5)                                  # the first verification has settled
    before = _rss_mb(terminal.pid)
    terminal.paste("ip netns add big" + "x" * 100_000, bracketed=False)
    terminal.keys("Enter")                           # the refused line: not run
    terminal.type("ip netns add after")              # queued behind the paste, as in a terminal
    deadline, peak = time.monotonic() + 120, before
    while "after" not in client.run("ip netns").stdout:
        peak = max(peak, _rss_mb(terminal.pid))
        assert peak - before < 60, f"RSS grew {peak - before} MB during the paste"
        assert time.monotonic() < deadline, "the keys after the paste were never handled"
        time.sleep(0.2)
    screen = terminal.wait_for("at most 4,096 characters")
    assert screen.count("at most 4,096") == 1         # one sentence, not one per key
    assert client.run("ip netns").stdout.split() == ["after"]


def test_a_bracketed_paste_over_the_limits_is_refused_at_once(terminal, lab_name):
    """A pasted megabyte (one paste event) is refused whole with one sentence; nothing runs."""
    terminal.wait_for("Step 1 of 5")
    terminal.paste("ip netns add one\nip netns add big" + "x" * 1_000_000 + "\n")
    terminal.wait_for("paste refused")
    terminal.type("ip netns add after")
    terminal.wait_for("Step 1 of 5")
    deadline = time.monotonic() + 15
    while "after" not in client.run("ip netns").stdout and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.run("ip netns").stdout.split() == ["after"]


def test_tab_completes_in_the_prompt_and_typing_after_it_is_never_a_key(lab_name, tmp_path):
    """The real terminal, keys sent in one go: `ip net` Tab `r` stays in the prompt (Tab used to
    leave it, and `r` asked to reset the lab); whole lines with Tabs in them run as typed, a
    namespace completed from the live lab as the lab view shows it (a Tab typed ahead while
    `ip netns add` still runs cannot know the new name yet). Ctrl+Q then says on the terminal that the lab keeps
    running, and how to stop it."""
    env = {"TUTOR_LAB": lab_name, "XDG_STATE_HOME": str(tmp_path / "state"), "TERM": "xterm-256color",
           "LANG": "C.UTF-8", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    term = Terminal([*_tutor_argv(), "start", "lesson1"], env, remain=True)
    try:
        term.wait_for("Step 1 of 5")
        term.keys("ip net", "Tab", "r")
        term.wait_for("ip netns r")
        term.keys("C-c")                                     # clear the prompt
        term.keys("ip net", "Tab", "add red", "Enter")
        term.wait_for("host  red")                           # the lab view has red: Tab knows it
        term.keys("ip net", "Tab", "exec r", "Tab", "ip link set lo up", "Enter")
        deadline = time.monotonic() + 20                     # both lines ran, the second in red
        while "UP" not in client.run("ip -n red -br link show lo 2>&1").stdout:
            assert time.monotonic() < deadline, f"the typed lines did not run:\n{term.screen()}"
            time.sleep(0.1)
        screen = term.wait_for("ip netns exec red ip link set lo up")
        assert "Reset the lab" not in screen and "Set the lab up" not in screen
        info = control.status(lab_name)
        assert info is not None and info.namespaces == ("red",)
        term.keys("C-q")
        # Where the line lands depends on where the cursor was when the app took the screen:
        # on the last row, tmux's own "Pane is dead" line scrolls it off the visible screen.
        screen = term.wait_for("tutor lab down", history=True)
        assert "the lab keeps running" in screen
        assert control.status(lab_name) is not None          # as it said
    finally:
        term.kill()
        lifecycle.down(lab_name)


def test_the_console_is_a_terminal_and_passes_no_title_on(terminal, lab_name):
    """Issue 13 in the real binary: no stray mark above the prompt; a failed curl shows its error
    line, not a progress meter; `\\r` rewrites a line; a title (OSC 0) or clipboard (OSC 52)
    sequence from the lab never reaches this terminal: the pane's title stays what it was."""
    screen = terminal.wait_for("Step 1 of 5")
    # the lesson's opening note is wider than the console: its horizontal scrollbar used to
    # stand above the prompt, a stray thumb ("▏", "▌") in an empty row
    lines = screen.split("\n")
    row = next(i for i, line in enumerate(lines) if "root@lab:/# " in line)   # the prompt's
    above = lines[row - 1][lines[row].index("root@lab:/# "):]
    assert not set(above) & set("▏▎▍▌▋▊▉"), above
    title = terminal.tmux("display-message", "-p", "-t", "t", "#{pane_title}")
    terminal.type("curl http://nowhere.invalid/")
    screen = terminal.wait_for("curl: (6) Could not resolve host: nowhere.invalid", timeout=30)
    assert "% Total" not in screen and "Dload" not in screen
    terminal.type(r"printf '\e]0;pwned\a\e]2;pwned2\e\\\e]52;c;cHduZWQ=\aabc\rX\n'")
    screen = terminal.wait_for("Xbc")
    assert "pwned" not in screen.replace("0;pwned\\a", "").replace("2;pwned2", "")
    time.sleep(0.3)                               # (a title sequence would have arrived by now)
    assert terminal.tmux("display-message", "-p", "-t", "t", "#{pane_title}") == title
    buffers = terminal.tmux("list-buffers")
    assert "pwned" not in buffers                 # OSC 52 set no tmux buffer


def test_ctrl_g_on_the_help_screen_switches_language_at_the_same_step_on_the_same_lab(terminal, lab_name):
    """Issue 14: F1 then Ctrl+G opens the course in Korean, at the step that was open, on the
    lab as it was (the process is replaced; the terminal is given back first); and back."""
    terminal.wait_for("Step 1 of 5")
    terminal.type("ip netns add red")
    terminal.keys("F8")                           # step 2, not finished: the switch must keep it
    terminal.wait_for("Step 2 of 5")
    terminal.keys("F1")
    terminal.wait_for("한국어 / English")
    terminal.keys("C-g")
    terminal.wait_for("5단계 중 2단계", timeout=30)
    terminal.wait_for("도움말")                    # the footer in Korean
    info = control.status(lab_name)               # the same lab, still running, still built
    assert info is not None and "red" in info.namespaces
    terminal.keys("F4")
    terminal.wait_for("Ctrl+G")
    terminal.keys("C-g")
    terminal.wait_for("Step 2 of 5", timeout=30)
