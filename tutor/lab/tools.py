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


def which(cmd: str, path: str | None = None) -> str | None:
    """The executable `cmd` in the first folder of `path` (default: `sbin_path()`) that has
    one, as `shutil.which` finds it, but never in the working folder for an empty entry.

    Not shutil's: importing it (and zlib, bz2 and lzma with it) costs ~2.5 ms, which
    `tutor selftest` paid before its first step (issue 15)."""
    for folder in (sbin_path() if path is None else path).split(os.pathsep):
        found = os.path.join(folder, cmd)
        if folder and os.access(found, os.X_OK) and not os.path.isdir(found):
            return found
    return None


def missing_for(lesson: str) -> str | None:
    """One sentence saying what lesson `lesson` needs that this machine lacks, or None."""
    missing = [cmd for cmd, needs in FOR_LESSON.items() if needs == lesson and which(cmd) is None]
    if not missing:
        return None
    packages = " ".join(sorted({TOOLS[cmd] for cmd in missing}))
    return Msg("lesson {lesson} needs {tools}, which this machine does not have: install it with {cmd}",
               lesson=lesson, tools=", ".join(missing), cmd=f"`sudo apt-get install -y {packages}`")
