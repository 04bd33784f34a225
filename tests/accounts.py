"""A second account for tests that need one: a spare uid that no account uses.

Root becomes it with setpriv; anyone else cannot, and the tests that need it skip.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def plain_user(skip: tuple[int, ...] = ()) -> tuple[int, list[str], dict[str, str]] | None:
    """A spare uid (no account has it; not in `skip`) and how to run the project's Python as
    it (argv prefix, env), or None when we cannot become another user here (not root)."""
    from tutor.lab.doctor import userns_problem
    if os.geteuid() != 0 or userns_problem(unprivileged=True):
        return None
    uid = next(u for u in range(40000, 41000) if not _known_uid(u) and u not in skip)
    import markdown_it
    site = os.path.dirname(os.path.dirname(markdown_it.__file__))
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": "/tmp",
           "PYTHONPATH": f"{REPO}:{site}", "LANG": "C.UTF-8"}
    for python in (sys.executable, "/usr/bin/python3"):
        argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", python]
        # the way the client starts the agent (setpriv itself may exec what the user cannot)
        check = ("import subprocess, sys; subprocess.run([sys.executable, '-c', "
                 "'import tutor.cli, tutor.lab.agent'], check=True)")
        probe = subprocess.run(argv + ["-c", check], env=env, capture_output=True, timeout=30)
        if probe.returncode == 0:
            return uid, argv, env
    return None


def _known_uid(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True
