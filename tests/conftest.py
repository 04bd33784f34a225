"""Shared fixtures: a private lab per test (real namespaces), torn down even when a test fails.

Also the line per tier and the parallel / serial phases (tests/tierlines.py), and the end of
any lab a run left behind.
"""

from __future__ import annotations

import os
import uuid

import pytest

from tierlines import TierLines, select_phase, slowest_first
from tutor.lab import lifecycle

# The suite reads the course in English whatever the machine's locale (a Korean CI machine would
# otherwise see every message translated); tests of the Korean course set TUTOR_LANG themselves.
os.environ["TUTOR_LANG"] = "en"

# The run's id in every lab name it starts, so that its end can stop them all: the pid of the
# pytest that was started (on several workers, xdist's controller; the workers inherit it).
RUN = os.environ.setdefault("TUTOR_TEST_RUN", str(os.getpid()))


def new_lab_name(prefix: str = "test") -> str:
    return f"{prefix}-{RUN}-{uuid.uuid4().hex[:6]}"


def pytest_configure(config):
    if not hasattr(config, "workerinput"):       # the workers' results reach the controller
        config.pluginmanager.register(TierLines(config), "tierlines")


def pytest_collection_modifyitems(config, items):
    select_phase(config, items)
    slowest_first(items)


@pytest.fixture
def lab_name(monkeypatch):
    """A unique lab name, exported as TUTOR_LAB for code and subprocesses; the lab is stopped after."""
    name = new_lab_name()
    monkeypatch.setenv("TUTOR_LAB", name)
    yield name
    lifecycle.down(name)


@pytest.fixture
def lab(lab_name):
    """A running, fresh lab (LabInfo)."""
    info, _ = lifecycle.up(lab_name)
    return info


@pytest.fixture
def state_home(tmp_path, monkeypatch):
    """Progress files go to a temporary XDG_STATE_HOME."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


def pytest_sessionfinish(session, exitstatus):
    """Belt and braces: no lab of this test run may outlive it. Only where the run began: a
    worker that ends early must not stop the labs of the workers still running."""
    import subprocess
    if hasattr(session.config, "workerinput"):
        return
    out = subprocess.run(["pgrep", "-f", f"tutor.lab.agent (test|selftest)-({RUN}|{os.getpid()})-"],
                         capture_output=True, text=True).stdout.split()
    # a throwaway lab's agent is forked from the process that started it (its command line
    # is that process's): found by its socket
    from tutor.lab import control, door
    where = door.checked_folder()
    for entry in os.listdir(where) if where else []:
        if entry.endswith(".sock") and entry.startswith((f"selftest-{os.getpid()}-", f"test-spare-{os.getpid()}-")):
            info = control.status(entry[:-5])
            out += [str(info.pid)] if info else []
    for pid in out:
        try:
            os.kill(int(pid), 9)
        except (ProcessLookupError, ValueError):
            pass
