"""`client.one_shell`: the runs of a selftest go to one bash in the lab, each script in a
subshell of its own, and give what a process each would give; nothing of the shell outlives it."""

from __future__ import annotations

import threading
import time

import pytest

from labkit import alive, run_ok, wait_until
from tutor.lab import client, control, lifecycle

pytestmark = pytest.mark.lab

SCRIPTS = [
    "echo hi; echo err >&2; exit 3",
    "echo -n no newline at the end",
    "printf 'a\\0b\\n'; echo $((6 * 7))",
    "cat; echo stdin was empty",              # stdin is /dev/null, as for run
    "f() { return 4; }; f",
    "echo ${__tutor_script:-unset}",          # the shell's own variable is not the script's
]


def test_scripts_give_what_a_process_each_gives(mlab):
    alone = [client.run(s, info=mlab) for s in SCRIPTS]
    with client.one_shell(mlab):
        shared = [client.run(s, info=mlab) for s in SCRIPTS]
    assert [(r.returncode, r.stdout, r.stderr) for r in shared] == \
        [(r.returncode, r.stdout, r.stderr) for r in alone]


def test_one_script_leaves_nothing_to_the_next(mlab):
    with client.one_shell(mlab) as shell:
        assert client.run("x=1; cd /tmp; umask 077; trap 'echo trapped' EXIT; exit 5", info=mlab).returncode == 5
        assert client.run("echo ${x:-unset} $PWD $(umask)", info=mlab).stdout == "unset / 0022\n"
        assert client.run("if then", info=mlab).returncode == 2     # a syntax error stays in its script
        assert client.run("echo still here", info=mlab).stdout == "still here\n"
        pids = {client.run("echo $$", info=mlab).stdout for _ in range(2)}
        assert len(pids) == 1 and shell.proc is not None           # one shell served them


def test_other_threads_namespaces_and_input_go_the_usual_way(mlab):
    run_ok("ip netns add red", mlab)
    with client.one_shell(mlab) as shell:
        assert shell.proc is not None
        mine = client.run("echo $$", info=mlab).stdout
        theirs: list[str] = []
        thread = threading.Thread(target=lambda: theirs.append(client.run("echo $$", info=mlab).stdout))
        thread.start()
        thread.join()
        assert theirs and theirs[0] != mine
        assert client.run("echo $$", netns="red", info=mlab).stdout != mine
        assert client.run("cat", input="typed", info=mlab).stdout == "typed"


def test_a_script_past_its_timeout_ends_the_shell_and_runs_go_on(mlab):
    with client.one_shell(mlab) as shell:
        assert shell.proc is not None
        pid = shell.proc.pid
        result = client.run("sleep 30", info=mlab, timeout=0.3)
        assert result.returncode == 124 and "stopped after 0.3 s" in result.stderr
        assert shell.proc is None and not alive(pid)
        assert client.run("echo after", info=mlab).stdout == "after\n"


def test_a_reset_ends_the_shell_and_the_next_run_sees_the_new_lab(mlab):
    with client.one_shell(mlab):
        run_ok("ip netns add red", mlab)
        lifecycle.reset(mlab.name)
        assert run_ok("ip netns list", control.status(mlab.name)) == ""


def test_nothing_of_the_shell_is_left_after_it(mlab):
    with client.one_shell(mlab) as shell:
        assert shell.proc is not None
        pid = shell.proc.pid
        run_ok("sleep 60 >/dev/null 2>&1 & echo started", mlab)   # a process the script left
    assert not alive(pid)
    # in the lab: the agent and the `ps` of this look, nothing the shell started (the agent,
    # PID 1 of the lab, collects the killed shell in its loop)
    assert wait_until(lambda: run_ok("ps -eo pid=,args=", mlab).count("\n") == 2), \
        run_ok("ps -eo pid=,args=", mlab)


def test_big_outputs_and_what_a_script_left_writing(mlab):
    """Megabytes come through whole; what a process a script left behind writes after that
    script ended is not the next script's output."""
    with client.one_shell(mlab):
        big = client.run("head -c 3000000 /dev/zero | tr '\\0' a; head -c 1000000 /dev/zero | tr '\\0' b >&2",
                         info=mlab)
        assert (big.returncode, len(big.stdout), len(big.stderr)) == (0, 3_000_000, 1_000_000)
        assert client.run("(sleep 0.2; echo late) & echo first", info=mlab).stdout == "first\n"
        time.sleep(0.4)
        assert client.run("echo second", info=mlab).stdout == "second\n"


def _elsewhere(cmdline: str, lab) -> str:
    """`cmdline`'s output from a process of its own (another thread's runs go the usual way)."""
    out: list[str] = []
    thread = threading.Thread(target=lambda: out.append(run_ok(cmdline, lab)))
    thread.start()
    thread.join()
    return out[0]


def test_a_script_sent_ahead_runs_while_the_caller_works(mlab):
    """`run_later` (selftest judges a step while the next one's commands run): the script runs
    before its result is taken, the result is what `run` gives, and nothing else goes to the
    shell until then. Without a shell the script has run when `run_later` returns."""
    with client.one_shell(mlab):
        pending = client.run_later("echo begun > /tmp/begun; while [ ! -e /tmp/go ]; do sleep 0.01; done; "
                                   "echo ran; echo said >&2; exit 3", info=mlab)
        assert wait_until(lambda: _elsewhere("cat /tmp/begun 2>/dev/null || true", mlab) == "begun\n")
        with pytest.raises(AssertionError, match="not been answered"):
            client.run("echo too soon", info=mlab)
        _elsewhere("touch /tmp/go", mlab)
        result = pending()
        assert (result.returncode, result.stdout, result.stderr) == (3, "ran\n", "said\n")
        assert client.run("echo next", info=mlab).stdout == "next\n"
    pending = client.run_later("echo apart > /tmp/apart; echo out", info=mlab)
    assert run_ok("cat /tmp/apart", mlab) == "apart\n"
    assert pending().stdout == "out\n"
