"""The machine's tools the lab runs, from tools.txt: each command's Debian package, and the
commands only one lesson needs (`tutor doctor` reports them; a reset of that lesson names what
is missing). bin/_setup.sh reads tools.txt too."""

from __future__ import annotations

import os

from tutor.i18n import Msg


def _rows() -> list[list[str]]:
    with open(os.path.join(os.path.dirname(__file__), "tools.txt"), encoding="utf-8") as f:
        return [line.split() for line in f if line.strip() and not line.startswith("#")]


TOOLS = {row[0]: row[1] for row in _rows()}                      # command -> package
FOR_LESSON = {row[0]: row[2] for row in _rows() if len(row) > 2}  # command -> the lesson needing it


def sbin_path() -> str:
    """PATH with the sbin folders, where a plain user's PATH may lack them."""
    return os.environ.get("PATH", "") + ":/usr/sbin:/sbin"


def missing_for(lesson: str) -> str | None:
    """One sentence saying what lesson `lesson` needs that this machine lacks, or None."""
    import shutil  # here: a lab's start reads this module (via doctor), and needs no shutil
    missing = [cmd for cmd, needs in FOR_LESSON.items()
               if needs == lesson and shutil.which(cmd, path=sbin_path()) is None]
    if not missing:
        return None
    packages = " ".join(sorted({TOOLS[cmd] for cmd in missing}))
    return Msg("lesson {lesson} needs {tools}, which this machine does not have: install it with {cmd}",
               lesson=lesson, tools=", ".join(missing), cmd=f"`sudo apt-get install -y {packages}`")
