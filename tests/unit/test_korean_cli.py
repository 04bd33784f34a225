"""The command line in Korean: the real `tutor` run with TUTOR_LANG=ko says its one-sentence
errors, its help and its reports in Korean, with no English sentence left, and keeps its exit
codes. (The lab is never started here: every command below fails or answers before it would.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HANGUL = re.compile("[가-힣]")
# Three English words in a row, once commands (`tutor lab up`, a usage line), quoted names and
# option names are taken out.
ENGLISH = re.compile(r"\b[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}\b")
QUOTED = re.compile(r"`[^`]*`|'[^']*'|\"[^\"]*\"|--?[a-z][a-z-]*|\b[A-Z][A-Z_]+\b|사용법: .*|\btutor(?: [a-z][a-z-]*)*")


def english_left(text: str) -> list[str]:
    """The English sentences (three words or more) in `text` outside quotes and commands."""
    return ENGLISH.findall(QUOTED.sub(" ", text))


def tutor(*argv: str, tmp_path: Path, lang: str = "ko") -> subprocess.CompletedProcess:
    env = {**os.environ, "TUTOR_LANG": lang, "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "TUTOR_LAB": f"ko-{os.getpid()}"}
    return subprocess.run([sys.executable, "-m", "tutor.cli", *argv], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=60)


@pytest.mark.parametrize("argv", [
    ["verify", "nope"],                                  # LessonError
    ["verify", "lesson1"],                               # the lab is not running: LabError
    ["verify", "lesson1", "--step", "99"],
    ["trace", "addr 10.0.0.1 on veth0"],                 # CheckSyntaxError inside a TraceError
    ["trace", "ping 1.2.3 from red"],
    ["trace", "link veth0 in red"],                      # TraceError: not a packet check
    ["trace", "frob x"],
    ["demo", "lesson1", "--loop"],                       # CliError
    ["demo", "lesson1", "--auto", "--delay", "9999"],
    ["config", "lab-memory", "5X"],                      # a lab limit's ValueError
    ["config", "lab-processes", "5"],
    ["config", "name", " "],
    ["--lang", "fr", "list"],
    ["report", "/nonexistent-ko"],
    ["submit", "--to", "/nonexistent-ko"],
])
def test_errors_are_one_korean_sentence_with_the_same_exit_code(argv, tmp_path):
    ko, en = tutor(*argv, tmp_path=tmp_path), tutor(*argv, tmp_path=tmp_path, lang="en")
    assert ko.returncode == en.returncode == 2, (ko, en)
    last = ko.stderr.strip().splitlines()[-1]
    assert last.startswith("tutor: ") and HANGUL.search(last), ko.stderr
    assert not english_left(ko.stderr), ko.stderr
    assert not HANGUL.search(en.stderr), en.stderr


def test_english_errors_are_as_they_were(tmp_path):
    out = tutor("trace", "ping 1.2.3 from red", tmp_path=tmp_path, lang="en")
    assert out.stderr == "tutor: 'ping 1.2.3 from red' is not a check: ping target '1.2.3' is not an IP address\n"
    out = tutor("--lang", "fr", "list", tmp_path=tmp_path, lang="en")
    assert out.stderr == "tutor: --lang takes en or ko, not 'fr'\n"


@pytest.mark.parametrize("argv", [[], ["lab"], ["lab", "up"], ["shell"], ["doctor"], ["list"], ["verify"], ["solve"],
                                  ["trace"], ["reset"], ["selftest"], ["report"], ["config"], ["demo"], ["submit"],
                                  ["start"]])
def test_help_is_korean_with_the_same_options(argv, tmp_path):
    ko = tutor(*argv, "--help", tmp_path=tmp_path)
    en = tutor(*argv, "--help", tmp_path=tmp_path, lang="en")
    assert ko.returncode == en.returncode == 0, ko.stderr
    assert ko.stdout.startswith("사용법: tutor") and "옵션:" in ko.stdout
    assert "이 도움말을 보여 주고 끝냅니다" in ko.stdout
    assert not english_left(ko.stdout), ko.stdout
    # the same options, in the same order
    assert re.findall(r"(?<![\w-])--?[a-z][a-z-]*", ko.stdout) == re.findall(r"(?<![\w-])--?[a-z][a-z-]*", en.stdout)
    assert en.stdout.startswith("usage: tutor") and not HANGUL.search(en.stdout)


def test_korean_help_fits_the_terminal_in_columns(tmp_path):
    from tutor.i18n import cells
    out = subprocess.run([sys.executable, "-m", "tutor.cli", "--help"], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "TUTOR_LANG": "ko", "COLUMNS": "60"})
    assert max(cells(line) for line in out.stdout.splitlines()) <= 60, out.stdout


@pytest.mark.parametrize("argv", [["verify"], ["config", "nme"], ["frobnicate"], ["verify", "1", "--bogus"]])
def test_usage_errors_are_korean_with_exit_code_2(argv, tmp_path):
    ko = tutor(*argv, tmp_path=tmp_path)
    assert ko.returncode == 2 and "오류:" in ko.stderr and ko.stderr.startswith("사용법: tutor"), ko.stderr
    assert not english_left(ko.stderr), ko.stderr


def test_argparse_speaks_english_again_in_the_same_process(capsys):
    from tutor import cli_parser
    cli_parser.speak("ko")
    with pytest.raises(SystemExit):
        cli_parser.parser("verify").parse_args(["verify"])
    assert "필요합니다" in capsys.readouterr().err
    cli_parser.speak("en")
    with pytest.raises(SystemExit):
        cli_parser.parser("verify").parse_args(["verify"])
    assert "the following arguments are required: LESSON" in capsys.readouterr().err


def test_doctor_reports_in_korean_with_the_same_verdict(tmp_path):
    ko, en = tutor("doctor", tmp_path=tmp_path), tutor("doctor", tmp_path=tmp_path, lang="en")
    assert ko.returncode == en.returncode
    lines = ko.stdout.splitlines()
    assert len(lines) == len(en.stdout.splitlines())
    assert lines[-1] in ("여기서 실습 환경을 실행할 수 있습니다.",
                         "✗ 줄을 고치기 전에는 여기서 실습 환경을 실행할 수 없습니다.")
    assert any(line.startswith("✓ 커널: 네트워크 네임스페이스: ") for line in lines), ko.stdout
    assert any(line.startswith(("✓ 실습 모드: ", "✗ 실습 모드: ")) for line in lines), ko.stdout
    assert not english_left(ko.stdout), ko.stdout


@pytest.mark.parametrize("readings", ["15000 - -", "0 - -", "15000 0 -", "15000 - 1"])
@pytest.mark.parametrize("root", [True, False])
@pytest.mark.parametrize("forced", ["", "root", "rootless"])
def test_every_lab_mode_finding_and_decision_is_korean(readings, root, forced):
    from tutor.i18n import in_lang
    from tutor.lab import doctor
    max_ns, clone, apparmor = (None if r == "-" else r for r in readings.split())
    r = doctor.Userns(True, max_ns, clone, apparmor)
    f = doctor._mode_finding(r, root=root, forced=forced)
    for said in (f.name, f.detail, f.fix, doctor.decide_mode(forced, root, r)[1]):
        korean = in_lang(said, "ko")
        assert not english_left(korean), korean
        assert not said or HANGUL.search(korean) or said.startswith("sudo "), korean


def test_report_in_korean_lines_up_hangul_names(tmp_path):
    import json
    folder = tmp_path / "drop"
    folder.mkdir()
    for account, student in (("ada", "Ada L."), ("kim", "김철수")):
        (folder / f"{account}.json").write_text(json.dumps(
            {"format": 1, "student": student, "lessons": {"lesson1": {"done": [1, 2], "total": 6}}}))
    (folder / "broken.json").write_text("[1, 2, 3]")   # (a JSON syntax error quotes Python's decoder, in English)
    out = tutor("report", str(folder), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["학생", "레슨", "단계", "마지막", "활동"]
    from tutor.i18n import cells
    rows = [line for line in lines if " lesson1 " in line]
    assert {cells(line.split(" lesson1 ")[0]) for line in rows} == {cells(lines[0].split("레슨")[0]) - 1}
    assert "broken.json" in out.stderr and HANGUL.search(out.stderr) and not english_left(out.stderr), out.stderr


def test_a_lessons_failing_command_is_said_in_korean_with_the_command_as_it_is():
    from tutor.i18n import Msg, said
    from tutor.lessons.course import _FAILED, _RAN, script_error
    error = script_error(f'\n{_RAN}\nCannot find device "veth9"\n\n{_FAILED}\n', ["ip link set veth9 up"],
                         Msg("rebuilding the start of {lesson}", lesson="lesson3"))
    assert str(error) == ('rebuilding the start of lesson3: the command `ip link set veth9 up` failed in the lab: '
                          'Cannot find device "veth9"')
    korean = said(error, "ko")
    assert korean.startswith("lesson3의 시작 상태를 다시 만드는 중: 실습 환경에서 명령 `ip link set veth9 up`")
    assert korean.endswith(': Cannot find device "veth9"')     # what the command said, as it said it
    assert not english_left(korean.rsplit(": ", 1)[0]), korean


def test_a_lab_name_that_cannot_be_is_said_in_korean(tmp_path):
    env = {**os.environ, "TUTOR_LANG": "ko", "TUTOR_LAB": "-bad/name", "XDG_STATE_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "tutor.cli", "lab", "status"], capture_output=True, text=True,
                         cwd=REPO, env=env, timeout=60)
    assert out.returncode == 2, out
    assert out.stderr.startswith("tutor: '-bad/name'는 실습 환경 이름이 될 수 없습니다"), out.stderr
    assert not english_left(out.stderr), out.stderr


@pytest.mark.parametrize("argv, env", [(["--lang", "ko", "verify", "--help"], {}),
                                       (["verify", "--help"], {"LANG": "ko_KR.UTF-8", "LC_ALL": ""})])
def test_the_help_follows_lang_and_the_locale_too(argv, env):
    clean_env = {k: v for k, v in os.environ.items() if k != "TUTOR_LANG"}
    out = subprocess.run([sys.executable, "-m", "tutor.cli", *argv], capture_output=True, text=True, cwd=REPO,
                         env={**clean_env, **env}, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("사용법: tutor verify"), out
    assert "K단계만 (1부터 셉니다)" in out.stdout


def test_a_refused_progress_file_is_said_in_korean(tmp_path):
    """tutor.safefile is a leaf (it imports no other part of tutor): its reasons are marked with
    N_() and said in Korean where they are shown."""
    folder = tmp_path / "state" / "netns-tutor"
    folder.mkdir(parents=True)
    (folder / "progress.json").symlink_to("/etc/hostname")
    r = tutor("list", tmp_path=tmp_path)
    assert "progress.json: 파일이 아니라 심볼릭 링크입니다" in r.stderr, r.stderr
    assert not english_left(r.stderr), r.stderr
    r = tutor("list", tmp_path=tmp_path, lang="en")
    assert "progress.json is a symbolic link, not a file" in r.stderr, r.stderr
