"""Lesson files (Markdown, see docs/lesson-format.md) -> Lesson / Step objects.

Parsing uses markdown-it-py's token stream so fences and headings are found exactly as a
Markdown renderer sees them; every error names the file and line.
"""

from __future__ import annotations

import os
import re

from tutor.checks.lang import Check, CheckSyntaxError, parse_check
from tutor.i18n import Msg, cause, in_lang
from tutor.plain import Plain

# Paths are plain strings here: loading parsed lessons, which nearly every `tutor` call does,
# stays clear of pathlib's import (measured on `tutor reset lesson1`: +21 ms, the median of 21
# pairs on a busy 2-core machine; issue 10 weighed it and kept it).
# the repository's lessons/ folder: tutor/lessons/lesson.py -> tutor/lessons -> tutor -> the root
BUILTIN_LESSONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))),
                               "lessons")
_ID = re.compile(r"^[a-z][a-z0-9-]*$")
# `serve http NS PORT [BODY…]`: a directive to the lab agent, not a shell command.
_SERVE = re.compile(r"^serve\s+http\s+(\S+)\s+(\d+)(?:\s+(.*))?$")
# What a `sh` fence's info string may say after `sh`.
_SH_OPTIONS = ("look",)


class LessonError(Exception):
    """A broken lesson file or an unknown lesson; str() is `path:line: message` when located."""

    def __init__(self, message: str, path: os.PathLike | str | None = None, line: int | None = None):
        path = os.fspath(path) if path else None
        self.path, self.line, self.message = path, line, message
        self.where = f"{path}:{line}: " if path and line else f"{path}: " if path else ""
        super().__init__(self.where + message)

    def text(self, code: str) -> str:
        """What it says in language `code`: the place, then the sentence (a Msg translated)."""
        return self.where + in_lang(self.message, code)


# Serve, Command, Step and Lesson are plain classes (`tutor.plain.Plain`: equality by their
# slots), not dataclasses: `tutor reset` imports nothing else that needs `dataclasses` (and with
# it `inspect`, `ast`, `dis`), and making these dataclasses measured +11 ms on it (median of 31
# whole runs of `tutor reset lesson1`, 42.0 -> 53.3 ms; bench/README.md, issue 10).
class Serve(Plain):
    """A `serve http NS PORT [BODY…]` line: the lab agent serves HTTP on PORT in NS, replying BODY."""
    __slots__ = ("namespace", "port", "body")

    def __init__(self, namespace: str, port: int, body: str = ""):
        self.namespace, self.port, self.body = namespace, port, body

    def __repr__(self) -> str:
        return f"Serve({self.namespace!r}, {self.port}, {self.body!r})"


class Command(Plain):
    """One line a lesson runs in the lab, parsed once: its `text` (as the student types it),
    the file `line` it starts on, whether it `looks_only` (it sat in a `sh look` fence: run by
    `tutor solve` and `selftest`, skipped when `tutor reset` rebuilds a start state), and
    `serve`, the parsed directive for the lab agent, or None for a shell command."""
    __slots__ = ("text", "line", "looks_only", "serve")

    def __init__(self, text: str, line: int = 0, looks_only: bool = False, serve: Serve | None = None):
        self.text, self.line, self.looks_only, self.serve = text, line, looks_only, serve

    def __repr__(self) -> str:
        return f"Command({self.text!r}, line={self.line}" + (", looks_only=True" if self.looks_only else "") + ")"

    def with_text(self, text: str) -> Command:
        """The same command (line, mark, kind) with other shell text (selftest's quicker pings)."""
        return Command(text, self.line, self.looks_only, self.serve)


class Step(Plain):
    """One step: explanation, the commands the student types, and the checks that verify it."""
    __slots__ = ("number", "title", "body", "commands", "checks", "line")

    def __init__(self, number: int, title: str, body: str, commands: list[Command], checks: list[Check],
                 line: int):
        self.number, self.title, self.body = number, title, body
        self.commands, self.checks, self.line = commands, checks, line

    def __repr__(self) -> str:
        return f"Step({self.number}, {self.title!r}, line={self.line})"


