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

A leaf: it imports no other part of `tutor`.
"""

from __future__ import annotations

import os

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
    return catalog.gettext(text)  # type: ignore[attr-defined]


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
        return translate(self.template, code).format(**{k: in_lang(v, code) for k, v in self.params.items()})


def _rebuild(template: str, params: dict[str, object]) -> Msg:
    return Msg(template, **params)


def in_lang(text: object, code: str) -> str:
    """`text` in language `code`: a Msg translated, anything else as it is."""
    return text.text(code) if isinstance(text, Msg) else str(text)
