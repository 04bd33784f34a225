"""The outbox between a command's thread and the UI: one message on its way, bounded lines."""

from __future__ import annotations

from tutor.app.outbox import Outbox


def test_one_message_on_its_way_and_what_comes_meanwhile_joins_it():
    box = Outbox(limit=10)
    assert box.put(["a"], ["screen 1"]) is True        # post a message
    assert box.put(["b"], ["screen 2"]) is False       # one is on its way: joins it
    assert box.take() == (["a", "b"], 0, ["screen 2"])  # the lines add up; the screen is the latest
    assert box.take() == ([], 0, [])
    assert box.put(["c"], []) is True                  # taken: the next chunk posts again


def test_a_flood_keeps_only_the_last_lines_the_scrollback_could_show():
    box = Outbox(limit=3)
    box.put([str(i) for i in range(1000)], [])
    box.put(["tail"], ["live"])
    assert box.take() == (["998", "999", "tail"], 998, ["live"])
