"""The student's progress: steps passed per lesson, and where the student was, in the XDG state
directory.

The file: `{"format": 1, "student": ..., "lessons": {id: {"done": [...], "total": n, "updated": ...}},
"current": {"lesson": id, "step": n}}`. `current` came later: a file without it loads (the
course then resumes at the first unfinished step), and readers that do not know it (an older
`tutor`, `tutor report` of a hand-in) ignore it; a malformed `current` is ignored, never a reason
to move the file aside.

Files are read and written through `tutor.safefile`: atomic private writes; reads only of a
small regular file in folders that are the student's own. A file whose contents are not a
progress record is moved aside (never deleted) and reported; anything that cannot be read as
such a file (a folder, a FIFO, a link, too big, in someone else's folder) is left where it is,
reported, and not written over: the student goes on from an empty record, unsaved, instead of
a crash or a loss.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tutor import safefile
from tutor.i18n import Msg, about_file, cause
from tutor.plain import Plain
from tutor.settings import config_path, read_config, save_setting  # noqa: F401  (re-exported)

FORMAT = 1


def state_dir() -> Path:
    """$XDG_STATE_HOME/netns-tutor (default ~/.local/state/netns-tutor)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "netns-tutor"


def progress_path() -> Path:
    return state_dir() / "progress.json"


def handin_dir() -> Path:
    """The class drop folder: `handin/` beside the project's `tutor/` package (on a classroom
    VM, /opt/netns-tutor/handin, made by install.sh; in a checkout it does not exist)."""
    return Path(__file__).resolve().parents[1] / "handin"


