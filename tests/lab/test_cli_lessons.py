"""The lesson commands of the real CLI: verify (text, --json, --step, exit codes), list with
saved progress, solve, reset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labkit import running
from tutor.checks.engine import NOT_TRIED
from tutor.lab import control
from tutor.lessons.course import run_script
from tutor.lessons.lesson import BUILTIN_LESSONS, find_lesson

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
TUTOR = str(REPO / ".venv" / "bin" / "tutor")
BROKEN = REPO / "tests" / "unit" / "fixtures" / "lessons" / "broken"


def tutor(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`tutor ARGS` as a student runs it; TUTOR_LAB / XDG_STATE_HOME come from the fixtures."""
    return subprocess.run([TUTOR, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def one_sentence_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tutor: ") and "Traceback" not in result.stderr
    for w in words:
        assert w in lines[0], lines[0]


def solve(lesson_id: str, *steps: int) -> None:
    """Type a lesson's commands into the test's lab (its `ping -c 3` lines left out: they only look)."""
    lesson = find_lesson(lesson_id, BUILTIN_LESSONS)
    for k in steps:
        commands = [c for c in lesson.steps[k - 1].commands if not c.looks_only]
        run_script(commands, running(), f"{lesson_id} step {k}")


def test_verify_json_shape_and_exit_codes(lab, state_home):
    solve("lesson1", 1, 2, 3)
    result = tutor("verify", "lesson1", "--json")
    assert result.returncode == 1 and result.stderr == ""
    data = json.loads(result.stdout)
    assert list(data) == ["lesson", "passed", "steps"]
    assert (data["lesson"], data["passed"]) == ("lesson1", False)
    assert [s["id"] for s in data["steps"]] == [1, 2, 3, 4, 5]
    for s in data["steps"]:
        assert list(s) == ["id", "title", "passed", "checks"]
        assert isinstance(s["title"], str) and isinstance(s["passed"], bool) and s["checks"]
        for c in s["checks"]:
            assert list(c) == ["name", "passed", "found", "hint"]
            assert isinstance(c["name"], str) and isinstance(c["passed"], bool)
            assert c["found"] and isinstance(c["hint"], str)
            not_tried = c["found"] == NOT_TRIED          # held back behind a failing state check
            assert (c["hint"] == "") == (c["passed"] or not_tried)
    assert [s["passed"] for s in data["steps"]] == [True, True, True, False, False]
    assert data["steps"][0]["title"] == "Create two namespaces"
    assert data["steps"][0]["checks"][0] == {"name": "netns red", "passed": True,
                                             "found": "namespace red exists", "hint": ""}
    link = data["steps"][3]["checks"][0]
    assert link == {"name": "link veth1 in red", "passed": False,
                    "found": "veth1 is still on the lab host, not in red",
                    "hint": "Move that end of the cable into the namespace: ip link set veth1 netns red"}

    solve("lesson1", 4, 5)
    done = tutor("verify", "lesson1", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["passed"] is True
    text = tutor("verify", "lesson1")
    assert text.returncode == 0
    assert text.stdout.splitlines()[0] == "lesson1: A virtual cable between the host and a namespace"
    assert text.stdout.endswith("5/5 steps pass — lesson complete!\n")


def test_verify_one_step(lab, state_home):
    solve("lesson1", 1)
    one = tutor("verify", "lesson1", "--step", "1", "--json")
    assert one.returncode == 0
    assert [s["id"] for s in json.loads(one.stdout)["steps"]] == [1]
    two = tutor("verify", "1", "--step", "2")
    assert two.returncode == 1
    assert "✗ step 2: Bring up loopback in red" in two.stdout and "step 1" not in two.stdout
    assert "hint: Bring it up: ip -n red link set dev lo up" in two.stdout


@pytest.mark.parametrize("k", ["0", "6", "-1"])
def test_step_out_of_range_exits_2(lab, state_home, k):
    one_sentence_error(tutor("verify", "lesson1", "--step", k), "lesson1 has steps 1 to 5, not", k)
    one_sentence_error(tutor("solve", "lesson1", "--step", k), "lesson1 has steps 1 to 5")


def test_unknown_lesson_exits_2(lab, state_home):
    for cmd in ("verify", "solve", "reset"):
        one_sentence_error(tutor(cmd, "lesson9"), "there is no lesson 'lesson9'", "lesson1")


def test_no_lab_exits_2(lab_name, state_home):
    assert control.status(lab_name) is None
    one_sentence_error(tutor("verify", "lesson1"), f"the lab {lab_name!r} is not running", "tutor lab up")
    one_sentence_error(tutor("verify", "lesson1", "--json"), "is not running")
    assert not (state_home / "netns-tutor" / "progress.json").exists()


def test_broken_lesson_file_exits_2(lab, state_home, tmp_path):
    (tmp_path / "01-broken.md").write_text((BROKEN / "two-check-blocks.md").read_text())
    result = tutor("verify", "twochecks", TUTOR_LESSONS=str(tmp_path))
    one_sentence_error(result, f"{tmp_path / '01-broken.md'}:16:", "second `check` block")


def test_list_shows_done_over_total_after_verify(lab, state_home):
    before = tutor("list")
    assert before.returncode == 0
    assert "  lesson1   0/5  A virtual cable between the host and a namespace" in before.stdout
    solve("lesson1", 1, 2)
    assert tutor("verify", "lesson1").returncode == 1
    after = tutor("list")
    assert "  lesson1   2/5  " in after.stdout and "  lesson2   0/4  " in after.stdout
    saved = json.loads((state_home / "netns-tutor" / "progress.json").read_text())
    assert saved["lessons"]["lesson1"]["done"] == [1, 2] and saved["lessons"]["lesson1"]["total"] == 5
    solve("lesson1", 3, 4, 5)
    assert tutor("verify", "lesson1").returncode == 0
    assert "✓ lesson1   5/5  " in tutor("list").stdout
    # progress only adds up: a lab reset does not take finished steps away
    assert tutor("reset", "lesson1").returncode == 0
    assert tutor("verify", "lesson1").returncode == 1
    assert "✓ lesson1   5/5  " in tutor("list").stdout


def test_list_with_a_corrupt_progress_file(state_home):
    home = state_home / "netns-tutor"
    home.mkdir(parents=True)
    (home / "progress.json").write_text("{half a record")
    result = tutor("list")
    assert result.returncode == 0 and "  lesson1   0/5  " in result.stdout
    assert result.stderr.startswith("tutor: your progress file was unreadable")
    assert [p.name.startswith("progress.corrupt-") for p in home.iterdir()] == [True]


def test_solve_echoes_prompt_commands_and_output(lab, state_home):
    result = tutor("solve", "lesson1", "--step", "1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:7] == [
        "# step 1: Create two namespaces",
        "root@lab:/# ip netns add red",
        "root@lab:/# ip netns add blue",
        "root@lab:/# ip netns",
        "blue",
        "red",
        "root@lab:/# ip netns exec red ip -br link",
    ]
    assert lines[7].split()[:2] == ["lo", "DOWN"]          # the output of the last command
    assert tutor("verify", "lesson1", "--step", "1").returncode == 0


def test_solve_reports_a_failing_command(lab, state_home):
    solve("lesson1", 1)
    result = tutor("solve", "lesson1", "--step", "1")      # the namespaces exist already
    assert result.returncode == 1
    assert 'Cannot create namespace file "/run/netns/red": File exists' in result.stdout
    assert "(exit status 1)" in result.stdout


def test_reset_rebuilds_the_start_of_a_lesson(lab, state_home):
    result = tutor("reset", "lesson3")
    assert result.returncode == 0
    assert result.stdout == ("lab reset to the start of lesson3: Routing, NAT and DNS, "
                             "so containers reach the internet\n")
    assert tutor("verify", "lesson2").returncode == 0
    assert tutor("verify", "lesson3", "--step", "1").returncode == 1
    solve("lesson3", 1)
    assert tutor("verify", "lesson3", "--step", "1").returncode == 0
    # reset wipes what was done since, and builds lesson5's start (lesson4 and its setup)
    assert tutor("reset", "lesson5").returncode == 0
    assert tutor("verify", "lesson2").returncode == 1
    assert tutor("verify", "lesson4").returncode == 0
    assert tutor("verify", "lesson5", "--step", "1").returncode == 1


def test_verify_stays_light(lab, state_home):
    """`tutor verify` imports no UI or netlink library, nor `dataclasses` (with `inspect`: ~25 ms,
    issue 15), and answers fast on a finished lesson."""
    assert tutor("reset", "lesson3").returncode == 0
    solve("lesson3", 1, 2, 3, 4, 5, 6)
    code = ("import sys, time; t = time.monotonic(); from tutor.cli import main; rc = main(['verify', 'lesson3']); "
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
            "{'textual', 'pyroute2', 'rich', 'dnslib', 'dataclasses', 'inspect'}); "
            "print('RESULT', rc, heavy, time.monotonic() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ), cwd=REPO).stdout
    rc, heavy, _ = out.split("RESULT ")[1].split(" ", 2)
    assert (rc, heavy) == ("0", "[]"), out
    t0 = time.monotonic()
    assert tutor("verify", "lesson3").returncode == 0
    assert time.monotonic() - t0 < 2.0        # ~0.2 s here; generous for a loaded machine
