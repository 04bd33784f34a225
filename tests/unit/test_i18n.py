"""The course's language: how it is chosen, and lessons translated by overlays that share the
lesson's commands and checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tutor import cli, i18n
from tutor.lessons.lesson import BUILTIN_LESSONS, LessonError, load_lessons, overlay_path, parse_lesson

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("env, expected", [
    ({}, "en"),
    ({"LANG": "ko_KR.UTF-8"}, "ko"),
    ({"LANG": "en_US.UTF-8"}, "en"),
    ({"LANG": "ko_KR.UTF-8", "LC_ALL": "C.UTF-8"}, "en"),          # LC_ALL first, as POSIX orders them
    ({"LANG": "C", "LC_MESSAGES": "ko_KR.UTF-8"}, "ko"),
    ({"LANG": "ko_KR.UTF-8", "TUTOR_LANG": "en"}, "en"),          # TUTOR_LANG (tutor --lang) wins
    ({"TUTOR_LANG": "ko"}, "ko"),
    ({"TUTOR_LANG": "fr", "LANG": "ko_KR.UTF-8"}, "ko"),          # an unknown TUTOR_LANG is ignored
])
def test_the_language_is_chosen_by_tutor_lang_then_the_locale(monkeypatch, env, expected):
    for var in ("TUTOR_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert i18n.lang() == expected


def test_english_reads_no_catalog(monkeypatch):
    monkeypatch.setenv("TUTOR_LANG", "en")
    code = "import tutor.i18n as i; i._('step'); import sys; print('gettext' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "TUTOR_LANG": "en"})
    assert out.stdout.strip() == "False", out.stderr


def test_lang_option_sets_the_language_for_everything_it_starts(monkeypatch, capsys):
    monkeypatch.delenv("TUTOR_LANG", raising=False)
    assert cli._take_lang(["--lang", "ko", "list"]) == ["list"] and os.environ["TUTOR_LANG"] == "ko"
    assert cli._take_lang(["--lang=en", "verify", "3"]) == ["verify", "3"] and os.environ["TUTOR_LANG"] == "en"
    assert cli.main(["--lang", "fr", "list"]) == 2
    assert capsys.readouterr().err == "tutor: --lang takes en or ko, not 'fr'\n"
    assert cli.main(["--lang"]) == 2


LESSON = """---
id: demo
title: A demo
---

Intro.

## First

Do it.

```sh
ip netns add red
```

```check
netns red
```

## Second

Look.

```sh look
ip netns
```

```check
netns red
```
"""

KO = """---
id: demo
title: 데모
---

소개.

## 첫째

하세요.

```text
$ ip netns
red
```

## 둘째

