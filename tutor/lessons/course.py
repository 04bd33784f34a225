"""Course operations over lessons and the lab: reset to a lesson's start, solve, selftest.

Shared by the CLI and the TUI. Every command runs through `tutor.lab.client`.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import time
from collections.abc import Callable

from tutor.i18n import Msg, _
from tutor.lab import client, control, lifecycle, tools
from tutor.lessons.lesson import Command, Lesson, Step, load_lessons

TYPE_CHECKING = False
if TYPE_CHECKING:   # the checks load where a lesson is judged: `tutor reset` needs none
    from tutor.checks import observe
    from tutor.checks.engine import LessonResult

Echo = Callable[[str], None]
PROMPT = "root@lab:/# "


class CourseError(Exception):
    """A lesson's own commands failed in the lab (one sentence, exit 2)."""

    def __init__(self, message: str, command: str = "", output: str = ""):
        super().__init__(message)
        self.command, self.output = command, output


_PING = re.compile(r"(^|[\s;&|(])ping(?=\s)")


def quick(command: Command) -> Command:
    """The command as selftest runs it: pings 500x faster (same count, same checks)."""
    text = command.text
    if command.serve is not None or re.search(r"\sping\s.*\s-i\s|^ping\s.*\s-i\s", text):
        return command
    return command.with_text(_PING.sub(r"\1ping -i 0.002", text))


def _lessons_by_id(lessons: list[Lesson] | None) -> dict[str, Lesson]:
    return {l.id: l for l in (lessons or load_lessons())}


def start_commands(lesson: Lesson, lessons: list[Lesson] | None = None) -> list[Command]:
    """Every command that builds `lesson`'s start: required lessons (their setup, and their steps'
    commands but those that only look), then its setup."""
    by_id = _lessons_by_id(lessons)
    out: list[Command] = []
    seen: set[str] = set()

    def finished(l: Lesson) -> None:
        if l.id in seen:
            return
        seen.add(l.id)
        for req in l.requires:
            finished(by_id[req])
        out.extend(l.setup)
        out.extend(c for s in l.steps for c in s.commands if not c.looks_only)

    for req in lesson.requires:
        finished(by_id[req])
    out.extend(lesson.setup)
    return out


# command_script's marks in what it prints, each on a line of its own: one before each command
# (its stderr follows), one after a command that failed.
_RAN, _FAILED = "@@tutor-ran@@", "@@tutor-failed@@"


def command_script(commands: list[str]) -> str:
    """The bash script that runs `commands` in order, quietly, and stops at the first failure.

    Each command in its own group: a redirection after it would override the command's own
    (`echo … > resolv.conf` must still write the file); the newline ends a `# comment`. Its
    stdout is dropped; a mark, then its stderr, is printed. After a failing command a second
    mark, and the script exits 1 (`script_error` reads which and why). No temporary file: one
    cost two processes (mktemp, rm), ~5 ms a script (issue 15).
    """
    return "".join(f"printf '\\n{_RAN}\\n'\n{{ {c}\n}} 2>&1 >/dev/null || {{ printf '\\n{_FAILED}\\n'; exit 1; }}\n"
                   for c in commands)


def script_error(output: str, sent: list[str], what: str) -> CourseError:
    """The CourseError for a `command_script` of `sent` that exited 1 printing `output`: the
    command that failed (or was running when the script was stopped) and what it said."""
    ran = min(output.count(_RAN), len(sent))
    if not ran:
        return CourseError(Msg("{what}: the commands were stopped before they finished", what=what), "", "")
    failed, said = sent[ran - 1], " ".join(output.rpartition(_RAN)[2].partition(_FAILED)[0].split())
    return CourseError(Msg("{what}: the command `{failed}` failed in the lab: {said}", what=what, failed=failed,
                           said=said) if said else
                       Msg("{what}: the command `{failed}` failed in the lab", what=what, failed=failed), failed, said)


def _still_there(info: control.LabInfo) -> None:
    """After a command failed: if the lab itself went away under it, say that, once, instead
    of what the dying command printed."""
    if control.status(info.name) is None:
        raise control.not_running(info.name)


def run_script(commands: list[Command], info: control.LabInfo, what: str) -> None:
    """Run commands in the lab in as few processes as possible; `serve` lines go to the agent."""
    batch: list[str] = []

    def flush() -> None:
        if not batch:
            return
        result = client.run(command_script(batch), info=info, timeout=120)
        if result.returncode != 0:
            _still_there(info)
            raise script_error(result.stdout, batch, what)
        batch.clear()

    for cmd in commands:
        if cmd.serve is not None:
            flush()
            _serve(cmd, info)
        else:
            batch.append(cmd.text)
    flush()


