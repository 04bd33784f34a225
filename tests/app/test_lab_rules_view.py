"""The lab view's iptables table follows the namespace on screen: its rules are read when it is
picked (the watcher reads only the lab host's and that one's after each command, issue 15)."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from pilot_helpers import run, wait_for
from tutor.app.app import TutorApp
from tutor.lab import client

pytestmark = pytest.mark.lab


def test_picking_a_namespace_reads_its_rules(lab, state_home):
    client.run("ip netns add red; ip netns add zz; ip netns exec red iptables -A INPUT -s 10.9.9.9 -j DROP",
               info=lab)

    async def body():
        app = TutorApp("lesson1")
        async with app.run_test(size=(160, 50)) as pilot:
            view = app.lab_view
            await wait_for(pilot, lambda: "red" in view.snapshot.state.ns, 20, "red in the lab view")
            await wait_for(pilot, lambda: view.show_namespace("red"), 10, "red's tab")
            view.show_table("rules")
            table = app.query_one("#table-rules", DataTable)

            def shown() -> str:
                return " ".join(str(c) for r in range(table.row_count) for c in table.get_row_at(r))
            await wait_for(pilot, lambda: "-A INPUT -s 10.9.9.9/32 -j DROP" in shown(), 20, "red's rule")
            assert app.watcher.snapshot.state.ns["zz"].iptables is None     # never on screen: never read

    run(body())
