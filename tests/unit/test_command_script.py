"""`course.command_script` runs a lesson's commands in one bash, quietly, stopping at the first
that fails, and `script_error` says which one failed and what it said. Run here in a real bash
with harmless commands: the script is the same in the lab."""

from __future__ import annotations

import subprocess

from tutor.i18n import Msg
from tutor.lessons.course import command_script, script_error

WHAT = Msg("its commands")


def run(commands: list[str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "--noprofile", "--norc", "-c", command_script(commands)], cwd=cwd,
                          capture_output=True, text=True, timeout=30)


def test_commands_run_in_one_shell_in_order_and_quietly(tmp_path):
    result = run(["cd sub 2>/dev/null || mkdir sub", "cd sub", "x=42", "echo $x > out # a comment",
                  "echo warning >&2", "echo said on stdout"], tmp_path)
    assert result.returncode == 0
    assert (tmp_path / "sub" / "out").read_text() == "42\n"   # cd and x carried over; > still writes
    assert "said on stdout" not in result.stdout


def test_the_failing_command_and_what_it_said(tmp_path):
    sent = ["echo first >&2", "echo a warning >&2; true", "ls no-such-file", "touch never"]
    result = run(sent, tmp_path)
    assert result.returncode == 1 and not (tmp_path / "never").exists()
    error = script_error(result.stdout, sent, WHAT)
    assert error.command == "ls no-such-file"
    assert "no-such-file" in error.output and "warning" not in error.output and "first" not in error.output
    assert str(error).startswith("its commands: the command `ls no-such-file` failed in the lab: ls: ")


def test_a_command_that_fails_silently_and_one_that_prints_no_newline(tmp_path):
    sent = ["printf 'no newline' >&2", "false"]
    error = script_error(run(sent, tmp_path).stdout, sent, WHAT)
    assert (error.command, error.output) == ("false", "")
    assert str(error) == "its commands: the command `false` failed in the lab"
    sent = ["printf 'no newline' >&2; exit 3"]
    error = script_error(run(sent, tmp_path).stdout, sent, WHAT)
    assert (error.command, error.output) == (sent[0], "no newline")


def test_a_script_stopped_midway_names_the_command_it_was_in(tmp_path):
    sent = ["true", "echo started >&2; kill -9 $$", "touch never"]
    result = run(sent, tmp_path)
    assert result.returncode == -9
    error = script_error(result.stdout, sent, WHAT)
    assert (error.command, error.output) == (sent[1], "started")
    assert str(script_error("", sent, WHAT)) == "its commands: the commands were stopped before they finished"
