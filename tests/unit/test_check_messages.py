"""What checks say, in English and Korean: verdicts are `Msg`s whose English is the text of
before (JSON and progress unchanged) and whose Korean comes from the catalog, with names,
addresses and commands kept exactly. Judged on the recorded labs of tests/unit/fixtures/state."""

from __future__ import annotations

import json
import pickle
import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tutor import commands
from tutor.checks import engine
from tutor.checks.engine import judge_steps, result_of
from tutor.checks.observe import parse_state
from tutor.i18n import Msg, in_lang
from tutor.lessons.lesson import BUILTIN_LESSONS, find_lesson, load_lessons

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PO = Path(__file__).resolve().parents[2] / "tutor" / "locale" / "ko" / "LC_MESSAGES" / "tutor.po"
STATES = FIXTURES / "state"
LOSS = "1 packets transmitted, 0 received, 100% packet loss, time 0ms"
HANGUL = re.compile("[\uac00-\ud7a3]")


def verdicts() -> dict[str, dict[str, list]]:
    """Every lesson check judged on every recorded lab, in English: {state: {check line: [passed,
    found, hint]}}, behaviour checks as if their probe failed. `fixtures/verdicts.en.json` is this,
    written by the code before verdicts were translated (main at f91346e), with
    `python tests/unit/test_check_messages.py > tests/unit/fixtures/verdicts.en.json`."""
    from tutor.checks.diagnose import explain
    from tutor.checks.engine import judge_state
    from tutor.checks.lang import parse_check
    lines = sorted({c.text for l in load_lessons(BUILTIN_LESSONS) for s in l.steps for c in s.checks})
    out: dict[str, dict[str, list]] = {}
    for path in sorted(STATES.glob("*.txt")):
        state = parse_state(path.read_text())
        out[path.stem] = {}
        for line in lines:
            check = parse_check(line)
            v = explain(check, state, LOSS) if check.behaviour else judge_state(check, state)
            out[path.stem][line] = [v.passed, str(v.found), str(v.hint)]
    return out


@cache
def now() -> dict[str, dict[str, list]]:
    return verdicts()


def test_a_msg_is_its_english_and_renders_in_korean_with_its_params_as_they_are():
    where = Msg("{name} in {ns}", name="veth1", ns="red")
    msg = Msg("{where} is DOWN", where=where)
    assert msg == "veth1 in red is DOWN" and str(msg) == "veth1 in red is DOWN"
    assert type(str(msg)) is str and hash(msg) == hash("veth1 in red is DOWN")
    assert msg.text("en") == "veth1 in red is DOWN"
    assert msg.text("ko") == "red의 veth1이 DOWN 상태입니다"
    assert in_lang(msg, "ko") == msg.text("ko") and in_lang("eth0", "ko") == "eth0"
    assert Msg("{n} more", n=3) == "3 more"
    with pytest.raises(AttributeError):
        msg.template = "x"
    assert pickle.loads(pickle.dumps(msg)).text("ko") == msg.text("ko")
    assert json.dumps({"found": msg}) == '{"found": "veth1 in red is DOWN"}'


def test_english_verdicts_are_the_ones_before_translation():
    """Every lesson check on every recorded lab says, in English, exactly what it said before
    verdicts became Msgs (fixtures/verdicts.en.json: see `verdicts`)."""
    before = json.loads((FIXTURES / "verdicts.en.json").read_text())
    assert now() == before


def templates(msg: Msg) -> list[str]:
    """The templates of `msg` and of the Msgs in it."""
    return [msg.template] + [t for v in msg.params.values() if isinstance(v, Msg) for t in templates(v)]


def leaves(msg: Msg) -> list[str]:
    """The params of `msg` and of the Msgs in it that are not Msgs: names, addresses, commands."""
    out: list[str] = []
    for value in msg.params.values():
        out += leaves(value) if isinstance(value, Msg) else [str(value)]
    return out


def _failing():
    from tutor.checks.diagnose import explain
    from tutor.checks.engine import judge_state
    from tutor.checks.lang import parse_check
    lines = sorted({c.text for l in load_lessons(BUILTIN_LESSONS) for s in l.steps for c in s.checks})
    for path in sorted(STATES.glob("*.txt")):
        state = parse_state(path.read_text())
        for line in lines:
            check = parse_check(line)
            v = explain(check, state, LOSS) if check.behaviour else judge_state(check, state)
            if not v.passed:
                yield path.stem, check, v


def test_every_failing_verdict_and_hint_speaks_korean():
    """A verdict written as an f-string would stay English: every failing check's found and hint
    (behaviour checks: as `diagnose` explains a lost ping) are Msgs, their Korean has Hangul, and
    every name, address and command in them is in it as is."""
    with PO.open("rb") as f:
        translated = {str(m.id) for m in read_po(f) if m.id and m.string}
    seen = 0
    for state, check, v in _failing():
        seen += 1
        assert isinstance(v.found, Msg) and isinstance(v.hint, Msg), (state, check.text, v.found)
        for template in templates(v.found) + templates(v.hint):
            assert template in translated, (state, check.text, template)
        ko_found, ko_hint = v.found.text("ko"), v.hint.text("ko")
        assert HANGUL.search(ko_found) and HANGUL.search(ko_hint), (state, check.text)
        for value in leaves(v.found) + leaves(v.hint):
            assert value in ko_found + ko_hint, (state, check.text, value)
    assert seen > 100


