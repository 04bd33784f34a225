"""Lab-test fixtures: the lab in each mode it can run in here (rootless, and root when we are)."""

from __future__ import annotations

import os

import pytest

from labkit import release_pins
from tutor.lab import lifecycle
from tutor.lab.doctor import userns_problem

MODES = ("rootless", "root")


def _mode_skip(mode: str) -> str | None:
    if mode == "root" and os.geteuid() != 0:
        return "root mode needs root"
    if mode == "rootless" and userns_problem(unprivileged=True):
        return f"rootless mode is not possible here: {userns_problem(unprivileged=True)}"
    if mode == "root" and userns_problem():
        return f"no lab can run here: {userns_problem()}"
    return None


@pytest.fixture(params=MODES)
def mode(request, monkeypatch):
    """Each lab mode in turn, exported as TUTOR_LAB_MODE for code and subprocesses."""
    reason = _mode_skip(request.param)
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv("TUTOR_LAB_MODE", request.param)
    return request.param


@pytest.fixture
def mlab(mode, lab_name):
    """A running, fresh lab (LabInfo) in `mode`; stopped after the test by `lab_name`."""
    info, started = lifecycle.up(lab_name)
    assert started and info.mode == mode
    return info



@pytest.fixture(autouse=True)
def _namespaces_let_go():
    """The namespaces labkit.lab_identity kept for the test end with it."""
    yield
    release_pins()
