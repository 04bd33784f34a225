"""The message catalogs: every message marked `_()` in the code, and every `Msg()` template (what
checks find and their hints), has a Korean translation with the same placeholders, and the
compiled catalog the course reads is the one the .po file says."""

from __future__ import annotations

import gettext
import string
from pathlib import Path

from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.pofile import read_po

REPO = Path(__file__).resolve().parents[2]
PO = REPO / "tutor" / "locale" / "ko" / "LC_MESSAGES" / "tutor.po"
MO = PO.with_suffix(".mo")


def marked() -> dict[str, str]:
    """Every message the code marks with _() or N_() (tutor.safefile) or writes as a Msg() template, and where."""
    found: dict[str, str] = {}
    for filename, line, message, _comments, _context in extract_from_dir(str(REPO / "tutor"),
                                                                         keywords={"_": None, "Msg": (1,), "N_": None}):
        if isinstance(message, str):
            found.setdefault(message, f"tutor/{filename}:{line}")
    return found


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_marked_message_has_a_korean_translation():
    with PO.open("rb") as f:
        catalog = read_po(f)
    missing = [f"{where}: {msgid!r}" for msgid, where in marked().items()
               if msgid not in catalog or not catalog[msgid].string]
    assert not missing, "no Korean for:\n" + "\n".join(missing)


def test_a_translation_keeps_the_placeholders():
    with PO.open("rb") as f:
        catalog = read_po(f)
    wrong = [m.id for m in catalog if m.id and m.string and fields(str(m.id)) != fields(str(m.string))]
    assert not wrong


def test_the_compiled_catalog_is_the_po_file():
    """`pybabel compile -d tutor/locale -D tutor` after every change to the .po file."""
    with PO.open("rb") as f:
        catalog = read_po(f)
    with MO.open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    for message in catalog:
        if message.id:
            assert compiled.gettext(str(message.id)) == message.string, message.id


ARGPARSE_PO = PO.with_name("argparse.po")


def test_argparses_korean_is_compiled_and_still_argparses_words():
    """argparse's own words (`usage: `, its errors) have a catalog of their own (tutor/cli.py,
    `tutor.cli_parser.speak`): compiled, and every msgid one that this Python's argparse says."""
    import argparse
    with ARGPARSE_PO.open("rb") as f:
        catalog = read_po(f)
    with ARGPARSE_PO.with_suffix(".mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    said: set[str] = set()
    for _line, words, _comments, _context in extract_from_file("python", argparse.__file__,
                                                               keywords={"_": None, "ngettext": (1, 2)}):
        said.update([words] if isinstance(words, str) else words)
    for entry in catalog:
        if entry.id:
            msgid = entry.id if isinstance(entry.id, str) else entry.id[0]
            assert msgid in said, msgid
            korean = entry.string if isinstance(entry.string, str) else (entry.string or [""])[0]
            # a plural entry is looked up as argparse does, by ngettext (gettext() of its singular
            # finds it only on newer Pythons: Debian's 3.11.2 does not)
            found = (compiled.gettext(msgid) if isinstance(entry.id, str)
                     else compiled.ngettext(entry.id[0], entry.id[1], 1))
            assert found == korean, msgid