class Lesson(Plain):
    """A parsed lesson file (`path` a string)."""
    __slots__ = ("id", "title", "path", "requires", "setup", "intro", "steps", "key_lines")

    def __init__(self, id: str, title: str, path: str, requires: list[str], setup: list[Command],  # noqa: A002
                 intro: str, steps: list[Step] | None = None, key_lines: dict[str, int] | None = None):
        self.id, self.title, self.path = id, title, path
        self.requires, self.setup, self.intro = requires, setup, intro
        self.steps = [] if steps is None else steps
        self.key_lines = {} if key_lines is None else key_lines   # front-matter key -> file line

    def __repr__(self) -> str:
        return f"Lesson({self.id!r}, {self.title!r}, {self.path!r}, {len(self.steps)} steps)"

    def line_of(self, key: str) -> int:
        """The file line of front-matter `key` (1, the opening `---`, if it is absent)."""
        return self.key_lines.get(key, 1)


def _front_matter(lines: list[str], path: str) -> tuple[dict[str, str], dict[str, int], int]:
    """-> (key: value, key: file line, line of the closing `---`)."""
    if not lines or lines[0].strip() != "---":
        raise LessonError(Msg("a lesson must start with front matter (a line `---`)"), path, 1)
    if not any(line.strip() == "---" for line in lines[1:]):
        raise LessonError(Msg("the front matter opened here is not closed by a `---` line"), path, 1)
    meta: dict[str, str] = {}
    where: dict[str, int] = {}
    for i, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if line == "---":
            return meta, where, i
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise LessonError(Msg("front matter lines are `key: value`, not {line!r}", line=line), path, i)
        if key.strip() in meta:
            raise LessonError(Msg("front matter has `{key}:` twice", key=key.strip()), path, i)
        meta[key.strip()] = value.split(" #", 1)[0].strip()
        where[key.strip()] = i
    raise AssertionError("unreachable: a closing `---` was seen above")


def _commands(text: str, path: str, first_line: int, looks_only: bool = False) -> list[Command]:
    """Fence content -> commands (comments and blanks dropped, `\\` continuations joined), each
    with the file line it starts on; `serve` lines parsed, a malformed one an error at its line."""
    out: list[Command] = []
    pending, start = "", 0
    for i, raw in enumerate(text.splitlines()):
        line = raw.rstrip()
        if pending:
            line = pending + " " + line.lstrip()
            pending = ""
        else:
            start = first_line + i
        if line.endswith("\\"):
            pending = line[:-1].rstrip()
            continue
        if line.strip() and not line.lstrip().startswith("#"):
            out.append(_command(line.strip(), path, start, looks_only))
    if pending:
        out.append(_command(pending.strip(), path, start, looks_only))
    return out


def _command(text: str, path: str, line: int, looks_only: bool) -> Command:
    """One command line; `serve …` becomes the agent's directive (it changes the lab: never in a
    `look` fence)."""
    if text.split()[0] != "serve":
        return Command(text, line, looks_only)
    m = _SERVE.match(text)
    if not m:
        raise LessonError(Msg("write `serve http NAMESPACE PORT [BODY…]`"), path, line)
    if looks_only:
        raise LessonError(Msg("a `serve` line starts a server: it belongs in a `sh` fence, not `sh look`"),
                          path, line)
    return Command(text, line, False, Serve(m.group(1), int(m.group(2)), m.group(3) or ""))


def parse_lesson(path: os.PathLike | str, text: str | None = None, overlay: bool = False) -> Lesson:
    """Parse one lesson file; raises LessonError with file:line on any problem.

    `overlay`: the file is a translation of a lesson (`lessons/ko/NN-slug.md`): its title, intro
    and steps' titles and prose, with no `sh`, `check` or `setup` block (those are the lesson's
    own, written once)."""
    from markdown_it import MarkdownIt

    path = os.fspath(path)
    if text is None:
        from tutor import safefile
        try:   # lesson folders may be shared (and linked): any owner, but a small regular file
            text = safefile.read_bytes(path, trusted=False, follow=True).decode("utf-8")
        except safefile.UnsafeFile as exc:
            raise LessonError(Msg("cannot read the lesson file: it {why}", why=Msg(exc.template, **exc.params)),
                              path) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise LessonError(Msg("cannot read the lesson file ({why})", why=exc), path) from None
    lines = text.splitlines()
    meta, key_lines, body_start = _front_matter(lines, path)
    for key in ("id", "title"):
        if not meta.get(key):
            said = Msg("front matter `{key}:` is empty", key=key) if key in meta else \
                Msg("front matter `{key}:` is missing", key=key)
            raise LessonError(said, path, key_lines.get(key, 1))
    if not _ID.match(meta["id"]):
        raise LessonError(Msg("id {id!r} must be lowercase letters, digits and dashes", id=meta["id"]), path,
                          key_lines["id"])
    requires = [r.strip() for r in meta.get("requires", "").replace("[", "").replace("]", "").split(",") if r.strip()]
    body_lines = lines[body_start:]
    tokens = MarkdownIt("commonmark").parse("\n".join(body_lines))
    lesson = Lesson(meta["id"], meta["title"], path, requires, [], "", key_lines=key_lines)
    sections: list[dict] = [{"title": None, "line": body_start + 1, "start": 0, "tokens": []}]
    for tok in tokens:
        if tok.type == "heading_open" and tok.tag == "h2":
            assert tok.map is not None   # block tokens carry their lines
            sections.append({"title": None, "line": body_start + tok.map[0] + 1,
                             "start": tok.map[0], "tokens": []})
        sections[-1]["tokens"].append(tok)
    for i, sec in enumerate(sections):
        end = sections[i + 1]["start"] if i + 1 < len(sections) else len(body_lines)
        _fill_section(lesson, sec, body_lines, end, body_start, path, is_intro=(i == 0), overlay=overlay)
    if not lesson.steps:
        raise LessonError(Msg("the lesson has no steps (`## Step title` headings)"), path, body_start + 1)
    return lesson


