"""Shared fixtures: a private lab per test (real namespaces), torn down even when a test fails."""

from __future__ import annotations

import os
import uuid

import pytest

from tutor.lab import lifecycle

# The suite reads the course in English whatever the machine's locale (a Korean CI machine would
# otherwise see every message translated); tests of the Korean course set TUTOR_LANG themselves.
os.environ["TUTOR_LANG"] = "en"


def new_lab_name(prefix: str = "test") -> str:
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


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
    """Belt and braces: no lab of this test run may outlive it."""
    import subprocess
    out = subprocess.run(["pgrep", "-f", f"tutor.lab.agent (test|selftest)-{os.getpid()}"],
                         capture_output=True, text=True).stdout.split()
    for pid in out:
        try:
            os.kill(int(pid), 9)
        except (ProcessLookupError, ValueError):
            pass
