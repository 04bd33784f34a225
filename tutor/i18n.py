"""The course's language: English or Korean, and the message catalogs that translate it.

The language is `TUTOR_LANG` (`tutor --lang` sets it), else the locale: the first of `LC_ALL`,
`LC_MESSAGES` and `LANG` that is set decides, as POSIX orders them, and one starting `ko` is
Korean. Everything else is English, the language the code is written in.

`_(text)` is a message in the chosen language, from the standard library's gettext and the
catalog `tutor/locale/ko/LC_MESSAGES/tutor.mo` (compiled from `tutor.po` next to it; Babel
extracts and compiles them: docs/authoring.md). English costs nothing: no catalog is read.
Lessons are translated by overlays next to them (`tutor.lessons.lesson`), not here.

`Msg(template, **params)` is a sentence kept in no language yet: what a check found, its hint.
As a str it is the English (so JSON, progress files and comparisons see one text); `text(code)`
is the same sentence in another language, its params (names, addresses, commands, or Msgs
themselves) filled in. Babel extracts `Msg("…")` templates like `_("…")`.

Korean particles depend on the word before them (`veth1이`, `red가`): a translation writes the
fallback form after a placeholder (`{dev}이(가)`, `{ns}을(를)`, `{ip}(으)로`) and `particles()`
picks the right one once the placeholder is filled (`_()`'s Korean text does it in `.format`,
`Msg.text` always). An error raised with a Msg keeps English as its str(); `said(exc)` is what
it says in the chosen language, `cause(exc)` the Msg to quote it in another sentence. `cells()`
measures text in terminal columns (Hangul: two) for the CLI, which imports no Rich.

A leaf: it imports no other part of `tutor`.
"""

from __future__ import annotations

import os
import re

TYPE_CHECKING = False
if TYPE_CHECKING:   # typing itself is not imported: the lab's agent imports this module
    from typing import Any

LANGS = ("en", "ko")
DOMAIN = "tutor"
LOCALE_DIR = os.path.join(os.path.dirname(os.path.realpath(__file__)), "locale")

_catalogs: dict[str, object] = {}


def lang() -> str:
    """The language to speak now: "en" or "ko"."""
    chosen = os.environ.get("TUTOR_LANG", "")
    if chosen in LANGS:
        return chosen
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return "ko" if value.lower().startswith("ko") else "en"
    return "en"


def known(code: str) -> bool:
    """Is `code` a language the course speaks?"""
    return code in LANGS


def _(text: str) -> str:
    """`text` (English, the catalog's key) in the language chosen now."""
    return translate(text, lang())


def translate(text: str, code: str) -> str:
    """`text` (English, the catalog's key) in language `code`."""
    if code == "en":
        return text
    catalog = _catalogs.get(code)
    if catalog is None:
        import gettext
        catalog = gettext.translation(DOMAIN, LOCALE_DIR, languages=[code], fallback=True)
        _catalogs[code] = catalog
    found = catalog.gettext(text)  # type: ignore[attr-defined]
    return _Filled(found) if code == "ko" else found


class _Filled(str):
    """A Korean catalog text: `.format()` fills it and then picks its particles (`particles`)."""

    def format(self, *args: object, **kwargs: object) -> str:  # noqa: A003 - str's own name
        return particles(str.format(self, *args, **kwargs))


# The fallback forms a translation writes after a placeholder: (form, with a final consonant,
# without one). `(으)로` is `로` after ㄹ too, as after a vowel.
_PARTICLES = {"이(가)": ("이", "가"), "을(를)": ("을", "를"), "은(는)": ("은", "는"),
              "과(와)": ("과", "와"), "와(과)": ("과", "와"), "(이)라": ("이라", "라"),
              "(으)로": ("으로", "로")}
_PARTICLE = re.compile("|".join(re.escape(form) for form in _PARTICLES))
# How the last character of a Latin word or a number is read, for the particle after it.
# Digits as Korean reads them: 0 영, 1 일, 2 이, 3 삼, 4 사, 5 오, 6 육, 7 칠, 8 팔, 9 구
# ("10" is 십, "100" 백: a final 0 has a consonant either way). Letters as English names the
# last letter: l 엘, m 엠, n 엔, r 알 end in a consonant, every other letter in a vowel
# (`red가`, `br0이`, `eth1로`, `DOWN이`). A rule, not pronunciation: `DROP` reads 드롭 but
# takes `가` here; names in the course are short and mostly end in digits.
_FINAL_DIGITS, _RIEUL_DIGITS = "013678", "178"
_FINAL_LETTERS, _RIEUL_LETTERS = "lmnr", "lr"
_CLOSERS = "'\"`)]}>”’」』"