def _fill_section(lesson: Lesson, sec: dict, body_lines: list[str], end: int, offset: int,
                  path: str, is_intro: bool, overlay: bool = False) -> None:
    toks = sec["tokens"]
    title = ""
    if not is_intro:
        title = toks[1].content.strip() if len(toks) > 1 else ""
        if not title:
            raise LessonError(Msg("a step heading has no title"), path, sec["line"])
    commands: list[Command] = []
    checks: list[Check] | None = None
    check_line = sec["line"]
    keep = [True] * (end - sec["start"])
    for tok in toks:
        if tok.type != "fence":
            continue
        words = tok.info.split()
        info, options = (words[0], words[1:]) if words else ("", [])
        first = offset + tok.map[0] + 1          # file line of the opening fence
        if overlay and info in ("sh", "check", "setup"):
            raise LessonError(Msg("a translation takes its commands and checks from the lesson it "
                                  "translates: leave this `{info}` block out", info=info), path, first)
        if info in ("sh", "check", "setup"):
            for n in range(tok.map[0], tok.map[1]):
                if 0 <= n - sec["start"] < len(keep):
                    keep[n - sec["start"]] = False
        if info == "setup":
            if not is_intro:
                raise LessonError(Msg("a `setup` block belongs before the first step"), path, first)
            lesson.setup += _commands(tok.content, path, first + 1)
        elif info == "sh":
            if is_intro:
                raise LessonError(Msg("`sh` commands belong to a step (put them after a `## ` heading)"), path, first)
            if bad := [o for o in options if o not in _SH_OPTIONS]:
                raise LessonError(Msg("a `sh` fence takes only `look` after `sh` (`sh look`: commands "
                                      "that only look), not {option!r}", option=bad[0]), path, first)
            commands += _commands(tok.content, path, first + 1, looks_only="look" in options)
        elif info == "check":
            if is_intro:
                raise LessonError(Msg("a `check` block belongs to a step"), path, first)
            if checks is not None:
                raise LessonError(Msg("step {title!r} has a second `check` block", title=title), path, first)
            checks, check_line = _checks(tok.content, path, first + 1), first
    text_lines = [l for l, k in zip(body_lines[sec["start"]:end], keep, strict=False) if k]
    if is_intro:
        lesson.intro = "\n".join(text_lines).strip()
        return
    if checks is None and overlay:
        checks = []
    elif checks is None:
        raise LessonError(Msg("step {title!r} has no `check` block", title=title), path, sec["line"])
    if not checks and not overlay:
        raise LessonError(Msg("step {title!r} has an empty `check` block", title=title), path, check_line)
    body = "\n".join(text_lines[1:]).strip()   # drop the heading line itself
    lesson.steps.append(Step(len(lesson.steps) + 1, title, body, commands, checks, sec["line"]))


def _checks(text: str, path: str, first_line: int) -> list[Check]:
    out = []
    for i, raw in enumerate(text.splitlines()):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            out.append(parse_check(line))
        except CheckSyntaxError as exc:
            raise LessonError(cause(exc), path, first_line + i) from None
    return out


