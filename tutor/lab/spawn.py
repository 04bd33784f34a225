"""A throwaway lab's agent, forked from the process that starts the lab (selftest).

`tutor.lab.lifecycle.start(fork=True)` comes here instead of starting `python -m
tutor.lab.agent`: the child becomes the agent with the interpreter and modules this process
already loaded. Nothing here runs inside a lab: the agent builds the lab itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys


class Forked:
    """The agent's first process, forked by `fork_agent`: like the Popen it stands for, `wait`
    reaps it (it leaves as soon as the lab's PID 1 is forked)."""

    def __init__(self, pid: int):
        self.pid = pid

    def wait(self) -> int:
        return os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])


def single_threaded() -> bool:
    """No thread but this one: only then may a Python process fork and run on in the child."""
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1


def fork_agent(args: list[str], passed: tuple[int, ...], env: dict[str, str]) -> Forked:
    """Run the agent (`tutor.lab.agent.main(args)`) in a child forked from this process, set
    up as `start`'s Popen would set up a fresh one: its own session, cwd /, /dev/null for
    stdin, stdout and stderr, no descriptor but `passed`, the same environment.

    Only for a throwaway lab: the interpreter and the modules this process already loaded
    come with the fork, so the agent only imports the rest (~22 ms, where a fresh interpreter
    takes ~70 ms before the agent's first line runs), and a lab's start is the part of
    `tutor selftest` it waits for (issue 15). A lab that outlives its starter (`tutor lab up`,
    the TUI's) starts fresh and carries nothing of the process that started it."""
    pid = os.fork()
    if pid:
        return Forked(pid)
    code = 1
    try:
        os.setsid()
        os.chdir("/")
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        for fd in map(int, os.listdir("/proc/self/fd")):
            if fd > 2 and fd not in passed:
                with contextlib.suppress(OSError):
                    os.close(fd)
        os.environ.clear()
        os.environ.update(env)
        # as a fresh interpreter has them (this process may have set its own)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_DFL)
        from tutor.lab import agent
        code = agent.main(args)
    except BaseException:
        code = 1
    finally:
        os._exit(code)
