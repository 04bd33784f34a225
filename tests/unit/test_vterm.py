"""The console's terminal emulator (`tutor.app.vterm`) on byte strings a pty would deliver."""

from __future__ import annotations

from rich.style import Style

from tutor.app.vterm import StyledLine, Terminal


def _shown(term: Terminal) -> list[str]:
    final, lost, screen = term.take()
    return [*final, *screen]


def test_carriage_return_and_erase_line_rewrite_the_line():
    term = Terminal(40, 10)
    term.feed("abc\rX\r\n")
    term.feed("  % Total    % Received\r\x1b[K  0  0  0\r\x1b[Kcurl: (6) Could not resolve host: x\r\n")
    assert _shown(term) == ["Xbc", "curl: (6) Could not resolve host: x"]


def test_a_long_line_wraps_at_the_width():
    term = Terminal(10, 5)
    term.feed("0123456789abcdefghijXYZ\r\n")
    assert _shown(term) == ["0123456789", "abcdefghij", "XYZ"]


def test_lines_that_scroll_off_come_once_and_a_flood_is_counted():
    term = Terminal(10, 3, keep=4)
    term.feed("".join(f"l{i}\r\n" for i in range(4)))
    final, lost, screen = term.take()
    assert (final, lost, screen) == (["l0", "l1"], 0, ["l2", "l3"])
    term.feed("".join(f"m{i}\r\n" for i in range(10)))
    final, lost, screen = term.take()
    assert (final, lost, screen) == (["m4", "m5", "m6", "m7"], 6, ["m8", "m9"])   # l2, l3, m0-m3 lost


def test_colours_become_styles_on_their_cells():
    term = Terminal(40, 5)
    term.feed("h\x1b[01;31m\x1b[Kell\x1b[m\x1b[Ko \x1b[93;44mY\x1b[38;5;200mZ\x1b[0m\r\n")
    (line,) = _shown(term)
    assert line == "hello YZ" and isinstance(line, StyledLine)
    spans = {(start, end): style for start, end, style in line.spans}
    assert spans == {(1, 4): Style(color="red", bold=True),
                     (6, 7): Style(color="bright_yellow", bgcolor="blue"),
                     (7, 8): Style(color="#ff00d7", bgcolor="blue")}


def test_title_clipboard_and_other_controls_are_never_shown_or_kept():
    term = Terminal(40, 5)
    term.feed("\x1b]0;pwned\x07\x1b]52;c;cHduZWQ=\x07\x1b]2;t2\x1b\\ok\x1bc\x1b[2Jafter\u202e\x9d0;x\x07\r\n")
    text = "\n".join(_shown(term))
    assert "after" in text and "pwned" not in text and "52" not in text and "t2" not in text
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text and "\x9d" not in text
    assert term.screen.title == ""          # not even the emulator took the title


def test_resize_keeps_the_screen():
    term = Terminal(10, 5)
    term.feed("abc\r\n")
    term.resize(20, 8)
    term.feed("0123456789abcde\r\n")
    assert _shown(term) == ["abc", "0123456789abcde"]


def test_test_patterns_and_132_columns_are_ignored():
    """DECALN would fill the console with E; DECCOLM would make the screen 132 columns wide."""
    term = Terminal(20, 4)
    term.feed("a\x1b#8\x1b[?3hb\r\n")
    assert _shown(term) == ["ab"] and term.screen.columns == 20