def final_consonant(word: str) -> str | None:
    """How `word` ends, for a Korean particle: "rieul" (ㄹ), "consonant", "vowel", or None when
    its last character says nothing (a symbol). Closing quotes and brackets are looked past, but a
    parenthesis right after a word is an aside: `규칙(`-j DROP`)` ends as 규칙 does."""
    if word.endswith(")"):
        opened = _aside_start(word)
        if opened > 0 and not word[opened - 1].isspace():
            word = word[:opened]
    word = word.rstrip(_CLOSERS + " ")
    if not word:
        return None
    last = word[-1]
    if "가" <= last <= "힣":
        final = (ord(last) - 0xAC00) % 28
        return "vowel" if final == 0 else "rieul" if final == 8 else "consonant"
    if last.isdigit() and last.isascii():
        return "rieul" if last in _RIEUL_DIGITS else "consonant" if last in _FINAL_DIGITS else "vowel"
    if last.isascii() and last.isalpha():
        low = last.lower()
        return "rieul" if low in _RIEUL_LETTERS else "consonant" if low in _FINAL_LETTERS else "vowel"
    return None


def _aside_start(text: str) -> int:
    """Where the parenthesis that closes `text` opened (-1: it is not balanced)."""
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return -1


def particles(text: str) -> str:
    """`text` with every fallback particle (`이(가)`, `을(를)`, `은(는)`, `과(와)`, `(으)로`,
    `(이)라`) replaced by the one the word before it takes; kept as it is after a symbol."""

    def pick(match: re.Match[str]) -> str:
        form = match.group(0)
        ending = final_consonant(text[:match.start()])
        if ending is None:
            return form
        with_final, without = _PARTICLES[form]
        if form == "(으)로":
            return with_final if ending == "consonant" else without
        return with_final if ending != "vowel" else without

    return _PARTICLE.sub(pick, text) if "(" in text else text


def cause(exc: BaseException) -> str:
    """What error `exc` says, to put in another sentence: its Msg if it has one (so the other
    sentence translates it too), else str(exc)."""
    return exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], Msg) else str(exc)


def cells(text: str) -> int:
    """Columns `text` takes in a terminal: East Asian wide and fullwidth characters (Hangul) take
    two. (The app measures with `rich.cells.cell_len`; the core and the CLI import no Rich.)"""
    from unicodedata import east_asian_width
    return sum(2 if east_asian_width(ch) in "WF" else 1 for ch in text)


def said(exc: BaseException, code: str | None = None) -> str:
    """What error `exc` says, in language `code` (default: the chosen one). An error whose
    sentence is a Msg (its only argument, or its `message` with a `where` prefix: LessonError)
    is translated; any other says str(exc)."""
    code = code or lang()
    text = getattr(exc, "text", None)
    if callable(text):
        return str(text(code))
    if isinstance(getattr(exc, "template", None), str) and hasattr(exc, "path"):
        return about_file(exc).text(code)
    if len(exc.args) == 1 and isinstance(exc.args[0], Msg):
        return exc.args[0].text(code)
    return str(exc)


def about_file(exc: Any) -> Msg:
    """A file refused by `tutor.safefile` (an UnsafeFile: its `path`, and its sentence's
    `template` and `params`, marked there for the catalogs) as a sentence in every language."""
    return Msg("{path} {why}", path=exc.path, why=Msg(exc.template, **exc.params))


class Msg(str):
    """A sentence in every language: `Msg("{dev} in {ns} is DOWN", dev="veth1", ns="red")`.

    It is a str, the English, so everything that stores, compares or prints English text takes
    it unchanged (`tutor verify --json` among them). `text(code)` translates the template and
    fills it with the params in that language: a param that is a Msg is translated too, any
    other value is str()'d as it is (names, addresses and commands are never translated).
    Concatenating a Msg with a str gives a plain (English) str: compose with a template instead.
    """
    template: str
    params: dict[str, object]

    def __new__(cls, template: str, /, **params: object) -> Msg:
        self = super().__new__(cls, template.format(**{k: str(v) for k, v in params.items()}))
        object.__setattr__(self, "template", template)
        object.__setattr__(self, "params", params)
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a Msg does not change")

    def __reduce__(self) -> tuple:
        return (_rebuild, (self.template, self.params))

    def text(self, code: str) -> str:
        """This sentence in language `code` ("en": the str itself)."""
        if code == "en":
            return str.__str__(self)
        filled = str.format(translate(self.template, code), **{k: in_lang(v, code) for k, v in self.params.items()})
        return particles(filled)


def _rebuild(template: str, params: dict[str, object]) -> Msg:
    return Msg(template, **params)


def in_lang(text: object, code: str) -> str:
    """`text` in language `code`: a Msg translated, anything else as it is."""
    return text.text(code) if isinstance(text, Msg) else str(text)
