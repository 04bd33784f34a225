"""A console command started ahead (`client.Standby`, `runner.Ready`): it runs the line exactly as
a command started on Enter would, only in the lab that answers now, and leaves nothing behind.
On real labs (`lab` fixture)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from labkit import wait_until
from tutor.lab import client, lifecycle
from tutor.lab.runner import CommandRunner, Ready

pytestmark = pytest.mark.lab

# what tells two ways of starting a line apart, if anything does
PROBE = 'echo "$0|$BASH_EXECUTION_STRING|$-|$PWD|$HOME|$PATH|$TERM|$(id -u)|$(cat /proc/self/cgroup | wc -l)"'


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_standby_runs_the_line_as_a_fresh_command_does(lab):
    fresh = client.popen(PROBE, info=lab, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    expected = fresh.communicate(timeout=20)[0]
    waiting = client.standby(info=lab, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    assert waiting.start(PROBE)
    got = waiting.proc.communicate(timeout=20)[0]
    assert got == expected and PROBE in got, (got, expected)
    assert waiting.proc.returncode == 0


def test_a_line_with_newlines_quotes_and_non_ascii_text_arrives_whole(lab):
    line = "printf '%s\\n' \"a  b\" 'c\"d'\necho 네임스페이스 $((6*7))"
    waiting = client.standby(info=lab, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    assert waiting.start(line)
    assert waiting.proc.communicate(timeout=20)[0] == 'a  b\nc"d\n네임스페이스 42\n'


def test_a_standby_from_before_a_reset_is_not_used(lab, lab_name):
    """The reset switched the lab host's network: a line run there would change a lab that is
    gone (and the student's command would seem to do nothing)."""
    waiting = client.standby(info=lab, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    lifecycle.reset(lab_name)
    assert not waiting.start("ip link add stale0 type bridge")
    waiting.discard()
    assert waiting.proc.returncode is not None
    shown = client.run("ip link show stale0", info=lifecycle.up(lab_name)[0])
    assert shown.returncode != 0, shown.stdout   # nothing ran in the new lab either


def test_a_standby_of_a_stopped_lab_is_not_used_and_discarding_it_does_not_hang(lab, lab_name):
    waiting = client.standby(info=lab, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    lifecycle.down(lab_name)
    assert not waiting.start("true")
    waiting.discard()
    assert waiting.proc.returncode is not None


def test_discarding_a_standby_ends_its_process_group(lab):
    waiting = client.standby(info=lab, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    pid = waiting.proc.pid
    waiting.discard()
    assert waiting.proc.returncode == 0   # it read the end of its line and left
    assert _gone(pid)
    assert not waiting.start("true")      # and is never used after


def test_the_runner_runs_in_a_ready_command_at_its_own_size(lab):
    """Made while the console was 80 columns wide, run when it is 101: the command sees 101."""
    ready = Ready((80, 24))
    pid = ready.standby.proc.pid
    chunks: list[str] = []
    runner = CommandRunner("echo cols=$(tput cols) lines=$(tput lines) pid=$$", size=(101, 33))
    assert runner.run(chunks.append, ready=ready) == 0
    assert runner.proc is not None and runner.proc.pid == pid   # the one started ahead
    assert "cols=101 lines=33" in "".join(chunks), chunks


def test_the_runner_discards_a_stale_ready_and_runs_the_line_fresh(lab, lab_name):
    ready = Ready((80, 24))
    pid = ready.standby.proc.pid
    lifecycle.reset(lab_name)
    chunks: list[str] = []
    runner = CommandRunner("ip link add fresh0 type bridge && echo made", size=(80, 24))
    assert runner.run(chunks.append, ready=ready) == 0
    assert runner.proc is not None and runner.proc.pid != pid
    assert "made" in "".join(chunks)
    assert client.run("ip link show fresh0", info=lab).returncode == 0   # in the lab as it is now
    assert _gone(pid) and ready.master is None


# The app, killed (SIGKILL) at the moment it registers a console command with the keeper. With
# `popen` and then `keeper.add`, the command was already on its way and ran on, unregistered.
DIES_REGISTERING = """
import os, signal, sys
from tutor.lab import keeper, runner
def add(pgid):
    print(pgid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
keeper.keeper.add = add
runner.CommandRunner(sys.argv[1]).run(print)
"""


def _ended(pid: int) -> bool:
    """Gone, or a zombie that its new parent has not collected yet."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_command_whose_app_dies_before_registering_it_never_runs(lab):
    line = "touch /tmp/it-ran; exec sleep 100"
    app = subprocess.run([sys.executable, "-c", DIES_REGISTERING, line], env=dict(os.environ),
                         capture_output=True, text=True, timeout=60)
    assert app.returncode == -signal.SIGKILL and app.stdout.strip().isdigit(), (app.stdout, app.stderr)
    # the command's process (its nsenter, outside the lab) ends without running the line
    pid = int(app.stdout)
    assert wait_until(lambda: _ended(pid), timeout=10), client.run("ps -eo pid=,args=", info=lab).stdout
    assert client.run("ls /tmp/it-ran", info=lab).returncode != 0
    assert "sleep" not in client.run("ps -eo args=", info=lab).stdout


def _group_ended(pgid: int) -> bool:
    """No process of group `pgid` (its leader's pid) is left but zombies, so none holds the
    standby's pipe."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return False
    return True


def test_a_line_that_cannot_be_handed_over_leaves_nothing_registered(lab):
    """Its process died before it got its line: the error is raised, the process group is
    registered and then unregistered (an id left with the keeper could be another group's later).

    The whole group must have ended before the line is handed over, not only its first process:
    under load another of its processes could still hold the pipe, and the line then went in
    (seen once in five runs beside two busy loops)."""
    added: list[int] = []
    removed: list[int] = []

    def add(pid: int) -> None:
        added.append(pid)
        os.killpg(pid, signal.SIGKILL)
        assert wait_until(lambda: _group_ended(pid), timeout=10)

    with pytest.raises(OSError):
        client.popen_registered("touch /tmp/never", add, removed.append, info=lab,
                                stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    assert added == removed and len(added) == 1
    assert client.run("ls /tmp/never", info=lab).returncode != 0
