"""End to end: `tutor demo lesson2 --auto` (and `routing`, `dns`) plays the lesson by itself in a real terminal.

The real `tutor` runs in a detached tmux session (its own socket, 120x40); the screen is read
with `capture-pane` while it plays. Afterwards `tutor verify lesson2` from outside must find the
lab finished. The tmux server and the lab are always ended, even when an assertion fails.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tutor.lab import lifecycle

TMUX = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
PLAY_TIMEOUT = 120.0


def _tutor_argv() -> list[str]:
    script = Path(sys.executable).with_name("tutor")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tutor.cli"]


def _env(lab_name: str, tmp_path: Path) -> dict[str, str]:
    return {"TUTOR_LAB": lab_name, "XDG_STATE_HOME": str(tmp_path / "state"),
            "TERM": "xterm-256color", "LANG": "C.UTF-8",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def _play(lesson_id: str, lab_name: str, tmp_path: Path) -> tuple[str, list[str], dict[str, str]]:
    """`tutor demo LESSON --auto` in a detached tmux terminal until it exits: (its exit status,
    the screens seen while it played, its environment). The tmux server is always ended."""
    env = _env(lab_name, tmp_path)
    status_file = tmp_path / "status"
    argv = [*_tutor_argv(), "demo", lesson_id, "--auto", "--delay", "0.2", "--speed", "1000"]
    # the exit status outlives the window: the shell writes it down once tutor has exited
    script = f"{shlex.join(argv)}; echo $? > {shlex.quote(str(status_file))}"
    # COLUMNS/LINES may be in this process's C environment (GNU readline exports them when a
    # library initialises it) and would pin the app to 80x24 whatever the window's size
    command = shlex.join(["env", "-u", "COLUMNS", "-u", "LINES",
                          *(f"{k}={v}" for k, v in env.items()), "sh", "-c", script])
    socket = f"tutor-demo-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    def tmux(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True,
                              timeout=10)

    screens: list[str] = []
    try:
        assert tmux("new-session", "-d", "-x", "120", "-y", "40", "-s", "demo", command).returncode == 0
        deadline = time.monotonic() + PLAY_TIMEOUT
        while not status_file.exists():
            assert time.monotonic() < deadline, (
                f"the demo did not end within {PLAY_TIMEOUT:g} s; the screen:\n"
                + (screens[-1] if screens else "(none)"))
            shot = tmux("capture-pane", "-t", "demo", "-p")
            if shot.returncode == 0 and shot.stdout.strip():
                screens.append(shot.stdout)
            time.sleep(0.2)
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, timeout=10)
    return status_file.read_text().strip(), screens, env


def _finished(lesson_id: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`tutor verify LESSON` from outside the demo, on its lab."""
    return subprocess.run([*_tutor_argv(), "verify", lesson_id], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.e2e
@pytest.mark.lab
@TMUX
@pytest.mark.slow(35)
def test_auto_demo_plays_lesson2_and_leaves_it_finished(lab_name, tmp_path):
    try:
        status, screens, env = _play("lesson2", lab_name, tmp_path)
        seen = "\n".join(screens)
        last_shown = next((s for s in reversed(screens) if "DEMO" in s), "(none)")
        assert status == "0", f"tutor demo exited {status}; its last screen:\n{last_shown}"
        assert "▶ DEMO  lesson2" in seen and "auto, 0.2 s apart" in seen
        # the commands were typed into the console and ran there, from the first to the last
        for command in ("ip link add br0 type bridge", "ip link set veth10 netns container10",
                        "ip link set brid11 master br0"):
            assert f"root@lab:/# {command}" in seen, f"{command!r} never showed in the console"
        assert "3 packets transmitted, 3 received" in seen
        assert "Lesson complete!" in seen
        assert "type a command" not in seen          # nobody is invited to type: the demo does
        # a demo does not count as the student's work
        assert not (tmp_path / "state" / "netns-tutor" / "progress.json").exists()
        verify = _finished("lesson2", env)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "lesson complete" in verify.stdout
    finally:
        lifecycle.down(lab_name)


@pytest.mark.e2e
@pytest.mark.lab
@TMUX
@pytest.mark.parametrize("lesson_id", ["routing", "dns"])
@pytest.mark.slow(50)
def test_auto_demo_plays_the_basics_lessons(lesson_id, lab_name, tmp_path):
    """The two lessons before lesson1 play by themselves too, to the finished lesson."""
    try:
        status, screens, env = _play(lesson_id, lab_name, tmp_path)
        seen = "\n".join(screens)
        assert status == "0", f"tutor demo exited {status}; its last screen:\n{screens[-1] if screens else ''}"
        assert f"▶ DEMO  {lesson_id}" in seen and "Lesson complete!" in seen
        verify = _finished(lesson_id, env)
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        lifecycle.down(lab_name)


@pytest.mark.parametrize("args, says", [
    (["demo", "lesson9"], "there is no lesson 'lesson9'"),
    (["demo", "lesson2", "--loop"], "--loop"),
    (["demo", "lesson2", "--auto", "--speed", "0"], "--speed"),
    (["demo", "lesson2", "--auto", "--delay", "-1"], "--delay"),
])
def test_demo_usage_errors_exit_2_with_one_sentence(args, says, tmp_path):
    result = subprocess.run([*_tutor_argv(), *args], capture_output=True, text=True, timeout=30,
                            env={**os.environ, "TUTOR_LAB": f"never-started-{uuid.uuid4().hex[:6]}",
                                 "XDG_STATE_HOME": str(tmp_path / "state")})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tutor: ") and says in lines[0]
    assert result.stdout == ""
