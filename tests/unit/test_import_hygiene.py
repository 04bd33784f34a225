"""The core stays free of the UI, checked where it counts: in a fresh interpreter.

import-linter (tests/unit/test_tooling.py) reads the import statements; these tests run them.
Each module outside `tutor.app` is imported alone in a subprocess, and Textual and Rich must not
be among the modules it loaded. `tutor verify` and `tutor shell`, the commands a student or an
instructor's script calls again and again, load no Textual, Rich or pyroute2 either (with a lab
running, tests/lab/test_cli_lessons.py::test_verify_stays_light and
tests/lab/test_cli_lab.py::test_shell_loads_no_ui_or_netlink follow the whole path).
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import tutor

REPO = Path(__file__).resolve().parents[2]
UI = ("textual", "rich")
HEAVY = (*UI, "pyroute2")
# Everything outside the app is core. `tutor.app` itself is too: its docstring promises that
# importing the package does not import Textual (`run_app` does).
CORE = ["tutor.app"] + sorted(m.name for m in pkgutil.walk_packages(tutor.__path__, "tutor.")
                              if m.name != "tutor.app" and not m.name.startswith("tutor.app."))

# prints which of the packages named in argv[1] (JSON) the code before it loaded
LOADED = ("import json as _j, sys as _s; _w = _j.loads(_s.argv[1]); "
          "print(_j.dumps(sorted({m.split('.')[0] for m in _s.modules} & set(_w))))")


def _loaded(code: str, watch: tuple[str, ...], env: dict[str, str] | None = None) -> list[str]:
    """The packages of `watch` that running `code` in a fresh interpreter loaded."""
    out = subprocess.run([sys.executable, "-c", code + "\n" + LOADED, json.dumps(watch)],
                         capture_output=True, text=True, timeout=60, cwd=REPO, env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_the_core_is_found():
    assert {"tutor.lab.client", "tutor.checks.engine", "tutor.lessons.lesson", "tutor.cli"} <= set(CORE)


@pytest.mark.parametrize("module", CORE)
def test_a_core_module_imported_alone_loads_no_ui(module):
    assert _loaded(f"import {module}", UI) == [], f"importing {module} loads the UI"


def test_verify_loads_no_ui_or_netlink(tmp_path):
    """`tutor verify` as the command line runs it, up to asking the lab (none runs here)."""
    lab = f"hygiene-{os.getpid()}-{uuid.uuid4().hex[:6]}"   # no such lab: verify stops there
    env = dict(os.environ, TUTOR_LAB=lab, XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    code = ("from tutor.cli import main\n"
            "assert main(['verify', 'lesson1', '--json']) == 2\n")   # 2: the lab is not running
    assert _loaded(code, HEAVY, env) == []


def test_shell_loads_no_ui_or_netlink():
    """What `tutor shell` imports before it execs into the lab: the CLI, its parser, the client
    (whose `up` imports the doctor). Running it needs a lab: see tests/lab/test_cli_lab.py."""
    code = ("from tutor import cli, cli_parser\n"
            "cli_parser.parser('shell').parse_args(['shell', '-n', 'red', '-c', 'ip a'])\n"
            "from tutor.lab import client, doctor\n")
    assert _loaded(code, HEAVY) == []