def _serve(cmd: Command, info: control.LabInfo) -> None:
    """A `serve` line: the lab agent's job, not a shell's."""
    assert cmd.serve is not None
    control.serve(cmd.serve.namespace, cmd.serve.port, cmd.serve.body, name=info.name)


def reset_lesson(lesson: Lesson, info: control.LabInfo | None = None,
                 lessons: list[Lesson] | None = None) -> control.LabInfo:
    """Wipe the lab and rebuild `lesson`'s starting state. Returns the lab's info."""
    if problem := tools.missing_for(lesson.id):
        raise CourseError(problem)
    info = info or lifecycle.up()[0]
    with lifecycle.resetting(info.name):
        lifecycle.reset(info.name)
        run_script(start_commands(lesson, lessons), info, Msg("rebuilding the start of {lesson}", lesson=lesson.id))
        lifecycle.record_lesson(lesson.id, info)
    return info


def solve_step(step: Step, echo: Echo = print, info: control.LabInfo | None = None) -> bool:
    """Run a step's commands one by one, echoed like a terminal. False if one failed."""
    info = info or lifecycle.up()[0]
    ok = True
    for cmd in step.commands:
        echo(PROMPT + cmd.text)
        if cmd.serve is not None:
            _serve(cmd, info)
            continue
        result = client.run(cmd.text, info=info, timeout=60)
        if result.returncode != 0:
            _still_there(info)
        out = (result.stdout + result.stderr).rstrip("\n")
        if out:
            echo(out)
        if result.returncode != 0:
            echo(f"(exit status {result.returncode})")
            ok = False
    return ok


class SelftestLine:
    """One step of a selftest: did its checks fail before and pass after its commands?

    (A plain class: `tutor reset` imports this module, and `dataclasses` costs it ~11 ms; see
    the note above `tutor.lessons.lesson.Serve`.)"""

    def __init__(self, lesson: str, step: int, title: str, failed_before: bool, passed_after: bool,
                 detail: str = ""):
        self.lesson, self.step, self.title = lesson, step, title
        self.failed_before, self.passed_after, self.detail = failed_before, passed_after, detail

    @property
    def ok(self) -> bool:
        return self.failed_before and self.passed_after

    def __repr__(self) -> str:
        return f"SelftestLine({self.lesson!r}, {self.step}, ok={self.ok}, {self.detail!r})"


class SelftestReport:
    """Every line of a selftest, and how long it took."""

    def __init__(self) -> None:
        self.lines: list[SelftestLine] = []
        self.seconds = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.lines) and all(line.ok for line in self.lines)


def selftest(lessons: list[Lesson], everything: list[Lesson] | None = None,
             report: Callable[[SelftestLine], None] | None = None,
             starting: lifecycle.Starting | None = None) -> SelftestReport:
    """In a throwaway lab: each step's checks fail before its commands and pass after them.

    One trip into the lab per step: its commands run, then the same process looks at the lab,
    and that one look judges this step (after) and the next (before); the last step's look
    judges the whole lesson. Every trip of a lesson goes to one shell in the lab. `starting`
    is a lab the caller already began to start.
    """
    everything = everything or lessons
    out = SelftestReport()
    t0 = time.monotonic()
    starting = starting or lifecycle.start_throwaway()
    # while the lab builds itself, what its first trip needs: not after it answers
    _load_for_trips()
    missing = {lesson.id: tools.missing_for(lesson.id) for lesson in lessons}
    info = starting.wait()
    fresh = starting.started
    shell = contextlib.ExitStack()   # each lesson's trips go to one shell (client.one_shell)
    try:
        for lesson in lessons:
            if not lesson.steps:
                continue
            if problem := missing[lesson.id]:
                raise CourseError(problem)
            if not fresh:
                shell.close()   # a reset ends the lab's processes, the shell among them
                lifecycle.reset(info.name)
            fresh = False
            shell.enter_context(client.one_shell(info))
            _selftest_lesson(lesson, everything, info, lambda line: _add(out, report, line))
    finally:
        shell.close()
        starting.stop()
    out.seconds = time.monotonic() - t0
    return out


