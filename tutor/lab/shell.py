"""F2: leave the app for a real interactive shell in the lab host, and come back."""

from __future__ import annotations

import os
import signal
import subprocess

from tutor.i18n import _, said
from tutor.lab import client, control


def open_lab_shell(app) -> str:
    """Suspend `app`, run the lab's bash until it exits, resume; returns a problem or ""."""
    try:
        cmd = client.command(client.bash_argv(None))
    except control.LabError as exc:
        return said(exc)
    try:
        with app.suspend():
            print(_("A real shell in the lab host. Type `exit` (or Ctrl+D) to return to the course."),
                  flush=True)
            try:
                subprocess.run(cmd.argv, pass_fds=cmd.fds)
            finally:
                _take_terminal_back()
    except Exception as exc:  # SuspendNotSupported under a test driver or a web terminal
        return _("cannot open a shell here ({why}); run `tutor shell` in another terminal").format(
            why=exc.__class__.__name__)
    finally:
        cmd.close()
    return ""


def _take_terminal_back() -> None:
    """Make our process group the terminal's foreground group again.

    The lab's bash runs job control inside the lab's PID namespace, where our process group is
    invisible, so on exit it cannot hand the terminal back; without this the app would resume
    as a background process that the terminal no longer serves.
    """
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)   # we are in the background right now
    try:
        os.tcsetpgrp(fd, os.getpgrp())
    except OSError:
        pass
    finally:
        signal.signal(signal.SIGTTOU, old)
        os.close(fd)
