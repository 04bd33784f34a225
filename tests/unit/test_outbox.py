"""The outbox between a command's thread and the UI: one message on its way, a bounded text."""

from __future__ import annotations

from tutor.app.outbox import SKIPPED, Outbox


def test_one_message_on_its_way_and_what_comes_meanwhile_joins_it():
    box = Outbox(limit=10)
    assert box.put("a\n") is True          # post a message
    assert box.put("b\n") is False         # one is on its way: joins it
    assert box.take() == "a\nb\n"
    assert box.take() == ""
    assert box.put("c\n") is True          # taken: the next chunk posts again


def test_a_flood_keeps_only_the_last_lines_the_scrollback_could_show():
    box = Outbox(limit=3)
    box.put("".join(f"{i}\n" for i in range(1000)))
    box.put("tail")
    assert box.take() == SKIPPED + "998\n999\ntail"