def account() -> str:
    """This account's login name (from the uid, not from $USER), or the uid."""
    import pwd
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def hand_in(record: Progress, folder: Path) -> Path:
    """Copy the student's progress into `folder` as ACCOUNT.json (atomic, 0640: the folder's
    group, the teachers on a classroom VM, may read it). Returns the file's path. OSError as
    `safefile.write_shared` raises it (FileNotFoundError: no such folder)."""
    if not folder.is_dir():
        raise FileNotFoundError(2, "no such folder", str(folder))
    data = {"format": FORMAT, "student": record.student or student_name(), "lessons": record.lessons,
            "account": account(), "handed_in": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    dest = folder / f"{account()}.json"
    safefile.write_shared(dest, json.dumps(data, indent=1, sort_keys=True).encode(), 0o640)
    return dest


class Progress(Plain):
    """Steps done per lesson, plus who and when (for `tutor report`). A plain class: `tutor
    verify` saves it (see `tutor.plain`)."""
    __slots__ = ("path", "lessons", "student", "notice", "saves", "current")

    def __init__(self, path: Path, lessons: dict[str, dict] | None = None, student: str = "", notice: str = "",
                 saves: bool = True, current: tuple[str, int] | None = None):
        self.path = path
        self.lessons = {} if lessons is None else lessons
        self.student = student
        self.notice = notice    # set when a corrupt file was moved aside, or the file is left alone
        self.saves = saves      # False when the file there could not be read: never write over it
        self.current = current  # (lesson id, step number) the student last had open

    def done(self, lesson_id: str) -> set[int]:
        return set(self.lessons.get(lesson_id, {}).get("done", []))

    def mark(self, lesson_id: str, steps: set[int], total: int | None = None) -> None:
        """Record these steps as done (adds to what was done) and save."""
        entry = self.lessons.setdefault(lesson_id, {"done": []})
        new = sorted(set(entry.get("done", [])) | set(steps))
        if new == entry.get("done") and total in (None, entry.get("total")):
            return
        entry["done"] = new
        if total is not None:
            entry["total"] = total
        entry["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.save()

    def set_current(self, lesson_id: str, step: int) -> None:
        """Record the step the student has open (saved; nothing written if it is already so)."""
        if self.current == (lesson_id, step):
            return
        self.current = (lesson_id, step)
        self.save()

    def resume_point(self, lessons: list):
        """(lesson, step number) to open: the step the student last had open, unless that lesson
        is finished or gone (then the first unfinished step)."""
        if self.current:
            lesson_id, number = self.current
            lesson = next((l for l in lessons if l.id == lesson_id), None)
            if lesson and {s.number for s in lesson.steps} - self.done(lesson_id) \
                    and any(s.number == number for s in lesson.steps):
                return lesson, number
        return self.first_unfinished(lessons)

    def first_unfinished(self, lessons: list):
        """(lesson, step number) where the student should continue."""
        for lesson in lessons:
            done = self.done(lesson.id)
            for step in lesson.steps:
                if step.number not in done:
                    return lesson, step.number
        return lessons[-1], lessons[-1].steps[-1].number

    def save(self) -> None:
        """Write the record (atomically, 0600); does nothing if the file could not be read."""
        if not self.saves:
            return
        data: dict[str, object] = {"format": FORMAT, "student": self.student or student_name(),
                                   "lessons": self.lessons}
        if self.current:
            data["current"] = {"lesson": self.current[0], "step": self.current[1]}
        safefile.write_private(self.path, json.dumps(data, indent=1, sort_keys=True).encode())


def student_name() -> str:
    """The name set with `tutor config name`, else user@host (also when config.json is unusable:
    `tutor config name` says why)."""
    try:
        name = read_config().get("name")
    except (OSError, ValueError):
        name = None
    if isinstance(name, str) and name.strip():
        return name.strip()
    return default_student()


def set_student_name(name: str) -> None:
    """Save the student's name for reports (atomically; other settings kept). OSError or
    ValueError if config.json cannot be read (so it is not written over) or written."""
    save_setting("name", name)


def _aside_name(path: Path) -> Path:
    """A new name next to `path` for a corrupt file: never one that already holds an earlier one."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"progress.corrupt-{stamp}.json")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"progress.corrupt-{stamp}-{n}.json")
    return aside


def default_student() -> str:
    """user@host."""
    import getpass
    import socket
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def parse(data: object) -> tuple[dict[str, dict], str]:
    """Validate a progress document -> (lessons, student); ValueError if it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("lessons", {}), dict):
        raise ValueError(Msg("not a progress record"))
    fmt = data.get("format", FORMAT)
    if not _count(fmt):
        raise ValueError(Msg("format {fmt!r} is not a version number", fmt=fmt))
    if fmt > FORMAT:
        raise ValueError(Msg("written by a newer netns-tutor (format {fmt})", fmt=fmt))
    lessons = {}
    for key, entry in data.get("lessons", {}).items():
        if (not isinstance(entry, dict) or not isinstance(entry.get("done", []), list)
                or not all(_count(n) for n in entry.get("done", []))
                or not _count(entry.get("total", 0))):
            raise ValueError(Msg("lesson {key!r} is malformed", key=key))
        lessons[str(key)] = entry
    return lessons, str(data.get("student", ""))


def parse_current(data: object) -> tuple[str, int] | None:
    """The `current` of a progress document, (lesson id, step), or None if absent or malformed."""
    current = data.get("current") if isinstance(data, dict) else None
    if (isinstance(current, dict) and isinstance(current.get("lesson"), str)
            and _count(current.get("step")) and current["step"] > 0):
        return current["lesson"], current["step"]
    return None


def _count(value: object) -> bool:
    """A non-negative int (a step number, a total, a format version); bools are not counts."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def load(path: Path | None = None) -> Progress:
    """The saved progress, or an empty record (a corrupt file is kept aside with a notice)."""
    path = path or progress_path()
    try:
        raw = safefile.read_bytes(path)
    except FileNotFoundError:
        return Progress(path)
    except OSError as exc:
        why = about_file(exc) if isinstance(exc, safefile.UnsafeFile) else f"{path}: {exc.strerror}"
        return Progress(path, notice=Msg("could not read your progress file ({why}); "
                                         "it was left as it is and progress is not saved", why=why), saves=False)
    try:
        data = safefile.loads_json(raw)
        lessons, student = parse(data)
        return Progress(path, lessons, student, current=parse_current(data))
    except ValueError as exc:   # UnicodeDecodeError and JSONDecodeError are ValueErrors too
        aside = _aside_name(path)
        try:
            os.replace(path, aside)
            note = Msg("your progress file was unreadable ({why}); it was kept as {aside} and a new one started",
                       why=cause(exc), aside=aside)
        except OSError:
            return Progress(path, notice=Msg("your progress file {path} is unreadable ({why}); "
                                             "progress is not saved", path=path, why=cause(exc)),
                            saves=False)
        return Progress(path, notice=note)
