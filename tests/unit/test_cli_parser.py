"""The command line's parser: a command parsed alone reads exactly as with the whole parser."""

from __future__ import annotations

import argparse

import pytest

from tutor import cli_parser


def _choices(parser: argparse.ArgumentParser) -> list[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def test_every_command_is_known_to_the_short_parser():
    assert _choices(cli_parser.parser()) == list(cli_parser.COMMANDS)
    for name in cli_parser.COMMANDS:
        assert _choices(cli_parser.parser(name)) == [name]


@pytest.mark.parametrize("argv", [
    ["reset", "lesson1"], ["verify", "3", "--json", "--step", "2"], ["shell", "-n", "red", "-c", "ip a"],
    ["lab", "up"], ["selftest"], ["report", "--csv", "a", "b"], ["config", "name", "Ada"],
    ["demo", "lesson2", "--auto", "--delay", "0.2"], ["start", "lesson4"], ["solve", "1"],
])
def test_a_command_parses_the_same_alone(argv):
    assert cli_parser.parser(argv[0]).parse_args(argv) == cli_parser.parser().parse_args(argv)


def test_help_fits_the_width_the_terminal_gives(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    demo = next(a for a in cli_parser.parser("demo")._actions if isinstance(a, argparse._SubParsersAction))
    text = cli_parser.parser().format_help() + demo.choices["demo"].format_help()
    assert max(len(line) for line in text.splitlines()) <= 60, text


def test_reset_loads_no_module_it_does_not_need(tmp_path):
    """`tutor reset` of an empty start is CPython plus this: keep heavy stdlib imports out
    (dataclasses +11 ms on the whole `tutor reset lesson1`, measured; pathlib ~5, subprocess ~4)
    — the bench's reset target rests on it. The same parse starts `tutor selftest` (issue 15):
    shutil (~2.5 ms, argparse's formatter measured the terminal with it), html (~1.5 ms, the
    world's fallback page escaped with it) and locale (~1 ms, gettext's lookups of argparse's
    English words) are out too."""
    import os
    import subprocess
    import sys
    code = ("import sys, tutor.cli, tutor.cli_parser, tutor.commands, tutor.lessons.course, tutor.lessons.lesson\n"
            "tutor.cli_parser.speak('en')\n"   # as tutor.cli.main does before it parses
            "tutor.cli_parser.parser('reset').parse_args(['reset', 'lesson1'])\n"
            "tutor.lessons.course.start_commands(tutor.lessons.lesson.find_lesson('lesson1'))\n"
            "print(sorted(m for m in ('dataclasses', 'pathlib', 'subprocess', 'hashlib', "
            "'typing', 'markdown_it', 'shutil', 'html', 'locale') if m in sys.modules))")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)  # parses: fills the cache
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("columns", [None, "100", "0", "-3", "wide"])
def test_the_terminal_is_measured_as_shutil_measures_it(monkeypatch, columns):
    """argparse's help is as wide as before `terminal_columns` stood in for shutil's."""
    import os
    import pty
    import shutil
    import struct
    import sys
    import termios
    from fcntl import ioctl
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert cli_parser.terminal_columns() == shutil.get_terminal_size().columns
    leader, follower = pty.openpty()
    try:
        ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 123, 0, 0))
        with os.fdopen(os.dup(follower), "w") as tty:
            monkeypatch.setattr(sys, "__stdout__", tty)
            assert cli_parser.terminal_columns() == shutil.get_terminal_size().columns
            if columns in (None, "0", "-3", "wide"):
                assert cli_parser.terminal_columns() == 123
    finally:
        os.close(leader)
        os.close(follower)


def test_english_help_is_argparses_own_words(monkeypatch):
    """In English argparse's words are its msgids, whatever the locale's environment says."""
    monkeypatch.setenv("LANGUAGE", "de")
    cli_parser.speak("en")
    text = cli_parser.parser().format_help()
    assert text.startswith("usage: tutor") and "show this help message and exit" in text
    with pytest.raises(SystemExit):
        cli_parser.parser("verify").parse_args(["verify"])
