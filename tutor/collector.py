"""Python's cyclic garbage collector while the program starts.

Starting, `tutor` makes hundreds of thousands of objects that live as long as the process: the
modules and their classes, and in the course app Textual's and the widgets' styles. The
collector walks them again and again as they are made (~70 collections while the app's
modules are imported, and a full one of ~20-30 ms just before the app's first frame, issue
13), and finds nothing to free. So `tutor.cli.run` holds it off (`hold`), and the program
says when start-up is over (`started`: the course app after its first frame, a command line
command once its command is chosen): then what exists is set aside for good (`gc.freeze`)
and the collector runs as usual on what comes after.

Only a process that `hold` held is changed: a test that builds the app in its own
interpreter keeps its collector as it was, nothing of it frozen.
"""

from __future__ import annotations

import gc

_held = False


def hold() -> None:
    """No collection until `started` (the program's first call)."""
    global _held
    if gc.isenabled():
        gc.disable()
        _held = True


def started() -> None:
    """Start-up is over: keep what it made out of every later collection, and collect again."""
    global _held
    if _held:
        _held = False
        gc.freeze()
        gc.enable()
