"""Verifying a lesson against the lab: observe once, judge every check, probe behaviour.

State checks are judged from one observation. Behaviour checks (ping, fetch, ...) run only for
steps whose state checks all pass — a ping across a missing cable cannot teach anything — and
all of them run at once, in parallel. A step passes when every one of its checks passes; its
hint is the first failing check of the lowest layer.

What a check found and its hint are kept in English (`found`, `hint`: JSON and progress carry no
language) and, when the course speaks another language, in that one too (`found_local`,
`hint_local`: what `tutor verify` and the Checks box show; `--json` adds them only then).
"""

from __future__ import annotations

from collections import namedtuple

from tutor.checks import kinds, observe
from tutor.checks.diagnose import explain
from tutor.checks.judge import Verdict
from tutor.checks.lang import Check
from tutor.i18n import Msg, in_lang, lang
from tutor.lab import control

NOT_TRIED = Msg("not tried yet: a check above it fails first")
# namespaces past which a failing check is judged from the ones the checks name only (its hint
# may then not see the other end of a cable in a namespace no check names)
WHOLE_READ_MAX = 64


# Named tuples, not dataclasses: see `tutor.plain`.
class CheckResult(namedtuple("CheckResult", "name passed found hint found_local hint_local",
                             defaults=(None, None))):
    """One check's verdict, as `tutor verify --json` prints it: English, plus the language the
    course speaks when it is not English (`found_local`, `hint_local`; None: English)."""
    __slots__ = ()

    @property
    def shown_found(self) -> str:
        """What was found, in the course's language."""
        return self.found if self.found_local is None else self.found_local

    @property
    def shown_hint(self) -> str:
        """The hint, in the course's language."""
        return self.hint if self.hint_local is None else self.hint_local


class StepResult(namedtuple("StepResult", "number title passed checks hint hint_local", defaults=("", None))):
    """One step's verdict: its checks' (a list of CheckResult) and its hint."""
    __slots__ = ()

    @property
    def shown_hint(self) -> str:
        """The step's hint, in the course's language."""
        return self.hint if self.hint_local is None else self.hint_local


class LessonResult(namedtuple("LessonResult", "lesson_id title passed steps", defaults=((),))):
    """A whole verification: its steps' (StepResult)."""
    __slots__ = ()

    def as_json(self) -> dict:
        """The `--json` shape: {"lesson", "passed", "steps": [{"id", "title", "passed", "checks"}]}."""
        return {"lesson": self.lesson_id, "passed": self.passed,
                "steps": [{"id": s.number, "title": s.title, "passed": s.passed,
                           "checks": [_check_json(c) for c in s.checks]} for s in self.steps]}


def _check_json(c: CheckResult) -> dict:
    """One check in `--json`: the localized fields only when there are some (English: none)."""
    return {k: v for k, v in c._asdict().items() if v is not None}


def result_of(text: str, passed: bool, verdict: Verdict, code: str) -> CheckResult:
    """A check's result from its verdict: English, and in language `code` unless that is English."""
    hint = "" if passed else verdict.hint
    if code == "en":
        return CheckResult(text, passed, str(verdict.found), str(hint))
    return CheckResult(text, passed, str(verdict.found), str(hint),
                       in_lang(verdict.found, code), in_lang(hint, code))


def judge_state(check: Check, state: observe.LabState) -> Verdict:
    """Verdict of a state check (pure)."""
    return kinds.state(check.kind).judge(check, state)


def verify(lesson, step: int | None = None, info: control.LabInfo | None = None) -> LessonResult:
    """Check the lab against `lesson` (or only its step number `step`)."""
    steps = lesson.steps if step is None else [s for s in lesson.steps if s.number == step]
    info = info or control.status()
    if info is None:
        raise control.not_running()
    return judge_steps(lesson, steps, observe.read_state([c for s in steps for c in s.checks], info), info)


def judge_steps(lesson, steps: list, state: observe.LabState, info: control.LabInfo) -> LessonResult:
    """Verdicts of `steps` from one observation of the lab, probing behaviour where it can pass."""
    verdicts = _judge_states(steps, state)
    # a lab of many namespaces is read whole for no hint: in the app a step's checks fail until
    # it is done, and each reading would cost ~6 ms per namespace (issue 15: 1,000 namespaces)
    crowded = len(state.namespaces) > WHOLE_READ_MAX
    if not state.whole and not crowded and not all(v.passed for v in verdicts.values()):
        # a check fails: its hint may point at any namespace (the other end of a cable, the
        # same address elsewhere), so judge again from a reading of the whole lab
        state = observe.read_state([c for s in steps for c in s.checks], info, whole=True)
        verdicts = _judge_states(steps, state)
    to_probe: dict[str, Check] = {}
    for s in steps:
        if all(v.passed for (n, _), v in verdicts.items() if n == s.number):
            to_probe.update({c.text: c for c in s.checks if c.behaviour})
    # those the reading ran already (`read_state(probes=…)`), and the others now
    probes = {text: seen for text, seen in state.probed.items() if text in to_probe}
    probes.update(observe.run_probes([c for text, c in to_probe.items() if text not in probes], info))
    if not state.for_hints and not all(ok for ok, _ in probes.values()):
        # a packet did not arrive: read what explains why (rules, forwarding, the LAN's routes)
        state = observe.read_state([c for s in steps for c in s.checks], info, for_hints=True,
                                   whole=not crowded)
    results = []
    code = lang()
    for s in steps:
        checks = []
        for i, c in enumerate(s.checks):
            v = verdicts.get((s.number, i))
            if v is None:
                if c.text not in probes:
                    v = Verdict(False, NOT_TRIED)
                else:
                    ok, seen = probes[c.text]
                    kind = kinds.probe(c.kind)
                    if ok and kind.expected(c, seen):
                        v = Verdict(True, kind.worked(c, seen))
                    elif ok:
                        v = mismatch(c, seen)
                    else:
                        v = explain(c, state, seen)
            checks.append((c, v))
        failing = sorted((c.layer, n) for n, (c, v) in enumerate(checks) if not v.passed and v.found != NOT_TRIED)
        hint = checks[failing[0][1]][1].hint if failing else ""
        results.append(StepResult(s.number, s.title, all(v.passed for _, v in checks),
                                  [result_of(c.text, v.passed, v, code) for c, v in checks], str(hint),
                                  None if code == "en" else in_lang(hint, code)))
    return LessonResult(lesson.id, lesson.title, all(r.passed for r in results), results)


def may_look_again(steps: list, state: observe.LabState) -> bool:
    """Whether `judge_steps(steps, state)` may go to the lab (probe a behaviour check, read
    what a failing one needs), rather than judge from `state` alone; selftest judges those that
    cannot while the next step's commands run (issue 15)."""
    return not state.whole or any(c.behaviour for s in steps for c in s.checks)


def _judge_states(steps: list, state: observe.LabState) -> dict[tuple[int, int], Verdict]:
    """The verdict of every state check of `steps`, by (step number, place in the step)."""
    return {(s.number, i): judge_state(c, state) for s in steps for i, c in enumerate(s.checks)
            if not c.behaviour}


def mismatch(check: Check, seen: str) -> Verdict:
    """The probe worked but saw something else than the check expects: a status, an address."""
    return kinds.probe(check.kind).mismatch(check, seen)
