"""The one sanitizer for text from the lab or from a file on its way to a terminal.

Names made inside a lab (namespaces, interfaces, iptables comments), student names in progress
files, command output and lines quoted from lesson files are not ours: a terminal would act on
the controls they carry (`ESC c` resets the screen, `ESC ] 0 ; … BEL` retitles the window,
OSC 52 writes the clipboard, U+202E turns text around). Every such string is passed through
`clean()` (running text) or `cell()` (one line of a table) just before it is shown, and only
then: the lab model, the judges and `--json` keep the exact bytes.

Scheme — every control character becomes visible text, nothing is dropped silently:

- C0 controls and DEL in caret notation, as `cat -v` shows them: ESC `^[`, BEL `^G`, CR `^M`,
  NUL `^@`, DEL `^?`. `clean()` keeps newline and tab; `cell()` shows them too (`^J`, `^I`).
- C1 controls U+0080–U+009F (the 8-bit CSI U+009B, OSC U+009D, …), bidi embeddings, overrides,
  isolates and marks (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C) and the Unicode
  line and paragraph separators (U+2028, U+2029) as Python writes them: `\\u009b`, `\\u202e`.

Replacing the introducer is enough to defuse a whole escape sequence: what follows it (`]0;x`,
`[2J`, `#8`, `c`) is printable text, shown as it is, so `ESC ] 0 ; pwned BEL` reads
`^[]0;pwned^G`. Every character outside these sets (Hangul, emoji, box drawing) is untouched.
One compiled regex makes one pass over the text, so long console output stays cheap.

`json_text()` is for `--json`: it keeps the exact value and only writes C1, bidi and DEL as
JSON's own `\\uXXXX` escapes (json.dumps escapes C0 itself), so a terminal showing the JSON
acts on nothing while a parser reads the same string; ordinary JSON is left byte for byte.
"""

from __future__ import annotations

import functools
import re

# C0 and DEL: caret notation (0x00 -> ^@ ... 0x1f -> ^_, 0x7f -> ^?)
_CARET = {chr(c): "^" + chr(c + 0x40) for c in range(0x20)} | {"\x7f": "^?"}
# No caret form exists for these: the escape Python itself would write.
_OTHER = "".join(map(chr, range(0x80, 0xA0))) + "\u061c\u200e\u200f\u2028\u2029" \
    + "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_SHOWN = _CARET | {ch: f"\\u{ord(ch):04x}" for ch in _OTHER}

_CONTROLS_CELL = "[\x00-\x1f\x7f" + re.escape(_OTHER) + "]"
_CONTROLS_TEXT = "[\x00-\x08\x0b-\x1f\x7f" + re.escape(_OTHER) + "]"
# SGR (colour and style, `ESC [ 31 m`): dropped, not shown, where asked (see `clean`)
_SGR = r"\x1b\[[0-9;:]*m|"

_TEXT_NO_SGR = _SGR + _CONTROLS_TEXT
# json.dumps leaves these raw (with ensure_ascii=False); each is only ever inside a JSON string
_JSON = "[\x7f" + re.escape(_OTHER) + "]"


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    """`pattern` compiled when first used: ~0.3 ms each, which every command paid at import,
    for patterns most never use (`tutor selftest` prints no JSON; issue 15)."""
    return re.compile(pattern)


def _shown(match: re.Match[str]) -> str:
    # an SGR match is several characters long and not in the table: it goes
    return _SHOWN.get(match.group(), "")


def clean(text: str, *, newlines: bool = True, drop_colors: bool = False) -> str:
    """`text` with every terminal control made visible (see the module's scheme).

    `newlines=False` shows newline and tab too (what `cell` does). `drop_colors=True` removes
    colour and style sequences (`ESC [ … m`) instead of showing them: the console's choice, so
    that `ip -c addr` or `grep --color=always` stay readable there; they only paint text.
    (A cell shows everything: `drop_colors` applies to running text only.)
    """
    if not newlines:
        return cell(text)
    return _compiled(_TEXT_NO_SGR if drop_colors else _CONTROLS_TEXT).sub(_shown, text)


def cell(text: str) -> str:
    """`text` for one line of a table or a title: every control, newline and tab made visible."""
    return _compiled(_CONTROLS_CELL).sub(_shown, text)


def json_text(dumped: str) -> str:
    """JSON text from `json.dumps` with C1, bidi and DEL written as `\\uXXXX` escapes: it
    parses to exactly the same value, and a terminal it is printed on acts on none of it."""
    return _compiled(_JSON).sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)
