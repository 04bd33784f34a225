"""The lesson parser: the shipped lessons, good fixture files, and broken ones that must each
give one `file:line: message` error pointing at the line that is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tutor.checks.lang import Where
from tutor.lessons.lesson import (
    BUILTIN_LESSONS,
    Command,
    LessonError,
    Serve,
    find_lesson,
    lesson_files,
    load_lessons,
    normalize_id,
    parse_lesson,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lessons"
BROKEN = FIXTURES / "broken"


# --- the shipped lessons ---------------------------------------------------------------------

def test_every_shipped_lesson_parses():
    lessons = load_lessons(BUILTIN_LESSONS)
    assert [l.id for l in lessons] == ["routing", "dns", "lesson1", "lesson2", "lesson3", "lesson4", "lesson5",
                                       "docker", "cni"]
    for lesson in lessons:
        assert lesson.title and lesson.intro
        assert lesson.steps, lesson.id
        for step in lesson.steps:
            assert step.title and step.checks, (lesson.id, step.number)
            assert step.commands, f"{lesson.id} step {step.number} has nothing for `tutor solve` to run"


def test_shipped_lessons_requires_and_setup():
    by_id = {l.id: l for l in load_lessons(BUILTIN_LESSONS)}
    assert by_id["lesson3"].requires == ["lesson2"]
    assert by_id["lesson5"].requires == ["lesson4"]
    serve, = by_id["lesson5"].setup
    assert serve.text == "serve http blue 80 Hello from blue"
    assert serve.serve == Serve("blue", 80, "Hello from blue") and not serve.looks_only
    assert by_id["docker"].requires == [] and by_id["docker"].setup == []   # it starts from an empty host
    assert "ip netns add red" in [c.text for c in by_id["lesson4"].setup]


def test_step_lines_point_at_their_headings():
    for path in map(Path, lesson_files(BUILTIN_LESSONS)):
        lines = path.read_text(encoding="utf-8").splitlines()
        for step in parse_lesson(path).steps:
            assert lines[step.line - 1] == f"## {step.title}"


def test_text_fences_are_not_commands():
    """lesson1 shows the notes' broken `ip netns exec ip --br link` in a `text` fence only."""
    lesson = find_lesson("lesson1", BUILTIN_LESSONS)
    commands = [c.text for s in lesson.steps for c in s.commands]
    assert "ip netns exec ip --br link         # wrong: which namespace?" not in commands
    assert not any(c.startswith("ip netns exec ip ") for c in commands)
    assert "ip netns exec red ip -br link" in commands


# --- good fixture files ----------------------------------------------------------------------

def test_good_fixture_is_parsed_exactly():
    lesson = parse_lesson(FIXTURES / "good" / "01-basics.md")
    assert (lesson.id, lesson.title, lesson.requires, lesson.setup) == (
        "basics", "Two namespaces and a cable", [], [])
    assert lesson.intro.startswith("The intro is everything before the first step.")
    assert "ip link del eth0" in lesson.intro            # a text fence stays part of the prose
    first, second = lesson.steps
    assert (first.number, first.title, first.line) == (1, "Make the namespaces", 12)
    assert first.commands == [Command("ip netns add red", 19), Command("ip netns add blue", 20)]
    assert [c.text for c in first.checks] == ["netns red", "netns blue"]
    assert first.body == "Explanation of the step."
    assert [c.text for c in second.commands] == ["ip link add veth0 type veth peer name veth1",
                                                 "ip link set veth1 netns red",
                                                 "ip -n red addr add 10.200.0.3/24 dev veth1",
                                                 "ip -n red -br addr", "ping -c 1 10.200.0.3"]
    assert second.commands[0].line == 33                  # a continued command: its first line
    assert [(c.text, c.line) for c in second.commands if c.looks_only] == [
        ("ip -n red -br addr", 47), ("ping -c 1 10.200.0.3", 48)]   # the `sh look` fence
    assert not any(c.looks_only for c in second.commands[:3] + first.commands)
    assert not any(c.serve for c in first.commands + second.commands)
    assert [c.kind for c in second.checks] == ["peer", "addr", "ping"]
    assert "sample output, not a command" in second.body
    assert "```sh" not in second.body and "```check" not in second.body


