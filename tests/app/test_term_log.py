"""The console's scrollback keeps the lines it has drawn (`TermLog._render_line_strip`): what is
on screen must still be what its lines say after live rows shrink, grow, and lines are added,
cleared or capped. No lab: a bare TermLog in a Pilot app."""

from __future__ import annotations

from textual.app import App, ComposeResult

from pilot_helpers import run
from tutor.app.widgets.term_log import TermLog


class LogApp(App):
    def compose(self) -> ComposeResult:
        yield TermLog(8, id="log")


def _shown(log: TermLog) -> list[str]:
    """The text of every row on screen, as drawn."""
    return [log.render_line(y).text.rstrip() for y in range(log.scrollable_content_region.height)]


def _expected(log: TermLog) -> list[str]:
    top = log.scroll_offset.y
    rows = log.scrollable_content_region.height
    return [str(line).rstrip() for line in log.lines[top:top + rows]] + [""] * max(0, rows - len(log.lines[top:]))


def test_what_is_drawn_follows_every_change_of_the_lines():
    async def body():
        app = LogApp()
        async with app.run_test(size=(40, 12)) as pilot:
            log = app.query_one(TermLog)
            steps = [
                lambda: log.write("root@lab:/# ping\n"),
                lambda: log.begin_live(),
                lambda: log.show_live([], ["PING 1", "64 bytes a", "64 bytes b"]),
                lambda: log.show_live(["PING 1"], ["64 bytes a"]),            # the live rows shrink
                lambda: log.show_live(["64 bytes a", "64 bytes c"], ["--- done", "rtt"]),
                lambda: log.end_live(),
                lambda: log.write("root@lab:/# next\nmore\n"),
                lambda: log.write("\n".join(f"flood {i}" for i in range(12)) + "\n"),   # past the cap of 8
                lambda: log.clear(),
                lambda: log.write("after clear\n"),
            ]
            for step in steps:
                step()
                await pilot.pause()
                assert _shown(log) == _expected(log), (log.lines, _shown(log))

    run(body())
