"""What `tutor.lab.lifecycle` takes from the lines a starting agent writes on its ready pipe."""

from __future__ import annotations

import os

from tutor.lab.lifecycle import _pidfd, _said_pid


def test_the_pid_the_agent_said_is_read_from_its_pid_line_only():
    assert _said_pid(["pid 4242", "ready"]) == 4242
    assert _said_pid(["ready hidden /sys", "pid 17"]) == 17
    for lines in ([], ["ready"], ["pid"], ["pid x1"], ["pid 1 2"], ["pid -3"], ["error pid 5"]):
        assert _said_pid(lines) is None, lines


def test_a_pidfd_is_opened_only_on_a_pid_that_was_said():
    assert _pidfd(_said_pid(["ready"])) == -1
    assert _pidfd(_said_pid([f"pid {2 ** 22 + 1}"])) == -1   # past any pid_max: no such process
    fd = _pidfd(_said_pid([f"pid {os.getpid()}", "ready"]))
    assert fd >= 0
    os.close(fd)