def test_good_fixture_with_requires_setup_and_serve():
    more = parse_lesson(FIXTURES / "good" / "02-more.md")
    assert (more.id, more.requires) == ("more", ["basics"])
    assert more.setup == [Command("ip link set veth0 up", 8),
                          Command("serve http red 80 Hello from red", 9, serve=Serve("red", 80, "Hello from red"))]
    route, fetch, tcp = more.steps[0].checks
    assert route.args == {"dest": "default", "via": "10.200.0.2", "dev": None}
    assert route.where == Where("red")
    assert fetch.args["status"] == 200 and fetch.where == Where("host")
    assert tcp.where == Where("lan", node=True)


def test_good_fixture_set_loads_in_order():
    assert [l.id for l in load_lessons(FIXTURES / "good")] == ["basics", "more"]


def test_find_lesson_accepts_numbers_and_names():
    assert normalize_id(" 3 ") == "lesson3" and normalize_id("Lesson3") == "lesson3"
    assert find_lesson("2", BUILTIN_LESSONS).id == "lesson2"
    known = r"\(known: routing, dns, lesson1, .*lesson5, docker, cni\)"
    with pytest.raises(LessonError, match=r"there is no lesson '9' " + known):
        find_lesson("9", BUILTIN_LESSONS)


def test_text_argument_is_parsed_instead_of_the_file(tmp_path):
    text = "---\nid: inline\ntitle: Inline\n---\n\n## S\n\n```check\nnetns red\n```\n"
    lesson = parse_lesson(tmp_path / "nowhere.md", text)
    assert lesson.id == "inline" and lesson.steps[0].line == 6


# --- broken fixture files: file, line, message -----------------------------------------------

BROKEN_CASES = [
    ("no-front-matter.md", 1, "a lesson must start with front matter"),
    ("unclosed-front-matter.md", 1, "not closed by a `---` line"),
    ("missing-id.md", 1, "front matter `id:` is missing"),
    ("missing-title.md", 1, "front matter `title:` is missing"),
    ("empty-title.md", 4, "front matter `title:` is empty"),
    ("bad-id.md", 3, "id 'Lesson One' must be lowercase letters, digits and dashes"),
    ("bad-front-matter-line.md", 4, "front matter lines are `key: value`"),
    ("step-without-check.md", 16, "step 'Second' has no `check` block"),
    ("two-check-blocks.md", 16, "step 'Only step' has a second `check` block"),
    ("empty-check-block.md", 8, "step 'Only step' has an empty `check` block"),
    ("unknown-check-kind.md", 10, "unknown check 'pingg'"),
    ("bad-address.md", 11, "address '10.200.0.300' is not an IP address"),
    ("address-without-prefix.md", 9, "needs its prefix, like 10.200.0.3/24"),
    ("node-in-state-check.md", 9, "`node` is only for behaviour checks"),
    ("sh-before-first-step.md", 8, "`sh` commands belong to a step"),
    ("check-before-first-step.md", 6, "a `check` block belongs to a step"),
    ("setup-in-a-step.md", 8, "a `setup` block belongs before the first step"),
    ("no-steps.md", 5, "the lesson has no steps"),
    ("sh-unknown-option.md", 12, "a `sh` fence takes only `look` after `sh`"),
    ("serve-in-look.md", 14, "a `serve` line starts a server: it belongs in a `sh` fence"),
]


@pytest.mark.parametrize("name,line,message", BROKEN_CASES, ids=[c[0] for c in BROKEN_CASES])
def test_broken_file_names_file_and_line(name, line, message):
    path = BROKEN / name
    with pytest.raises(LessonError) as err:
        parse_lesson(path)
    assert (err.value.path, err.value.line) == (str(path), line)
    assert message in err.value.message
    assert str(err.value) == f"{path}:{line}: {err.value.message}"


def test_every_broken_fixture_is_in_the_table():
    assert sorted(p.name for p in BROKEN.glob("*.md")) == sorted(c[0] for c in BROKEN_CASES)


def test_duplicate_ids_name_the_second_file_and_its_id_line():
    with pytest.raises(LessonError) as err:
        load_lessons(FIXTURES / "dup-ids")
    second = FIXTURES / "dup-ids" / "02-second.md"
    assert (err.value.path, err.value.line) == (str(second), 3)   # `id:` is the third line there
    assert "lesson id 'same' is also used by" in err.value.message
    assert "01-first.md" in err.value.message


def test_requires_of_an_unknown_lesson_names_the_requires_line():
    with pytest.raises(LessonError) as err:
        load_lessons(FIXTURES / "unknown-requires")
    assert (err.value.path, err.value.line) == (str(FIXTURES / "unknown-requires" / "02-second.md"), 5)
    assert err.value.message == "requires unknown lesson 'lesson9' (known: first, second)"


