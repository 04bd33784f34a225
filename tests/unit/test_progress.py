"""The student's progress record: XDG location, atomic writes, corrupt files kept aside."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tutor import progress, safefile
from tutor.lessons.lesson import BUILTIN_LESSONS, load_lessons


@pytest.fixture
def home(state_home, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))   # no `tutor config name` set
    return state_home / "netns-tutor"


def test_lives_in_the_xdg_state_dir(home):
    assert progress.progress_path() == home / "progress.json"


def test_default_state_dir_without_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert progress.state_dir() == tmp_path / ".local" / "state" / "netns-tutor"


def test_missing_file_is_an_empty_record(home):
    p = progress.load()
    assert p.lessons == {} and p.notice == "" and p.done("lesson1") == set()


def test_mark_saves_and_adds_up(home):
    p = progress.load()
    p.mark("lesson1", {1, 2}, total=5)
    p.mark("lesson1", {4}, total=5)
    again = progress.load()
    assert again.done("lesson1") == {1, 2, 4}
    data = json.loads((home / "progress.json").read_text())
    assert data["format"] == progress.FORMAT
    assert data["lessons"]["lesson1"]["done"] == [1, 2, 4] and data["lessons"]["lesson1"]["total"] == 5
    assert data["student"]


def test_mark_without_news_does_not_write(home):
    p = progress.load()
    p.mark("lesson2", {1}, total=4)
    before = (home / "progress.json").stat().st_mtime_ns
    os.utime(home / "progress.json", ns=(1, 1))
    p.mark("lesson2", {1}, total=4)
    assert (home / "progress.json").stat().st_mtime_ns == 1 != before


def test_first_unfinished():
    class L:
        def __init__(self, id, n):
            self.id, self.steps = id, [type("S", (), {"number": i})() for i in range(1, n + 1)]
    lessons = [L("lesson1", 2), L("lesson2", 3)]
    p = progress.Progress(path=Path("never-read.json"), lessons={"lesson1": {"done": [1, 2]}, "lesson2": {"done": [1]}})
    lesson, step = p.first_unfinished(lessons)
    assert (lesson.id, step) == ("lesson2", 2)
    p.lessons["lesson2"]["done"] = [1, 2, 3]
    assert p.first_unfinished(lessons)[0].id == "lesson2"     # all done: the last step


def test_the_current_step_is_saved_and_resumed(home):
    """Where the student was (issue 13): saved beside the finished steps, and resumed there."""
    class L:
        def __init__(self, id, n):
            self.id, self.steps = id, [type("S", (), {"number": i})() for i in range(1, n + 1)]
    lessons = [L("lesson1", 2), L("lesson5", 4)]
    p = progress.load()
    p.mark("lesson1", {1}, total=2)
    p.set_current("lesson5", 3)
    data = json.loads((home / "progress.json").read_text())
    assert data["current"] == {"lesson": "lesson5", "step": 3}
    assert data["lessons"]["lesson1"]["done"] == [1]
    again = progress.load()
    assert again.current == ("lesson5", 3)
    lesson, step = again.resume_point(lessons)
    assert (lesson.id, step) == ("lesson5", 3)          # not the first unfinished (lesson1 step 2)
    again.mark("lesson5", {1, 2, 3, 4}, total=4)          # that lesson finished: first unfinished
    assert (again.resume_point(lessons)[0].id, again.resume_point(lessons)[1]) == ("lesson1", 2)
    again.current = ("gone", 1)                           # a lesson no longer shipped
    assert again.resume_point(lessons)[0].id == "lesson1"


def test_an_old_file_without_current_loads_and_a_bad_current_is_ignored(home):
    """Files written before `current` existed load as they are; a malformed one is not a reason
    to move the file aside; and the readers of hand-ins (`parse`) accept a file with it."""
    home.mkdir(parents=True)
    old = {"format": 1, "student": "ann", "lessons": {"lesson1": {"done": [1, 2], "total": 5}}}
    (home / "progress.json").write_text(json.dumps(old))
    p = progress.load()
    assert p.current is None and p.notice == "" and p.done("lesson1") == {1, 2}
    for bad in ({"lesson": 5, "step": 1}, {"lesson": "lesson1", "step": -1}, "lesson1", {"lesson": "x"}):
        (home / "progress.json").write_text(json.dumps({**old, "current": bad}))
        p = progress.load()
        assert p.current is None and p.notice == "" and p.done("lesson1") == {1, 2}, bad
    new = {**old, "current": {"lesson": "lesson1", "step": 3}}
    assert progress.parse(new) == ({"lesson1": {"done": [1, 2], "total": 5}}, "ann")


def test_a_new_student_starts_at_the_first_shipped_lesson():
    """The shipped course opens at `routing`, the notes' basics, before lesson1."""
    p = progress.Progress(path=Path("never-read.json"), lessons={})
    lesson, step = p.first_unfinished(load_lessons(BUILTIN_LESSONS))
    assert (lesson.id, step) == ("routing", 1)


