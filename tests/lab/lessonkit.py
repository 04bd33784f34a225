"""A lesson's state made in a real lab, and what its hints must say: shared by the hint tests of
every lesson (test_hints.py, test_lesson_docker.py, test_lesson_cni.py)."""

from __future__ import annotations

from functools import cache

from tutor.checks.engine import StepResult, verify
from tutor.lab import client
from tutor.lessons.course import reset_lesson, run_script
from tutor.lessons.lesson import BUILTIN_LESSONS, Lesson, load_lessons


@cache
def lessons() -> list[Lesson]:
    """The shipped lessons, loaded once."""
    return load_lessons(BUILTIN_LESSONS)


def build(info, lesson_id: str, steps_done: int, *typed: str) -> Lesson:
    """The lab at `lesson_id`'s start, its first `steps_done` steps solved, then `typed` by hand."""
    lesson = next(l for l in lessons() if l.id == lesson_id)
    reset_lesson(lesson, info, lessons())
    for step in lesson.steps[:steps_done]:
        run_script([c for c in step.commands if not c.looks_only], info, f"{lesson_id} step {step.number}")
    for cmd in typed:
        result = client.run(cmd, info=info)
        assert result.returncode == 0, f"{cmd}: {result.stderr}"
    return lesson


def step(info, lesson: Lesson, number: int) -> StepResult:
    """Step `number` of `lesson`, verified against the lab."""
    return verify(lesson, number, info).steps[0]


def assert_hint(result: StepResult, check: str, found: str, hint: str, exact: bool = False) -> None:
    """`check` fails quoting `found`, and the step's hint (its lowest failing layer) holds `hint`
    (is `hint`, when `exact`)."""
    assert not result.passed
    by_name = {c.name: c for c in result.checks}
    assert not by_name[check].passed
    assert found in by_name[check].found, by_name[check].found
    assert (hint == result.hint) if exact else (hint in result.hint), result.hint