def _selftest_lesson(lesson: Lesson, everything: list[Lesson], info: control.LabInfo,
                     add: Callable[[SelftestLine], None]) -> None:
    """`selftest` of one lesson in a lab where nothing of it is done yet: a trip for its start,
    then one per step. A look is judged while the next trip runs, unless its judging may go to
    the lab itself (`may_look_again`: a behaviour check to probe); then it is judged first."""
    from tutor.checks.engine import judge_steps, may_look_again
    steps = lesson.steps
    trips = [(start_commands(lesson, everything), steps[:1], None)] + [
        ([quick(c) for c in step.commands], steps if k == len(steps) - 1 else steps[k:k + 2], step)
        for k, step in enumerate(steps)]
    judged: list[tuple[CourseError | None, LessonResult]] = []   # by trip: 0 the start, k step k
    looked = None   # the last trip's (failure, state, the steps it judges), not judged yet

    def judge() -> None:
        nonlocal looked
        assert looked is not None
        failure, state, targets = looked
        looked = None
        judged.append((failure, judge_steps(lesson, targets, state, info)))
        if k := len(judged) - 1:
            add(_step_line(lesson, steps[k - 1], judged[k - 1][1], *judged[k]))

    for commands, targets, done in trips:
        if looked is not None and may_look_again(looked[2], looked[1]):
            judge()   # before the next trip changes the lab
        what = Msg("its commands") if done else Msg("rebuilding the start of {lesson}", lesson=lesson.id)
        finish = _send_trip(commands, targets, info, what, done)
        if looked is not None:
            judge()   # while the trip runs
        failure, state = finish()
        if done is None and failure:
            raise failure
        looked = (failure, state, targets)
    judge()
    broken = [s for s in judged[-1][1].steps if not s.passed]
    detail = "; ".join(_("step {number} fails again ({check})").format(
        number=s.number, check=next(c for c in s.checks if not c.passed).name) for s in broken)
    add(SelftestLine(lesson.id, 0, _("the finished lesson verifies"), True, not broken, detail))


def _step_line(lesson: Lesson, step: Step, seen_before: LessonResult, failure: CourseError | None,
               seen_after: LessonResult) -> SelftestLine:
    """Step `step`'s line: judged from the look before its commands and from the one after."""
    before = next(r for r in seen_before.steps if r.number == step.number)
    after = next(r for r in seen_after.steps if r.number == step.number)
    detail = ""
    if before.passed:
        detail = _("its checks already pass before its commands (they cannot fail)")
    elif failure:
        detail = _("a command failed: {command}").format(command=failure.command) + (
            f": {failure.output}" if failure.output else "")
    elif not after.passed:
        bad = next(c for c in after.checks if not c.passed)
        detail = _("after its commands `{check}` still fails: {found}").format(
            check=bad.name, found=bad.found_local or bad.found)
    return SelftestLine(lesson.id, step.number, step.title, not before.passed, after.passed and not failure, detail)


def _load_for_trips() -> None:
    """Import what the first trip into the lab needs: subprocess, which starts its shell, and
    the observation, which looks at the lab while that shell starts (~8 ms, issue 15). Before
    the lab's wait it runs beside the lab's start. What judging needs besides (the engine, ~3
    ms) loads at the first judging, while the first step's commands run."""
    import subprocess  # noqa: F401

    from tutor.checks import observe  # noqa: F401


def _add(out: SelftestReport, report: Callable[[SelftestLine], None] | None, line: SelftestLine) -> None:
    out.lines.append(line)
    if report:
        report(line)


def _send_trip(commands: list[Command], steps: list[Step], info: control.LabInfo, what: str,
               done: Step | None = None) -> Callable[[], tuple[CourseError | None, observe.LabState]]:
    """Send `commands` into the lab, and the look at what they leave for judging `steps`, in
    one process in the lab (unless a `serve` line must go to the agent first); what this
    returns waits for them: (CourseError or None, the state). `done`: the step whose commands
    they are; its behaviour checks run in that process too, after the commands (a trip fewer,
    issue 15), though the engine uses what they found only if the step's state checks pass,
    as ever."""
    from tutor.checks import observe
    checks = [c for s in steps for c in s.checks]
    probes = [c for c in done.checks if c.behaviour] if done else []
    # The whole lab at once: selftest's throwaway lab holds only what the lesson builds, so that
    # costs what reading the named namespaces would, and a check that fails (each step's do
    # before its commands) is not judged again from a second reading (~30 ms a step, issue 15).
    # Its namespace ids are read only for checks that need them to pass (`peer`), not for hints.
    if any(c.serve is not None for c in commands):
        failure = None
        try:
            run_script(commands, info, what)
        except CourseError as exc:
            failure = exc
        reading = observe.begin_reading(checks, info, whole=True, hint_ids=False, probes=probes)
        return lambda: (failure, reading())
    texts = [c.text for c in commands]
    reading = observe.begin_reading(checks, info, prelude=command_script(texts) if commands else "",
                                    whole=True, hint_ids=False, probes=probes)

    def finish() -> tuple[CourseError | None, observe.LabState]:
        state = reading()
        if state.prelude is None and commands:
            return CourseError(Msg("{what}: the lab did not run them", what=what), "", ""), state
        if state.prelude and state.prelude[0] != 0:
            return script_error(state.prelude[1], texts, what), state
        return None, state
    return finish