def test_requires_cycle_is_an_error_not_a_hang():
    with pytest.raises(LessonError, match=r"01-a\.md:4: requires goes round in a circle: a -> b -> a"):
        load_lessons(FIXTURES / "cycle")


@pytest.mark.parametrize("text,line,message", [
    ("---\nid: x\ntitle: X\nid: y\n---\n## S\n```check\nnetns a\n```\n", 4, "`id:` twice"),
    ("---\nid: x\ntitle: X\n---\n##\n```check\nnetns a\n```\n", 5, "a step heading has no title"),
    ("---\nid: x\ntitle: X\n---\n## S\n```sh\nip netns add a\nserve http a eighty\n```\n"
     "```check\nnetns a\n```\n", 8, "write `serve http NAMESPACE PORT"),
    ("---\nid: x\ntitle: X\n---\n## S\n```check\nsysctl net.ipv4.ip_forward 1\n```\n", 7,
     "write `sysctl KEY = VALUE`"),
    ("", 1, "a lesson must start with front matter"),
])
def test_inline_broken_texts(tmp_path, text, line, message):
    with pytest.raises(LessonError) as err:
        parse_lesson(tmp_path / "x.md", text)
    assert err.value.line == line and message in err.value.message


def test_unreadable_file_is_a_lesson_error(tmp_path):
    bad = tmp_path / "01-bad.md"
    bad.write_bytes(b"---\nid: x\ntitle: \xff\xfe\n---\n")
    with pytest.raises(LessonError, match="cannot read the lesson file"):
        parse_lesson(bad)
    with pytest.raises(LessonError, match="there is no lesson folder here"):
        load_lessons(tmp_path / "missing")


# --- the CLI on a broken lesson file: exit 2, one sentence naming file:line -----------------

def _tutor(*args: str, lessons: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, TUTOR_LESSONS=str(lessons), TUTOR_LAB=f"nolab-{os.getpid()}")
    return subprocess.run([sys.executable, "-m", "tutor.cli", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60)


@pytest.mark.parametrize("name,line", [("step-without-check.md", 16), ("bad-address.md", 11),
                                       ("unknown-check-kind.md", 10)])
def test_verify_on_a_broken_lesson_file_exits_2_naming_file_and_line(tmp_path, name, line):
    (tmp_path / "01-good.md").write_text((FIXTURES / "good" / "01-basics.md").read_text())
    broken = tmp_path / f"02-{name}"
    broken.write_text((BROKEN / name).read_text())
    result = _tutor("verify", "basics", lessons=tmp_path)
    assert result.returncode == 2, result
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"tutor: {broken}:{line}: ")


def test_list_on_a_broken_lesson_set_exits_2(tmp_path):
    for p in (FIXTURES / "dup-ids").glob("*.md"):
        (tmp_path / p.name).write_text(p.read_text())
    result = _tutor("list", lessons=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"tutor: {tmp_path / '02-second.md'}:3: lesson id 'same'")


def test_parsed_lessons_come_from_the_cache_until_a_file_changes(tmp_path, monkeypatch):
    import tutor.lessons.lesson as lesson_mod
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    src = tmp_path / "lessons"
    src.mkdir()
    for f in map(Path, lesson_files(BUILTIN_LESSONS)[:2]):
        (src / f.name).write_text(f.read_text())
    first = load_lessons(src)
    cached = list((tmp_path / "cache" / "netns-tutor").glob("lessons-*.json"))
    assert len(cached) == 1
    parsed = []
    real = lesson_mod.parse_lesson

    def parse_lesson(p, *a):
        parsed.append(p)
        return real(p, *a)
    monkeypatch.setattr(lesson_mod, "parse_lesson", parse_lesson)
    again = load_lessons(src)
    assert parsed == [] and [l.title for l in again] == [l.title for l in first]
    # an edited file (same folder, so the same cache file) is parsed again, and only then
    target = Path(lesson_files(src)[1])
    target.write_text(target.read_text().replace("title: ", "title: Edited ", 1))
    edited = load_lessons(src)
    assert parsed and edited[1].title.startswith("Edited ")
    parsed.clear()
    assert load_lessons(src)[1].title.startswith("Edited ") and parsed == []
    # a cache that is not JSON of ours is parsed around, not trusted
    cached[0].write_bytes(b"garbage")
    assert load_lessons(src)[1].title.startswith("Edited ") and parsed
    assert load_lessons(src) == edited                 # what the cache gives equals the parse