보세요.
"""


def test_an_overlay_translates_the_words_and_keeps_the_commands_and_checks(tmp_path, monkeypatch):
    (tmp_path / "01-demo.md").write_text(LESSON)
    (tmp_path / "ko").mkdir()
    (tmp_path / "ko" / "01-demo.md").write_text(KO)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TUTOR_LANG", "en")
    [english] = load_lessons(tmp_path)
    monkeypatch.setenv("TUTOR_LANG", "ko")
    [korean] = load_lessons(tmp_path)
    assert (korean.title, korean.intro) == ("데모", "소개.")
    assert [s.title for s in korean.steps] == ["첫째", "둘째"] and "red" in korean.steps[0].body
    assert [[c.text for c in s.commands] for s in korean.steps] == [[c.text for c in s.commands] for s in english.steps]
    assert [[c.text for c in s.checks] for s in korean.steps] == [[c.text for c in s.checks] for s in english.steps]
    assert english.title == "A demo"          # each language has its own cache
    monkeypatch.setenv("TUTOR_LANG", "en")
    assert load_lessons(tmp_path)[0].title == "A demo"


def test_an_overlay_that_drifted_leaves_the_lesson_in_english(tmp_path, monkeypatch):
    (tmp_path / "01-demo.md").write_text(LESSON)
    (tmp_path / "ko").mkdir()
    (tmp_path / "ko" / "01-demo.md").write_text(KO.split("## 둘째")[0])   # one step short
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TUTOR_LANG", "ko")
    assert load_lessons(tmp_path)[0].title == "A demo"


def test_an_overlay_may_not_bring_commands_or_checks(tmp_path):
    path = tmp_path / "01-demo.md"
    path.write_text(KO + "\n```sh\nip link del veth0\n```\n")
    with pytest.raises(LessonError, match="leave this `sh` block out"):
        parse_lesson(path, overlay=True)


def test_every_shipped_overlay_matches_its_lesson_step_for_step():
    """A lesson changed since it was translated: its overlay must change with it."""
    for lesson in load_lessons(BUILTIN_LESSONS):
        for language in i18n.LANGS[1:]:
            path = overlay_path(lesson.path, language)
            if not os.path.exists(path):
                continue
            words = parse_lesson(path, overlay=True)
            assert words.id == lesson.id, path
            assert len(words.steps) == len(lesson.steps), \
                f"{path}: {len(words.steps)} steps, the lesson has {len(lesson.steps)}"


def test_the_cli_speaks_korean_when_asked(tmp_path):
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "TUTOR_LAB": f"i18n-{os.getpid()}"}
    env.pop("TUTOR_LANG", None)
    for argv, extra in ((["--lang", "ko", "lab", "status"], {}), (["lab", "status"], {"LANG": "ko_KR.UTF-8"})):
        out = subprocess.run([sys.executable, "-m", "tutor.cli", *argv], capture_output=True, text=True,
                             cwd=REPO, env={**env, "LC_ALL": "", **extra})
        said = i18n.particles(f"실습 환경 i18n-{os.getpid()}이(가) 실행 중이 아닙니다\n")
        assert out.returncode == 1 and out.stdout == said and "(가)" not in said, out
    out = subprocess.run([sys.executable, "-m", "tutor.cli", "lab", "status"], capture_output=True, text=True,
                         cwd=REPO, env={**env, "LANG": "C.UTF-8", "LC_ALL": ""})
    assert out.stdout == f"lab i18n-{os.getpid()} is not running\n"


def test_every_shipped_lesson_is_in_korean_too():
    missing = [lesson.id for lesson in load_lessons(BUILTIN_LESSONS)
               if not os.path.exists(overlay_path(lesson.path, "ko"))]
    assert not missing, f"no Korean overlay for {missing}"


@pytest.mark.parametrize("word, subject, object_, toward, topic", [
    ("veth1", "veth1이", "veth1을", "veth1로", "veth1은"),        # 일: ㄹ
    ("br0", "br0이", "br0을", "br0으로", "br0은"),                # 영: a final consonant, not ㄹ
    ("red", "red가", "red를", "red로", "red는"),                  # 디: a vowel
    ("DOWN", "DOWN이", "DOWN을", "DOWN으로", "DOWN은"),           # 엔
    ("10.0.0.2", "10.0.0.2가", "10.0.0.2를", "10.0.0.2로", "10.0.0.2는"),   # 이
    ("/24", "/24가", "/24를", "/24로", "/24는"),                  # 사
    ("네임스페이스", "네임스페이스가", "네임스페이스를", "네임스페이스로", "네임스페이스는"),
    ("실습", "실습이", "실습을", "실습으로", "실습은"),
    ("서울", "서울이", "서울을", "서울로", "서울은"),              # ㄹ takes 로
    ("`ip -n red`", "`ip -n red`가", "`ip -n red`를", "`ip -n red`로", "`ip -n red`는"),   # past the quote
])
def test_a_particle_follows_the_word_before_it(word, subject, object_, toward, topic):
    text = "{w}이(가) {w}을(를) {w}(으)로 {w}은(는)"
    assert i18n.particles(text.format(w=word)) == f"{subject} {object_} {toward} {topic}"
    assert i18n.Msg("{dev} is DOWN", dev=word).text("en") == f"{word} is DOWN"


def test_a_particle_after_a_symbol_keeps_its_fallback_form():
    assert i18n.particles("→이(가)") == "→이(가)" and i18n.particles("이(가)") == "이(가)"


def test_korean_catalog_text_picks_particles_when_filled():
    assert i18n.translate("lab {name} is not running", "ko").format(name="ko1") == "실습 환경 ko1이 실행 중이 아닙니다"
    assert i18n.translate("lab {name} is not running", "ko").format(name="red") == "실습 환경 red가 실행 중이 아닙니다"
    assert i18n.Msg("{where} is DOWN", where="veth1").text("ko") == "veth1이 DOWN 상태입니다"


def test_a_parenthesis_right_after_a_word_is_an_aside_for_the_particle():
    assert i18n.particles("규칙(`-A FORWARD -f -j DROP`)은(는)") == "규칙(`-A FORWARD -f -j DROP`)은"
    assert i18n.particles("브리지(bridge)이(가)") == "브리지(bridge)가"
    assert i18n.particles("10.0.0.1(veth1)(으)로") == "10.0.0.1(veth1)로"
    assert i18n.particles("(/24)이(가)") == "(/24)가"        # nothing before it: what it holds