def _failing_steps(lesson_id: str, state_name: str):
    lesson = find_lesson(lesson_id)
    state = parse_state((STATES / f"{state_name}.txt").read_text())
    from tutor.checks.engine import judge_state
    # only steps a state check fails: their behaviour checks are not probed, so no lab is needed
    steps = [s for s in lesson.steps if not all(judge_state(c, state).passed for c in s.checks if not c.behaviour)]
    assert steps
    return lesson, steps, state


def test_json_is_english_and_korean_adds_localized_fields(monkeypatch):
    lesson, steps, state = _failing_steps("lesson1", "l1-not-moved")
    monkeypatch.setenv("TUTOR_LANG", "en")
    english = judge_steps(lesson, steps, state, None).as_json()  # type: ignore[arg-type]
    for s in english["steps"]:
        for c in s["checks"]:
            assert list(c) == ["name", "passed", "found", "hint"]
    monkeypatch.setenv("TUTOR_LANG", "ko")
    korean = judge_steps(lesson, steps, state, None).as_json()  # type: ignore[arg-type]
    stripped = json.loads(json.dumps(korean))
    for s in stripped["steps"]:
        for c in s["checks"]:
            assert list(c) == ["name", "passed", "found", "hint", "found_local", "hint_local"]
            del c["found_local"], c["hint_local"]
    assert stripped == english
    failing = [c for s in korean["steps"] for c in s["checks"] if not c["passed"]]
    assert failing and all(HANGUL.search(c["found_local"]) for c in failing)


def test_verify_prints_korean_found_and_hint(monkeypatch, capsys, tmp_path):
    lesson, steps, state = _failing_steps("lesson1", "l1-not-moved")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.setattr(commands, "_lab", lambda: None)
    monkeypatch.setattr(engine, "verify", lambda lesson, step, info: judge_steps(lesson, steps, state, info))
    args = type("Args", (), {"lesson": "lesson1", "step": None, "json": False})()
    monkeypatch.setenv("TUTOR_LANG", "ko")
    assert commands.verify(args) == 1
    korean = capsys.readouterr().out
    assert "— veth1이 red로 옮겨지지 않고 아직 실습 호스트에 있습니다" in korean
    assert "힌트: 케이블의 그 끝을 네임스페이스로 옮기세요: ip link set veth1 netns red" in korean
    monkeypatch.setenv("TUTOR_LANG", "en")
    assert commands.verify(args) == 1
    english = capsys.readouterr().out
    assert "— veth1 is still on the lab host, not in red" in english
    assert "hint: Move that end of the cable into the namespace: ip link set veth1 netns red" in english
    assert not HANGUL.search(english)


def test_a_check_result_keeps_english_and_shows_the_chosen_language():
    v = next(v for _, c, v in _failing() if not c.behaviour)
    en, ko = result_of("x", False, v, "en"), result_of("x", False, v, "ko")
    assert en.found == ko.found == str(v.found) and en.found_local is None
    assert en.shown_found == str(v.found) and ko.shown_found == v.found.text("ko")
    assert ko.shown_hint == v.hint.text("ko")


def test_the_hints_table_is_what_the_recorded_labs_say():
    """docs/hints.ko.md: `python -m tutor.lessons.hints_table > docs/hints.ko.md`."""
    from tutor.lessons.hints_table import markdown, rows
    assert len(rows()) >= 30
    assert (Path(__file__).resolve().parents[2] / "docs" / "hints.ko.md").read_text() == markdown()


def test_a_trace_speaks_korean_and_its_json_stays_english(monkeypatch):
    from tutor.checks.lang import parse_check
    from tutor.checks.trace import Facts, build
    check = parse_check("ping 8.8.8.8 from container11")
    state = parse_state((STATES / "l3-broken.txt").read_text())
    facts = Facts(address="8.8.8.8", route={"dev": "veth11", "gateway": "10.201.0.1", "prefsrc": "10.201.0.5"},
                  probe=(False, LOSS), proto="icmp")
    trace = build(check, state, facts)
    monkeypatch.setenv("TUTOR_LANG", "en")
    english = trace.as_json()
    assert set(english) == {"check", "reached", "result", "hops", "dies", "hint", "counters"}
    assert all(set(h) == {"where", "what", "ok"} for h in english["hops"])
    assert english["hops"][0]["what"] == "ip route get 8.8.8.8: via 10.201.0.1 dev veth11 src 10.201.0.5"
    monkeypatch.setenv("TUTOR_LANG", "ko")
    korean = trace.as_json()
    assert {k: v for k, v in korean.items() if not k.endswith("_local") and k != "hops"} == \
        {k: v for k, v in english.items() if k != "hops"}
    assert all(HANGUL.search(h["what_local"]) or h["what_local"] == h["what"] for h in korean["hops"])
    shown = trace.shown("ko")
    assert HANGUL.search(shown.dies) and HANGUL.search(shown.hint)
    assert shown.hint.endswith(str(trace.hint).split(": ", 1)[1])   # the command as it is
    monkeypatch.setenv("TUTOR_LANG", "en")
    assert trace.shown("en").as_json() == english


if __name__ == "__main__":
    import sys
    json.dump(verdicts(), sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
    sys.stdout.write("\n")
