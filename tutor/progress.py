"""The student's progress: steps passed per lesson, in the XDG state directory.

Writes are atomic (temp file + rename). A file that cannot be read is moved aside (never
deleted) and reported once; the student then starts from an empty record instead of a crash.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

FORMAT = 1


def state_dir() -> Path:
    """$XDG_STATE_HOME/netns-tutor (default ~/.local/state/netns-tutor)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "netns-tutor"


def progress_path() -> Path:
    return state_dir() / "progress.json"


@dataclass
class Progress:
    """Steps done per lesson, plus who and when (for `tutor report`)."""
    path: Path
    lessons: dict[str, dict] = field(default_factory=dict)
    student: str = ""
    notice: str = ""     # set when a corrupt file was moved aside

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

    def first_unfinished(self, lessons: list):
        """(lesson, step number) where the student should continue."""
        for lesson in lessons:
            done = self.done(lesson.id)
            for step in lesson.steps:
                if step.number not in done:
                    return lesson, step.number
        return lessons[-1], lessons[-1].steps[-1].number

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"format": FORMAT, "student": self.student or student_name(),
                "lessons": self.lessons}
        import tempfile
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".progress-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


def config_path() -> Path:
    """$XDG_CONFIG_HOME/netns-tutor/config.json."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "netns-tutor" / "config.json"


def student_name() -> str:
    """The name set with `tutor config name`, else user@host."""
    try:
        name = json.loads(config_path().read_text(encoding="utf-8")).get("name")
        if isinstance(name, str) and name.strip():
            return name.strip()
    except (OSError, ValueError, AttributeError):
        pass
    return default_student()


def set_student_name(name: str) -> None:
    """Save the student's name for reports (atomically)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"name": name}) + "\n", encoding="utf-8")
    os.replace(tmp, path)


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
        raise ValueError("not a progress record")
    fmt = data.get("format", FORMAT)
    if not _count(fmt):
        raise ValueError(f"format {fmt!r} is not a version number")
    if fmt > FORMAT:
        raise ValueError(f"written by a newer netns-tutor (format {fmt})")
    lessons = {}
    for key, entry in data.get("lessons", {}).items():
        if (not isinstance(entry, dict) or not isinstance(entry.get("done", []), list)
                or not all(_count(n) for n in entry.get("done", []))
                or not _count(entry.get("total", 0))):
            raise ValueError(f"lesson {key!r} is malformed")
        lessons[str(key)] = entry
    return lessons, str(data.get("student", ""))


def _count(value: object) -> bool:
    """A non-negative int (a step number, a total, a format version); bools are not counts."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def load(path: Path | None = None) -> Progress:
    """The saved progress, or an empty record (a corrupt file is kept aside with a notice)."""
    path = path or progress_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Progress(path)
    except OSError as exc:
        return Progress(path, notice=f"could not read {path} ({exc.strerror}); progress is not saved")
    try:
        lessons, student = parse(json.loads(raw.decode("utf-8")))
        return Progress(path, lessons, student)
    except ValueError as exc:   # UnicodeDecodeError and JSONDecodeError are ValueErrors too
        aside = _aside_name(path)
        try:
            os.replace(path, aside)
            note = f"your progress file was unreadable ({exc}); it was kept as {aside} and a new one started"
        except OSError:
            note = f"your progress file {path} is unreadable ({exc})"
        return Progress(path, notice=note)
