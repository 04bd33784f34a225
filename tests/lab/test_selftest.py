"""`tutor selftest`: every shipped lesson's steps fail before their commands and pass after
them; and fixture lessons that break that rule make it fail, saying why."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from labkit import alive
from tutor.lab import control, door
from tutor.lessons.course import selftest, start_commands
from tutor.lessons.lesson import BUILTIN_LESSONS, load_lessons

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
TUTOR = str(REPO / ".venv" / "bin" / "tutor")


def run_selftest(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """`tutor selftest ARGS`; whatever happens, no lab of it outlives the test."""
    proc = subprocess.Popen([TUTOR, "selftest", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ))
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _stop_labs_of(proc.pid)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _agents_of(pid: int) -> list[int]:
    """The agents of the selftest labs process `pid` started that still answer, found by
    their sockets (a throwaway lab's agent is forked from selftest: its command line is
    selftest's own, so `pgrep` cannot tell them apart)."""
    where = door.checked_folder()
    names = [e[:-5] for e in (os.listdir(where) if where else []) if e.startswith(f"selftest-{pid}-")
             and e.endswith(".sock")]
    return [info.pid for info in map(control.status, names) if info is not None]


def _stop_labs_of(pid: int) -> None:
    """Kill the agent of a selftest lab started by process `pid`, if one is still there."""
    for agent in _agents_of(pid):
        try:
            os.kill(agent, signal.SIGKILL)
        except ProcessLookupError:
            pass


def write(directory: Path, name: str, text: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text.lstrip())


@pytest.mark.slow(15)
def test_selftest_of_every_shipped_lesson():
    result = run_selftest()
    assert result.returncode == 0, result.stdout + result.stderr
    lessons = load_lessons(BUILTIN_LESSONS)
    expected = sum(len(l.steps) + 1 for l in lessons)
    lines = result.stdout.splitlines()
    for lesson in lessons:
        for step in lesson.steps:
            assert f"✓ {lesson.id} step {step.number}: {step.title}" in lines
        assert f"✓ {lesson.id} end: the finished lesson verifies" in lines
    assert not any(l.startswith("✗") for l in lines)
    assert lines[-1].startswith(f"{expected} passed, 0 failed in ")


CANNOT_FAIL = """
---
id: cannotfail
title: A check that is already true
---

## Look around

The host's loopback is up from the start, so this check proves nothing.

```sh
ip -br link
```

```check
link lo up
```
"""

NOT_SOLVED = """
---
id: notsolved
title: A solution that does not do what the check asks
---

## Make blue

```sh
ip netns add red
```

```check
netns blue
```
"""


def test_checks_that_cannot_fail_make_selftest_fail(tmp_path):
    write(tmp_path, "01-cannot-fail.md", CANNOT_FAIL)
    result = run_selftest("--lessons-dir", str(tmp_path))
    assert result.returncode == 1
    assert ("✗ cannotfail step 1: Look around\n"
            "    its checks already pass before its commands (they cannot fail)") in result.stdout
    assert result.stdout.splitlines()[-1].startswith("1 passed, 1 failed in ")


def test_a_solution_that_does_not_pass_makes_selftest_fail(tmp_path):
    write(tmp_path, "01-not-solved.md", NOT_SOLVED)
    result = run_selftest("--lessons-dir", str(tmp_path))
    assert result.returncode == 1
    assert ("✗ notsolved step 1: Make blue\n"
            "    after its commands `netns blue` still fails: there is no namespace blue (the lab has: red)"
            ) in result.stdout
    assert "✗ notsolved end: the finished lesson verifies" in result.stdout


PING_NOT_DONE = """
---
id: pingnotdone
title: A ping that would answer, in a step that is not done
---

## Wake red

```sh
ip netns add red
ip -n red link set lo up
```

```check
netns red
link nosuch in red
ping 127.0.0.1 from red
```
"""


def test_each_step_is_one_trip_its_pings_included(monkeypatch):
    """selftest makes one trip into the lab per step: its commands, then, in the same process,
    the step's behaviour checks (lesson 2's ping), not a trip more for them (issue 15)."""
    from tutor.lab import client
    lessons = load_lessons()
    lesson2 = next(l for l in lessons if l.id == "lesson2")
    trips: list[str] = []
    real, real_later = client.run, client.run_later

    def spy(cmdline, **kwargs):
        trips.append(cmdline)
        return real(cmdline, **kwargs)

    def spy_later(cmdline, **kwargs):
        trips.append(cmdline)
        return real_later(cmdline, **kwargs)

    monkeypatch.setattr(client, "run", spy)
    monkeypatch.setattr(client, "run_later", spy_later)
    report = selftest([lesson2], lessons)
    assert report.ok, report.lines
    assert len(trips) == len(lesson2.steps)
    assert all("ping -n -c 1 -W 1 10.201.0.5" not in t for t in trips[:-1])
    assert trips[-1].index("ip link set dev brid11 up") < trips[-1].index("ping -n -c 1 -W 1 10.201.0.5")


def test_a_look_is_judged_while_the_next_step_runs_unless_judging_may_probe(monkeypatch):
    """Each look is judged while the next step's commands run (issue 15), except when judging
    may go to the lab itself: lesson 2's look before its ping step, whose ping the engine would
    probe if the step's state checks passed, is judged before that step's commands begin."""
    from tutor.checks import engine
    from tutor.lab import client
    lessons = load_lessons()
    lesson2 = next(l for l in lessons if l.id == "lesson2")
    events: list[str] = []
    real_judge, real_later = engine.judge_steps, client.run_later

    def judge(lesson, steps, state, info):
        events.append("judge " + ",".join(str(s.number) for s in steps))
        return real_judge(lesson, steps, state, info)

    def later(cmdline, **kwargs):
        events.append("send")
        answer = real_later(cmdline, **kwargs)

        def taken():
            events.append("answer")
            return answer()
        return taken

    monkeypatch.setattr(engine, "judge_steps", judge)
    monkeypatch.setattr(client, "run_later", later)
    report = selftest([lesson2], lessons)
    assert report.ok, report.lines
    assert events == ["send", "judge 1", "answer",            # the start's look, during step 1
                      "send", "judge 1,2", "answer",
                      "send", "judge 2,3", "answer",
                      "judge 3,4", "send", "answer",          # step 4 pings: judged first
                      "judge 1,2,3,4"]


def test_a_ping_in_a_step_that_is_not_done_is_not_what_decides(tmp_path):
    """The step's ping runs with its commands, before its state checks are judged; a step whose
    state checks fail still fails for them (the ping, which answers, is not tried)."""
    write(tmp_path, "01-ping.md", PING_NOT_DONE)
    result = run_selftest("--lessons-dir", str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "✗ pingnotdone step 1: Wake red\n    after its commands `link nosuch in red` still fails: " in result.stdout


def test_a_solution_that_does_not_pass_is_said_in_korean(tmp_path, monkeypatch):
    """What the check found comes in the course's language too, not only the frame around it."""
    write(tmp_path, "01-not-solved.md", NOT_SOLVED)
    monkeypatch.setenv("TUTOR_LANG", "ko")
    result = run_selftest("--lessons-dir", str(tmp_path))
    assert result.returncode == 1
    line = next(l for l in result.stdout.splitlines() if "`netns blue`" in l)
    assert "there is no namespace" not in line and "blue" in line and "red" in line, line


def test_failing_commands_and_undone_steps(tmp_path):
    """A command that fails, and a later step that undoes an earlier one, are both reported."""
    write(tmp_path, "01-undo.md", """
---
id: undo
title: The second step takes the first one's work away
---

## Make red

```sh
ip netns add red
```

```check
netns red
```

## Swap red for blue

```sh
ip netns del red
ip netns add blue
```

```check
netns blue
```

## Bring up a cable that is not there

```sh
ip link set dev nosuch up
ip netns add green
```

```check
netns green
```
""")
    result = run_selftest("--lessons-dir", str(tmp_path))
    assert result.returncode == 1
    out = result.stdout
    assert "✓ undo step 1: Make red" in out and "✓ undo step 2: Swap red for blue" in out
    assert ('✗ undo step 3: Bring up a cable that is not there\n'
            '    a command failed: ip link set dev nosuch up: Cannot find device "nosuch"\n') in out
    assert "✗ undo end: the finished lesson verifies\n    step 1 fails again (netns red)" in out


def test_selftest_builds_each_start_from_requires_and_setup(tmp_path):
    """In-process: a lesson that requires another starts from its finished state plus setup."""
    write(tmp_path, "01-base.md", """
---
id: base
title: Base
---

## Make red

```sh
ip netns add red
```

```check
netns red
```
""")
    write(tmp_path, "02-next.md", """
---
id: next
title: Next
requires: base
---

```setup
ip netns add blue
ip -n blue link set lo up
serve http blue 8080 hi
```

## Cable red

```sh
ip link add veth0 type veth peer name veth1
ip link set veth1 netns red
```

```check
netns red
netns blue
tcp 127.0.0.1:8080 from blue
peer veth0 with veth1 in red
```
""")
    everything = load_lessons(tmp_path)
    seen: list = []
    report = selftest([everything[1]], everything, seen.append)
    assert report.ok and [(l.lesson, l.step) for l in report.lines] == [("next", 1), ("next", 0)]
    assert seen == report.lines and report.seconds > 0
    assert all(l.failed_before and l.passed_after and l.detail == "" for l in report.lines)


def test_a_start_state_skips_what_is_marked_as_looking(tmp_path):
    """In-process: `sh look` is the author's word, and the rebuild of a start state follows it.
    Here a change is marked as looking on purpose: `selftest` of `base` runs it (its check
    needs it), and `next`'s start, built from `base`, leaves it out (`probe` must fail first)."""
    write(tmp_path, "01-base.md", """
---
id: base
title: Base
---

## Make red, and a probe marked as looking

```sh
ip netns add red
```

```sh look
ip netns add probe
```

```check
netns red
netns probe
```
""")
    write(tmp_path, "02-next.md", """
---
id: next
title: Next
requires: base
---

## Make the probe

```sh
ip netns add probe
```

```check
netns red
netns probe
```
""")
    everything = load_lessons(tmp_path)
    assert [c.text for c in start_commands(everything[1], everything)] == ["ip netns add red"]
    report = selftest(everything, everything)
    assert [(l.lesson, l.step, l.ok, l.detail) for l in report.lines] == [
        ("base", 1, True, ""), ("base", 0, True, ""), ("next", 1, True, ""), ("next", 0, True, "")]


BROKEN_START = """
---
id: brokenstart
title: Its start cannot be built
---

```setup
ip link set dev nosuch up
```

## Make red

```sh
ip netns add red
```

```check
netns red
```
"""


@pytest.mark.parametrize("lesson, code", [(NOT_SOLVED, 1), (BROKEN_START, 2)], ids=["fails", "raises"])
def test_selftest_s_lab_is_gone_when_it_ends_failing(tmp_path, lesson, code):
    """selftest's lab is forked from it: when selftest ends, failing or stopped by an error,
    its lab has ended too (no agent answers, nothing of it is left in the socket folder)."""
    write(tmp_path, "01-lesson.md", lesson)
    proc = subprocess.Popen([TUTOR, "selftest", "--lessons-dir", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == code, out + err
        left = _agents_of(proc.pid)
        where = door.checked_folder()
        files = [e for e in (os.listdir(where) if where else []) if e.startswith(f"selftest-{proc.pid}-")]
        assert not left and not files, (left, files)
    finally:
        _stop_labs_of(proc.pid)


@pytest.mark.parametrize("argv", [["--bogus"], ["lesson1", "lesson2"], ["nosuch"]])
def test_a_wrong_command_line_stops_the_lab_selftest_began_before_reading_it(argv):
    """selftest's lab begins before argparse has read the command line (issue 15): a wrong one
    still says so, exits 2, and leaves nothing of that lab."""
    proc = subprocess.Popen([TUTOR, "selftest", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ))
    try:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 2 and err.strip() and "Traceback" not in err, out + err
        where = door.checked_folder()
        files = [e for e in (os.listdir(where) if where else []) if e.startswith(f"selftest-{proc.pid}-")]
        assert not _agents_of(proc.pid) and not files, files
    finally:
        _stop_labs_of(proc.pid)


def test_the_lab_is_on_its_way_before_the_command_line_is_parsed(tmp_path):
    """The throwaway lab is forked before argparse (and the help texts' modules) are imported:
    the ~20 ms they take run beside the lab's own start, not before it. Neither shutil nor
    html is imported at all (~4 ms, issue 15: argparse's formatter, tools.missing_for and the
    world's page imported them) once the lessons are cached (parsing them imports html)."""
    python = str(REPO / ".venv" / "bin" / "python")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))
    subprocess.run([python, "-c", "from tutor.lessons.lesson import load_lessons; load_lessons()"],
                   env=env, check=True, capture_output=True, timeout=60)
    code = ("import sys\n"
            "from tutor.lab import lifecycle\n"
            "begun = lifecycle.start_throwaway\n"
            "seen, later = [], ('argparse', 'tutor.lab.world', 'tutor.cli_parser')\n"
            "def spy(*a, **k):\n"
            "    seen.append(sorted(m for m in later if m in sys.modules))\n"
            "    return begun(*a, **k)\n"
            "lifecycle.start_throwaway = spy\n"
            "from tutor.cli import main\n"
            "code = main(['selftest', 'lesson1'])\n"
            "print(code, seen, sorted(m for m in ('shutil', 'html') if m in sys.modules))\n")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.stdout.strip().splitlines()[-1] == "0 [[]] []", out.stdout + out.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_selftest_s_lab_dies_with_it_on_any_signal(sig):
    """Finding: selftest stopped by SIGTERM, SIGHUP or SIGKILL left its throwaway lab running
    (only SIGINT cleaned up). Its lab is tied to it: the agent stops when selftest dies."""
    proc = subprocess.Popen([TUTOR, "selftest", "lesson3"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ))
    try:
        agents: list[int] = []

        def lab_up() -> bool:
            agents[:] = _agents_of(proc.pid) or agents
            return any(map(alive, agents))

        assert _wait(lab_up, 20), "selftest's lab never started"
        proc.send_signal(sig)
        proc.wait(timeout=20)
        assert _wait(lambda: not lab_up(), 10), f"selftest's lab outlived {sig.name}: {agents}"
        assert not _agents_of(proc.pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _stop_labs_of(proc.pid)


def _wait(predicate, timeout: float) -> bool:
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())
