"""Handing in: `tutor submit` copies the student's progress into a class drop folder as
ACCOUNT.json, never over another account's file, and `tutor report` reads that folder by default
and lists every lesson of the course (0/N when not started)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tutor import cli, progress
from tutor.lessons.lesson import BUILTIN_LESSONS, load_lessons

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from accounts import plain_user  # noqa: E402

# every shipped lesson, in course order, with its number of steps
LESSONS = {lesson.id: len(lesson.steps) for lesson in load_lessons(BUILTIN_LESSONS)}


@pytest.fixture
def student(tmp_path, monkeypatch):
    """A student's home with lesson 2 half done; returns a drop folder (sticky, like /tmp)."""
    for var, sub in (("HOME", "home"), ("XDG_STATE_HOME", "state"), ("XDG_CONFIG_HOME", "config")):
        (tmp_path / sub).mkdir()
        monkeypatch.setenv(var, str(tmp_path / sub))
    record = {"format": 1, "student": "Ada L.",
              "lessons": {"lesson2": {"done": [1, 2], "total": 4, "updated": "2026-01-02T10:00:00"}}}
    progress.progress_path().parent.mkdir(parents=True)
    progress.progress_path().write_text(json.dumps(record))
    drop = tmp_path / "drop"
    drop.mkdir()
    drop.chmod(0o1777)
    return drop


def test_submit_hands_in_as_the_account(student, capsys):
    assert cli.main(["submit", "--to", str(student)]) == 0
    dest = student / f"{progress.account()}.json"
    assert capsys.readouterr().out == f"handed in to {dest}\n"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    lessons, name = progress.parse(json.loads(dest.read_text()))
    assert name == "Ada L." and lessons["lesson2"]["done"] == [1, 2]
    assert [p.name for p in student.iterdir()] == [dest.name]   # no temporary file left
    # handing in again replaces one's own file
    progress.load().mark("lesson2", {3})
    assert cli.main(["submit", "--to", str(student)]) == 0
    assert json.loads(dest.read_text())["lessons"]["lesson2"]["done"] == [1, 2, 3]


def test_submit_never_overwrites_another_accounts_file(student, capsys):
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file to another account")
    dest = student / f"{progress.account()}.json"
    dest.write_text("someone else's")
    os.chown(dest, 40123, 40123)
    assert cli.main(["submit", "--to", str(student)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "belongs to another account" in err
    assert dest.read_text() == "someone else's"


def test_a_plain_account_cannot_take_another_name():
    """As a real second account: a name held by someone else in the sticky folder stays theirs."""
    who = plain_user()
    if who is None:
        pytest.skip("no second account here (needs root and user namespaces)")
    uid, argv, env = who
    base = Path(tempfile.mkdtemp(prefix="handin-"))   # pytest's tmp_path is root's alone (0700)
    try:
        base.chmod(0o755)
        drop, home = base / "drop", base / "home"
        drop.mkdir()
        drop.chmod(0o1777)
        home.mkdir()
        os.chown(home, uid, uid)
        theirs = drop / f"{uid}.json"      # the account has no name: its file is UID.json
        theirs.write_text("root's")
        env = dict(env, HOME=str(home), XDG_STATE_HOME=str(home / "s"), XDG_CONFIG_HOME=str(home / "c"))
        submit = argv + ["-m", "tutor.cli", "submit", "--to", str(drop)]
        out = subprocess.run(submit, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and "belongs to another account" in out.stderr, out
        assert theirs.read_text() == "root's" and theirs.stat().st_uid == 0
        theirs.unlink()
        out = subprocess.run(submit, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stdout == f"handed in to {theirs}\n", out
        assert theirs.stat().st_uid == uid and stat.S_IMODE(theirs.stat().st_mode) == 0o640
    finally:
        shutil.rmtree(base)


def _not_sticky_and_not_mine(drop: Path) -> None:
    os.chown(drop, 40124, 40124)
    drop.chmod(0o777)


@pytest.mark.parametrize("setup, says", [
    (lambda drop: drop.rmdir(), "there is no class drop folder"),
    (_not_sticky_and_not_mine, "not sticky"),
])
def test_submit_errors_are_one_sentence(student, capsys, setup, says):
    if os.geteuid() != 0 and "sticky" in says:
        pytest.skip("needs root to give the folder to another account")
    setup(student)
    assert cli.main(["submit", "--to", str(student)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err


def test_submit_without_to_and_no_drop_folder_says_to_give_one(student, capsys, monkeypatch):
    monkeypatch.setattr(progress, "handin_dir", lambda: student / "missing")
    assert cli.main(["submit"]) == 2
    assert "give your teacher's folder with --to DIR" in capsys.readouterr().err


def test_report_reads_the_drop_folder_and_lists_every_lesson(student, capsys, monkeypatch):
    monkeypatch.setattr(progress, "handin_dir", lambda: student)
    assert cli.main(["submit"]) == 0
    capsys.readouterr()
    assert cli.main(["report"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines[1:]]
    assert [(r[-3], r[-2]) for r in rows] == [
        (lesson, f"{2 if lesson == 'lesson2' else 0}/{total}") for lesson, total in LESSONS.items()]
    assert cli.main(["report", "--csv"]) == 0
    table = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert table[0] == ["student", "lesson", "done", "total", "last_activity"]
    assert [(r[1], r[2], r[3]) for r in table[1:]] == [
        (lesson, "2" if lesson == "lesson2" else "0", str(total)) for lesson, total in LESSONS.items()]
    assert cli.main(["report", "--json", str(student)]) == 0   # a PATH still works
    got = json.loads(capsys.readouterr().out)
    assert [(r["lesson"], r["done"], r["total"], r["started"]) for r in got] == [
        (lesson, 2 if lesson == "lesson2" else 0, total, lesson == "lesson2") for lesson, total in LESSONS.items()]


def test_report_without_path_or_drop_folder_is_one_sentence(student, capsys, monkeypatch):
    monkeypatch.setattr(progress, "handin_dir", lambda: student / "missing")
    assert cli.main(["report"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no class drop folder" in err


def test_the_drop_folder_is_beside_the_package():
    assert progress.handin_dir() == Path(progress.__file__).resolve().parents[1] / "handin"
