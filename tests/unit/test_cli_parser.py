"""The command line's parser: a command parsed alone reads exactly as with the whole parser."""

from __future__ import annotations

import argparse

import pytest

from tutor import cli


def _choices(parser: argparse.ArgumentParser) -> list[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def test_every_command_is_known_to_the_short_parser():
    assert _choices(cli._parser()) == list(cli.COMMANDS)
    for name in cli.COMMANDS:
        assert _choices(cli._parser(name)) == [name]


@pytest.mark.parametrize("argv", [
    ["reset", "lesson1"], ["verify", "3", "--json", "--step", "2"], ["shell", "-n", "red", "-c", "ip a"],
    ["lab", "up"], ["selftest"], ["report", "--csv", "a", "b"], ["config", "name", "Ada"],
    ["demo", "lesson2", "--auto", "--delay", "0.2"], ["start", "lesson4"], ["solve", "1"],
])
def test_a_command_parses_the_same_alone(argv):
    assert cli._parser(argv[0]).parse_args(argv) == cli._parser().parse_args(argv)
