"""A line per tier as the suite runs, and the two phases bin/test runs the suite in.

A tier is a folder under tests/ (unit, lab, app, e2e, robust, classroom). When the last test of
a tier has finished, one line says how many passed, failed and were skipped and how long the
tier took (from its first test's start to its last one's end; on several workers tiers overlap).
The slowest tests (marked `slow`) run first. Tiers an interrupted run (`-x`, Ctrl-C) did not
finish get their line at the end.

The phases: `TUTOR_TEST_PHASE=parallel` leaves out the tests marked `serial` (they read state
of the whole machine that another test, running at the same time, may change: see
docs/authoring.md), `TUTOR_TEST_PHASE=serial` runs only those. Unset: every test.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest

PHASE_VARIABLE = "TUTOR_TEST_PHASE"


def tier_of(nodeid: str) -> str:
    """`tests/lab/test_lab.py::test_x` -> `lab` (a test outside a tier folder: its file)."""
    parts = nodeid.split("::")[0].split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "tests" else parts[-1]


def slowest_first(items: list[pytest.Item]) -> None:
    """The tests marked `slow(seconds)` first, longest first; the rest in their order. On several
    workers the run then ends with short tests on every worker, not one long test on one."""
    def seconds(item: pytest.Item) -> float:
        mark = item.get_closest_marker("slow")
        return -float(mark.args[0]) if mark is not None else 0.0
    items.sort(key=seconds)


def select_phase(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the tests the phase named by $TUTOR_TEST_PHASE does not run."""
    phase = os.environ.get(PHASE_VARIABLE, "")
    if phase not in ("parallel", "serial"):
        return
    keep = [i for i in items if (i.get_closest_marker("serial") is not None) == (phase == "serial")]
    dropped = [i for i in items if i not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


class TierLines:
    """Counts each tier's results as reports arrive (from the workers too) and prints its line."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.expected: Counter[str] | None = None
        self.outcome: dict[str, str] = {}        # nodeid -> passed / failed / skipped
        self.done: Counter[str] = Counter()
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.printed: set[str] = set()
        self.label = "serial " if os.environ.get(PHASE_VARIABLE) == "serial" else ""

    def _expect(self, nodeids: list[str]) -> None:
        if self.expected is None:
            self.expected = Counter(tier_of(n) for n in nodeids)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not hasattr(self.config, "workerinput") and not self.config.pluginmanager.has_plugin("dsession"):
            self._expect([i.nodeid for i in session.items])

    def pytest_xdist_node_collection_finished(self, node, ids: list[str]) -> None:
        self._expect(list(ids))      # every worker collects the same tests

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        tier = tier_of(report.nodeid)
        now = time.monotonic()
        self.first.setdefault(tier, now - report.duration)
        self.last[tier] = now
        before = self.outcome.get(report.nodeid)
        if report.failed:
            self.outcome[report.nodeid] = "failed"
        elif report.skipped and before != "failed":
            self.outcome[report.nodeid] = "skipped"
        elif report.when == "call" and before is None:
            self.outcome[report.nodeid] = "passed"
        if report.when == "teardown":
            self.done[tier] += 1
            if self.expected is not None and self.done[tier] == self.expected[tier]:
                self._line(tier)

    def _line(self, tier: str) -> None:
        if tier in self.printed:
            return
        self.printed.add(tier)
        counts = Counter(o for n, o in self.outcome.items() if tier_of(n) == tier)
        seconds = self.last.get(tier, 0.0) - self.first.get(tier, 0.0)
        unfinished = ""
        if self.expected is not None and self.done[tier] < self.expected[tier]:
            unfinished = f" ({self.expected[tier] - self.done[tier]} not run)"
        text = (f"{self.label}{tier:<9} {counts['passed']:4d} passed {counts['failed']:3d} failed "
                f"{counts['skipped']:3d} skipped{unfinished}  {seconds:6.1f} s")
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        reporter.ensure_newline()
        reporter.write_line(text, red=bool(counts["failed"]), bold=True)

    def pytest_terminal_summary(self) -> None:
        for tier in sorted(set(self.first) - self.printed):
            self._line(tier)
