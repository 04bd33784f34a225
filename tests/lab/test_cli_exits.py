"""How the real `tutor` ends when its reader goes away (`| head`) or what `tutor shell` ran is
killed: quietly, with the code a shell would show, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
TUTOR = str(REPO / ".venv" / "bin" / "tutor")
SIGPIPE_EXIT = 128 + 13


@pytest.fixture
def report_input(tmp_path):
    f = tmp_path / "ada.json"
    f.write_text(json.dumps({"format": 1, "student": "Ada", "lessons": {"lesson1": {"done": [1]}}}))
    return str(f)


@pytest.mark.parametrize("args", [["verify", "lesson1", "--json"], ["verify", "lesson1"], ["list"],
                                  ["lab", "status"], ["config", "name"], ["report", "--csv", "REPORT"]],
                         ids=" ".join)
def test_a_reader_that_went_away_is_a_quiet_exit(lab, state_home, report_input, args):
    """`tutor verify --json | head -c 600`, made certain: the reader is gone before tutor writes."""
    args = [report_input if a == "REPORT" else a for a in args]
    proc = subprocess.Popen([TUTOR, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert err == b"" and proc.returncode == SIGPIPE_EXIT, err.decode()


@pytest.mark.parametrize("sig,code", [("KILL", 137), ("TERM", 143), ("INT", 130)])
def test_shell_from_a_terminal_ends_as_its_command_was_killed(lab, sig, code):
    """With a controlling terminal but stdin not one, `tutor shell` runs the lab command in a
    session of its own and must end as it ended (SIGKILL's handler cannot even be set)."""
    line = f"{TUTOR} shell -c 'kill -{sig} $$' </dev/null; echo rc=$?"
    # SIGINT as a terminal gives it: a runner started in the background hands down SIG_IGN,
    # and bash cannot then be killed by `kill -INT $$` at all
    out = subprocess.run(["script", "-qec", line, "/dev/null"], capture_output=True, text=True,
                         timeout=60, stdin=subprocess.DEVNULL, env=dict(os.environ), check=False,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert "Traceback" not in out.stdout + out.stderr, out.stdout
    assert f"rc={code}" in out.stdout, out.stdout