def test_writes_are_atomic(home, monkeypatch):
    """A write that fails half-way leaves the old file whole and no temporary file behind."""
    p = progress.load()
    p.mark("lesson1", {1}, total=5)
    good = (home / "progress.json").read_bytes()

    def broken_write(fd, data):
        os.write(fd, b'{"format": 1, "lessons": {"lesso')    # half a document...
        raise OSError(28, "No space left on device")           # ...then the disk is full

    monkeypatch.setattr(safefile, "_write_all", broken_write)
    with pytest.raises(OSError):
        p.mark("lesson1", {2}, total=5)
    assert (home / "progress.json").read_bytes() == good
    assert sorted(f.name for f in home.iterdir()) == ["progress.json"]


def test_save_goes_through_a_rename(home, monkeypatch):
    renames = []
    real = os.replace
    def replace(a, b):
        renames.append((a, b))
        real(a, b)
    monkeypatch.setattr(progress.os, "replace", replace)
    progress.load().mark("lesson3", {1}, total=5)
    (tmp, final), = renames
    assert os.path.dirname(tmp) == str(home) and final == str(home / "progress.json")


CORRUPT = [
    (b"{not json", "Expecting property name"),
    (b"\xff\xfe\x00garbage", "codec can't decode"),
    (b"[1, 2, 3]", "not a progress record"),
    (b'{"lessons": []}', "not a progress record"),
    (b'{"format": "one", "lessons": {}}', "is not a version number"),
    (b'{"format": 99, "lessons": {}}', "written by a newer netns-tutor"),
    (b'{"lessons": {"lesson1": {"done": 5}}}', "lesson 'lesson1' is malformed"),
    (b'{"lessons": {"lesson1": {"done": ["1"]}}}', "lesson 'lesson1' is malformed"),
    (b'{"lessons": {"lesson1": {"done": [true]}}}', "lesson 'lesson1' is malformed"),
    (b'{"lessons": {"lesson1": {"done": [1], "total": "five"}}}', "lesson 'lesson1' is malformed"),
    (b'{"lessons": {"lesson1": []}}', "lesson 'lesson1' is malformed"),
    (b"", "Expecting value"),
]


@pytest.mark.parametrize("raw,why", CORRUPT, ids=[c[1] + f"-{i}" for i, c in enumerate(CORRUPT)])
def test_corrupt_file_is_kept_aside_with_a_message(home, raw, why):
    home.mkdir(parents=True)
    (home / "progress.json").write_bytes(raw)
    p = progress.load()                                   # never raises
    assert p.lessons == {}
    assert why in p.notice and "it was kept as" in p.notice
    aside = [f for f in home.iterdir() if f.name.startswith("progress.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == raw          # kept, byte for byte
    assert str(aside[0]) in p.notice
    assert not (home / "progress.json").exists()
    p.mark("lesson1", {1}, total=5)                       # and a new record starts
    assert progress.load().done("lesson1") == {1}


def test_two_corrupt_files_in_the_same_second_are_both_kept(home):
    home.mkdir(parents=True)
    for raw in (b"first", b"second"):
        (home / "progress.json").write_bytes(raw)
        assert progress.load().notice
    kept = sorted(f.read_bytes() for f in home.iterdir() if f.name.startswith("progress.corrupt-"))
    assert kept == [b"first", b"second"]


def test_unreadable_path_is_a_notice_not_a_crash(home):
    (home / "progress.json").mkdir(parents=True)          # a directory where the file should be
    p = progress.load()
    assert "could not read" in p.notice and p.lessons == {}
    assert (home / "progress.json").is_dir()              # nothing was moved or deleted


def test_parse_accepts_what_save_writes(home):
    p = progress.load()
    p.mark("lesson5", {1, 2, 3}, total=3)
    lessons, student = progress.parse(json.loads((home / "progress.json").read_text()))
    assert lessons["lesson5"]["done"] == [1, 2, 3]
    assert student == progress.default_student() and "@" in student


def test_deeply_nested_file_is_kept_aside(home):
    home.mkdir(parents=True)
    (home / "progress.json").write_bytes(b"[" * 100_000)
    p = progress.load()                                   # no RecursionError
    assert "nested too deeply" in p.notice and "it was kept as" in p.notice


@pytest.mark.parametrize("make", [os.mkfifo, lambda p: os.symlink("/dev/zero", p)], ids=["fifo", "link"])
def test_what_is_not_a_file_is_left_alone_and_not_written_over(home, make):
    home.mkdir(parents=True)
    make(home / "progress.json")
    p = progress.load()
    assert "left as it is and progress is not saved" in p.notice and not p.saves
    p.mark("lesson1", {1}, total=5)
    assert os.listdir(home) == ["progress.json"] and not (home / "progress.json").is_file()


def test_a_folder_others_can_write_is_neither_read_nor_written(home):
    home.mkdir(parents=True)
    (home / "progress.json").write_text('{"lessons": {"lesson1": {"done": [1]}}}')
    os.chmod(home, 0o777)
    p = progress.load()
    assert p.lessons == {} and "other accounts can write" in p.notice and not p.saves
    p.mark("lesson1", {1, 2}, total=5)
    assert json.loads((home / "progress.json").read_text())["lessons"]["lesson1"]["done"] == [1]
