"""The course's language: English or Korean, and the message catalogs that translate it.

The language is `TUTOR_LANG` (`tutor --lang` sets it), else the locale: the first of `LC_ALL`,
`LC_MESSAGES` and `LANG` that is set decides, as POSIX orders them, and one starting `ko` is
Korean. Everything else is English, the language the code is written in.

`_(text)` is a message in the chosen language, from the standard library's gettext and the
catalog `tutor/locale/ko/LC_MESSAGES/tutor.mo` (compiled from `tutor.po` next to it; Babel
extracts and compiles them: docs/authoring.md). English costs nothing: no catalog is read.
Lessons are translated by overlays next to them (`tutor.lessons.lesson`), not here.

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
    code = lang()
    if code == "en":
        return text
    catalog = _catalogs.get(code)
    if catalog is None:
        import gettext
        catalog = gettext.translation(DOMAIN, LOCALE_DIR, languages=[code], fallback=True)
        _catalogs[code] = catalog
    return catalog.gettext(text)  # type: ignore[attr-defined]
