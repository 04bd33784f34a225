"""Parsed lessons kept as JSON under $XDG_CACHE_HOME/netns-tutor, so a call need not parse.

Parsing needs markdown-it (~35 ms with its import, bench/README.md); nearly every `tutor` call
loads the lessons. The cache is data, never code (a pickle from a folder another account can
write would run as whoever loads it, root under `sudo -E`): it is read through
`tutor.safefile` (the user's own folder only, bounded), and a file that is not exactly what
`save` writes is ignored and rebuilt, silently.
"""

from __future__ import annotations

import os

from tutor.checks import kinds
from tutor.checks.lang import Check, Where
from tutor.i18n import LANGS

FORMAT = 3   # 2: commands are typed (text, line, looks only, serve), not strings; 3: one per language
# The whole course is ~60 KB of JSON; a folder of lessons 1 MiB each could not be cached.
LIMIT = 16 << 20
_HERE = os.path.dirname(os.path.realpath(__file__))
# A change to any of these (or to a check kind's module, kinds.files()) can change what a
# lesson parses to.
_PARSER = [os.path.join(_HERE, "lesson.py"), os.path.join(_HERE, "cache.py"),
           os.path.join(os.path.dirname(_HERE), "checks", "lang.py")]


def _where(files: list[str], language: str) -> tuple[str, str] | None:
    """The cache file for these lesson files (and their translations) in `language`, and the key
    it must hold: their paths, sizes and times (and the parser's). None if a file cannot be
    looked at."""
    import zlib
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    try:
        key = "".join(f"{os.path.realpath(f)}\0{st.st_size}\0{st.st_mtime_ns}\n"
                      for f in [*files, *_PARSER, *kinds.files()] for st in [os.stat(f)])
    except OSError:
        return None
    folder = os.path.dirname(files[0]) if files else ""
    name = f"lessons-{zlib.crc32(folder.encode()):08x}-{language}.json"
    return os.path.join(base, "netns-tutor", name), key


def load(files: list[str], language: str = "en"):
    """The lessons parsed from `files` when last saved, or None (no cache, stale or not valid)."""
    from tutor import safefile
    where = _where(files, language)
    if where is None:
        return None
    try:
        data = safefile.read_json(where[0], LIMIT)
        if not isinstance(data, dict) or data["format"] != FORMAT or data["key"] != where[1]:
            return None
        return [_lesson(d) for d in data["lessons"]]
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None


def save(files: list[str], lessons: list, language: str = "en") -> None:
    """Keep `lessons` (parsed from `files`); one folder's lessons at a time, in each language.
    Never fails: a cache that cannot be written only costs the parse next time."""
    import json

    from tutor import safefile
    where = _where(files, language)
    if where is None:
        return
    path, key = where
    data = {"format": FORMAT, "key": key, "lessons": [_plain(l) for l in lessons]}
    try:
        safefile.write_private(path, json.dumps(data, ensure_ascii=False).encode())
        folder = os.path.dirname(path)
        for old in os.listdir(folder):   # other folders' lessons, and caches of older versions
            if (old.startswith("lessons-") and old.endswith((".json", ".pickle")) and old != os.path.basename(path)
                    and not any(old.endswith(f"-{other}.json") for other in LANGS if other != language)):
                os.unlink(os.path.join(folder, old))
    except OSError:
        pass


def _plain(lesson) -> dict:
    return {"id": lesson.id, "title": lesson.title, "path": lesson.path, "requires": lesson.requires,
            "setup": [_plain_command(c) for c in lesson.setup], "intro": lesson.intro,
            "key_lines": lesson.key_lines,
            "steps": [[s.number, s.title, s.body, [_plain_command(c) for c in s.commands], s.line,
                       [[c.text, c.kind, c.args, c.where.ns, c.where.node] for c in s.checks]]
                      for s in lesson.steps]}


def _plain_command(c) -> list:
    serve = None if c.serve is None else [c.serve.namespace, c.serve.port, c.serve.body]
    return [c.text, c.line, c.looks_only, serve]


def _lesson(d: dict):
    from tutor.lessons.lesson import Lesson, Step
    steps = [Step(_int(n), _str(title), _str(body), _commands(commands), [_check(c) for c in checks], _int(line))
             for n, title, body, commands, line, checks in d["steps"]]
    key_lines = d["key_lines"]
    if not isinstance(key_lines, dict) or not all(isinstance(v, int) for v in key_lines.values()):
        raise TypeError("key_lines")
    return Lesson(_str(d["id"]), _str(d["title"]), _str(d["path"]), _strs(d["requires"]),
                  _commands(d["setup"]), _str(d["intro"]), steps, key_lines)


def _commands(v: object) -> list:
    from tutor.lessons.lesson import Command, Serve
    if not isinstance(v, list):
        raise TypeError("not a list of commands")
    out = []
    for text, line, looks_only, serve in v:
        if not isinstance(looks_only, bool):
            raise TypeError("looks_only")
        if serve is not None:
            ns, port, body = serve
            serve = Serve(_str(ns), _int(port), _str(body))
        out.append(Command(_str(text), _int(line), looks_only, serve))
    return out


def _check(c: list) -> Check:
    text, kind, args, ns, node = c
    if kind not in kinds.names() or not isinstance(args, dict) or not isinstance(node, bool):
        raise TypeError("check")
    if not all(v is None or isinstance(v, (str, int)) for v in args.values()):
        raise TypeError("check args")
    return Check(_str(text), kind, args, Where(_str(ns), node))


def _str(v: object) -> str:
    if not isinstance(v, str):
        raise TypeError("not a string")
    return v


def _int(v: object) -> int:
    if not isinstance(v, int):
        raise TypeError("not a number")
    return v


def _strs(v: object) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise TypeError("not a list of strings")
    return v
