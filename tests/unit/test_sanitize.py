"""The one sanitizer: every class of terminal control comes out visible and inert."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tutor.sanitize import cell, clean, json_text

ESC, BEL, ST = "\x1b", "\x07", "\x1b\\"
# what a terminal acts on: C0 (but newline/tab in running text), DEL, C1, bidi controls
DANGEROUS = set(map(chr, range(0x20))) | {"\x7f"} | set(map(chr, range(0x80, 0xA0))) \
    | set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def inert(text: str, keep: str = "") -> bool:
    return not (set(text) & (DANGEROUS - set(keep)))


@pytest.mark.parametrize("raw, shown", [
    (ESC + "c", "^[c"),                                   # RIS: full reset, clears the screen
    (ESC + "#8", "^[#8"),                                 # DECALN: fills the screen with E
    (ESC + "7" + ESC + "8", "^[7^[8"),                    # save/restore cursor
    (ESC + "[2J" + ESC + "[H", "^[[2J^[[H"),              # CSI: erase, home
    (ESC + "[31mred" + ESC + "[0m", "^[[31mred^[[0m"),    # SGR is shown unless asked to drop it
    (ESC + "]0;pwned" + BEL, "^[]0;pwned^G"),             # OSC title ended by BEL
    (ESC + "]0;pwned" + ST, "^[]0;pwned^[\\"),            # ... and by ST (ESC \)
    (ESC + "]52;c;SGVsbG8=" + BEL, "^[]52;c;SGVsbG8=^G"),  # OSC 52: write the clipboard
    (ESC + "]52;c;SGVsbG8=" + ST, "^[]52;c;SGVsbG8=^[\\"),
    (ESC + "P1$qm" + ST, "^[P1$qm^[\\"),                  # DCS (DECRQSS: makes it answer)
    (ESC + "Xsos" + ST + ESC + "^pm" + ST + ESC + "_apc" + ST, "^[Xsos^[\\^[^pm^[\\^[_apc^[\\"),
    (ESC + "(0", "^[(0"),                                 # charset: line drawing
    ("a\x00b\x08c\x7fd\x0be\x0cf", "a^@b^Hc^?d^Ke^Lf"),
    ("over\rwrite", "over^Mwrite"),
    ("\x9b2J", "\\u009b2J"),                              # 8-bit CSI
    ("\x9d0;pwned\x9c", "\\u009d0;pwned\\u009c"),         # 8-bit OSC ... ST
    ("\x90dcs\x9c\x85", "\\u0090dcs\\u009c\\u0085"),      # 8-bit DCS, NEL
    ("abc\u202edcba\u202c", "abc\\u202edcba\\u202c"),     # right-to-left override
    ("\u2066x\u2067y\u2068z\u2069", "\\u2066x\\u2067y\\u2068z\\u2069"),
    ("\u202a\u202b\u202d", "\\u202a\\u202b\\u202d"),
    ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),
])
def test_controls_become_visible(raw, shown):
    assert clean(raw) == shown
    assert cell(raw) == shown
    assert inert(clean(raw)) and inert(cell(raw))


def test_newline_and_tab_kept_in_text_shown_in_cells():
    assert clean("a\tb\nc\n") == "a\tb\nc\n"
    assert clean("a\tb\nc", newlines=False) == "a^Ib^Jc"
    assert cell("red\nveth0\t") == "red^Jveth0^I"
    assert inert(cell("a\tb\nc"))


def test_wide_and_plain_text_untouched():
    for text in ("네트워크 네임스페이스 red", "veth0@veth1", "🐧 ✓ ✗ ╭─╮ — …", "ʇxǝʇ", "[bold]x[/]",
                 "é\u00a0ü", "\u00a0\u00ad\u00ff", "path\\to ^[ literal"):
        assert clean(text) == text
        assert cell(text) == text


def test_colors_dropped_only_when_asked():
    raw = ESC + "[1;31mred" + ESC + "[0m " + ESC + "[38:5:2mg" + ESC + "[m " + ESC + "[2J"
    assert clean(raw, drop_colors=True) == "red g ^[[2J"   # styles go, a screen erase is shown
    assert clean(raw).count("^[") == 5


def test_hostile_mix_is_inert_and_each_control_counted():
    raw = "x" + ESC + "c" + ESC + "#8" + ESC + "]0;t" + ST + "\x9b\u202e" + BEL + "\n"
    out = clean(raw)
    assert inert(out, keep="\n")
    assert out.count("^[") == 4 and out.count("\\u") == 2 and out.endswith("^G\n")


def test_long_output_is_fast():
    import time
    text = ("veth0 UP 10.0.0.1/24 " + ESC + "[32mok" + ESC + "[0m\n") * 50_000   # ~1.6 MB
    t0 = time.perf_counter()
    out = clean(text, drop_colors=True)
    assert time.perf_counter() - t0 < 0.5
    assert ESC not in out and out.count("\n") == 50_000


def test_import_is_cheap_and_standalone():
    code = ("import sys; import tutor.sanitize; "
            "print(sorted(m for m in sys.modules if m.startswith(('tutor.', 'textual', 'rich'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['tutor.sanitize']"


def test_json_text_parses_back_exactly_and_is_inert():
    import json
    value = {"found": "there is no namespace red (the lab has: x\x1b]0;pwned\x07, \x9b2J, "
                      "\u202eevil, del\x7f, 김민지 ✓)"}
    dumped = json.dumps(value, ensure_ascii=False, indent=1)
    out = json_text(dumped)
    assert json.loads(out) == value
    assert inert(out, keep="\n") and "\x7f" not in out
    assert "김민지 ✓" in out                                # ordinary text stays as it was
    plain = json.dumps({"a": "veth0 in red is DOWN", "b": ["네임스페이스"]}, ensure_ascii=False)
    assert json_text(plain) == plain


def test_sanitizing_twice_changes_nothing():
    """The shown forms hold no control, so a second pass cannot escape an escape."""
    raw = "x\x1b]0;t\x07\x9b\u202e\t\n\r" + "\\u009b ^[ 김"
    assert clean(clean(raw)) == clean(raw) and cell(cell(raw)) == cell(raw)
    assert cell(clean(raw)) == cell(raw)      # only newline and tab were left to show
