"""The garbage collector while `tutor` starts (`tutor.collector`, issue 13): held off by the
program, collecting again (with what start-up made set aside) once a command is chosen or the
course app has painted, and never touched in a process that did not hold it. Each case runs in
a fresh interpreter: freezing is for good."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

from tutor import collector

REPO = Path(__file__).resolve().parents[2]


def _python(code: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, **env))
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_a_command_runs_with_the_collector_on_and_start_up_set_aside():
    out = _python("import gc, sys, tutor.cli as cli, tutor.commands as commands\n"
                  "def listed(args):\n"
                  "    print(gc.isenabled(), gc.get_freeze_count() > 1000)\n"
                  "    return 0\n"
                  "commands.list = listed\n"
                  "sys.argv = ['tutor', 'list']\n"
                  "cli.run()\n")
    assert out == "True True"


def test_started_changes_nothing_in_a_process_that_did_not_hold_it():
    frozen = gc.get_freeze_count()
    collector.started()
    assert gc.isenabled() and gc.get_freeze_count() == frozen


def test_the_course_app_collects_again_once_it_has_painted(tmp_path):
    """The real TutorApp (on a recorded lab, as tests/app/test_layouts.py runs it): off until its
    first frame is out, on after it."""
    code = ("import asyncio, gc, sys\n"
            "sys.path[:0] = ['tests/app', 'tests']\n"
            "from tutor import collector\n"
            "collector.hold()\n"
            "from recorded import load\n"
            "from test_layouts import RecordedApp\n"
            "seen = []\n"
            "class App(RecordedApp):\n"
            "    def _display(self, screen, renderable):\n"
            "        if not seen:\n"
            "            seen.append(gc.isenabled())\n"
            "        super()._display(screen, renderable)\n"
            "async def main():\n"
            "    app = App('lesson5', load('lesson5-start'))\n"
            "    async with app.run_test(size=(120, 40)) as pilot:\n"
            "        for _ in range(200):\n"
            "            if seen and gc.isenabled():\n"
            "                break\n"
            "            await pilot.pause(0.02)\n"
            "        print(seen[0], gc.isenabled(), gc.get_freeze_count() > 1000)\n"
            "asyncio.run(main())\n")
    assert _python(code, XDG_STATE_HOME=str(tmp_path)) == "False True True"