def lessons_dir() -> str:
    """Where lessons are read from: $TUTOR_LESSONS (read now, not at import), else lessons/."""
    return os.environ.get("TUTOR_LESSONS") or BUILTIN_LESSONS


def lesson_files(directory: os.PathLike | str | None = None) -> list[str]:
    """The lesson files, in order (`NN-slug.md`)."""
    directory = os.fspath(directory or lessons_dir())
    if not os.path.isdir(directory):
        raise LessonError(Msg("there is no lesson folder here"), directory)
    return sorted(f for f in (os.path.join(directory, n) for n in os.listdir(directory) if n.endswith(".md"))
                  if os.path.isfile(f))


def overlay_path(path: str, language: str) -> str:
    """Where the translation of lesson file `path` into `language` lives: `DIR/ko/NN-slug.md`."""
    return os.path.join(os.path.dirname(path), language, os.path.basename(path))


def translate(lesson: Lesson, overlay: Lesson) -> bool:
    """Put `overlay`'s words into `lesson` (title, intro, each step's title and prose), keeping
    its commands and checks. False, and nothing changed, when the overlay does not match the
    lesson step for step (a lesson changed since it was translated: English then)."""
    if overlay.id != lesson.id or len(overlay.steps) != len(lesson.steps):
        return False
    lesson.title, lesson.intro = overlay.title, overlay.intro
    for step, words in zip(lesson.steps, overlay.steps, strict=True):
        step.title, step.body = words.title, words.body
    return True


def _parse_all(files: list[str]) -> list[Lesson]:
    from tutor import i18n
    from tutor.lessons import cache as lesson_cache
    language = i18n.lang()
    overlays = [overlay_path(f, language) for f in files] if language != "en" else []
    present = [o for o in overlays if os.path.isfile(o)]
    lessons = lesson_cache.load(files + present, language)
    if lessons is None:
        lessons = [parse_lesson(p) for p in files]
        for lesson, path in zip(lessons, overlays, strict=False):
            if path in present:
                translate(lesson, parse_lesson(path, overlay=True))
        lesson_cache.save(files + present, lessons, language)
    return lessons


def load_lessons(directory: os.PathLike | str | None = None) -> list[Lesson]:
    """Every lesson, ordered; a broken file raises LessonError naming it."""
    lessons = _parse_all(lesson_files(directory))
    by_id: dict[str, Lesson] = {}
    for lesson in lessons:
        if lesson.id in by_id:
            raise LessonError(Msg("lesson id {id!r} is also used by {path}", id=lesson.id, path=by_id[lesson.id].path),
                              lesson.path, lesson.line_of("id"))
        by_id[lesson.id] = lesson
    for lesson in lessons:
        for req in lesson.requires:
            if req not in by_id:
                known = ", ".join(by_id)
                raise LessonError(Msg("requires unknown lesson {req!r} (known: {known})", req=req, known=known),
                                  lesson.path, lesson.line_of("requires"))
        if cycle := _requires_cycle(lesson, by_id):
            raise LessonError(Msg("requires goes round in a circle: {cycle}", cycle=" -> ".join(cycle)),
                              lesson.path, lesson.line_of("requires"))
    return lessons


def _requires_cycle(lesson: Lesson, by_id: dict[str, Lesson]) -> list[str] | None:
    """A `requires` path from `lesson` back to itself, if there is one."""
    stack = [(lesson.id, [lesson.id])]
    seen: set[str] = set()
    while stack:
        current, path = stack.pop()
        for req in by_id[current].requires:
            if req == lesson.id:
                return path + [req]
            if req not in seen and req in by_id:
                seen.add(req)
                stack.append((req, path + [req]))
    return None


def normalize_id(key: str) -> str:
    """`3`, `lesson3`, `Lesson3` -> `lesson3`."""
    key = key.strip().lower()
    return f"lesson{int(key)}" if key.isdigit() else key


def find_lesson(key: str, directory: os.PathLike | str | None = None,
                lessons: list[Lesson] | None = None) -> Lesson:
    """The lesson named `key` (`lesson3` or `3`) among `lessons` (default: all in `directory`);
    LessonError lists the known ids otherwise."""
    want = normalize_id(key)
    lessons = load_lessons(directory) if lessons is None else lessons
    for lesson in lessons:
        if lesson.id == want:
            return lesson
    known = ", ".join(l.id for l in lessons)
    raise LessonError(Msg("there is no lesson {key!r} (known: {known})", key=key, known=known))
