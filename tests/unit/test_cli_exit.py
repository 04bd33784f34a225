"""How the `tutor` program leaves (`tutor.cli.run`): at once when the interpreter's teardown has
nothing to do, the usual way when it has (issue 15), with every line printed and the exit code
kept either way. Each case runs `run` in a fresh interpreter, with `main` replaced."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(main_body: str, tmp_path: Path) -> subprocess.CompletedProcess:
    code = ("import sys, tutor.cli as cli\n"
            "def main():\n" + "".join(f"    {line}\n" for line in main_body.splitlines()) +
            "cli.main = main\n"
            "cli.run()\n")
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "TEARDOWN": str(tmp_path / "teardown")})


# An object whose finalizer writes a file: the interpreter's teardown runs it, os._exit does not.
# (It holds what it needs: by then the modules' names may be gone.)
WATCHED = ("import os\n"
           "class Watched:\n"
           "    def __init__(self):\n"
           "        self.open, self.path = open, os.environ['TEARDOWN']\n"
           "    def __del__(self):\n"
           "        self.open(self.path, 'w').close()\n"
           "sys.modules['__main__'].watched = Watched()\n")


def test_a_plain_command_leaves_without_the_teardown_and_keeps_its_output_and_code(tmp_path):
    proc = _run(WATCHED + "for i in range(5000):\n    print(f'line {i}')\n"
                "print('to stderr', file=sys.stderr)\nreturn 3", tmp_path)
    assert proc.returncode == 3
    assert proc.stdout.splitlines() == [f"line {i}" for i in range(5000)]   # buffered, not lost
    assert proc.stderr == "to stderr\n"
    assert not (tmp_path / "teardown").exists(), "the interpreter's teardown ran"


def test_what_was_registered_with_atexit_still_runs(tmp_path):
    proc = _run(WATCHED + "import atexit\natexit.register(print, 'atexit ran')\nreturn 1", tmp_path)
    assert (proc.returncode, proc.stdout) == (1, "atexit ran\n")
    assert (tmp_path / "teardown").exists()


def test_a_thread_still_running_is_waited_for(tmp_path):
    proc = _run("import threading, time\n"
                "def late():\n"
                "    time.sleep(0.2)\n"
                "    print('the thread finished', flush=True)\n"
                "threading.Thread(target=late).start()\n"
                "return 0", tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "the thread finished\n")


def test_selftest_forks_its_lab_before_importing_what_only_the_report_needs():
    """The throwaway lab is forked as soon as its mode is decided (`tutor.cli._throwaway_for`):
    whatever is imported by then, the agent inherits and the fork waits for. shutil and
    subprocess (~8 ms) serve `tutor doctor`'s report and the checks, not the agent."""
    code = ("import sys, os\n"
            "from tutor.lab import lifecycle\n"
            "lifecycle.choose_mode()\n"
            "print(sorted({'shutil', 'subprocess'} & set(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
