"""The whole course screen at 80x24, 100x30 and 200x50, on a recorded lab (issue 13, item 5).

No lab: `RecordedApp` is the real `TutorApp` whose watcher and checks hand it a recording of a
real lab (`recorded.py`) instead of reading one. The SVGs are in `__snapshots__/test_layouts/`;
after a change meant to show, `.venv/bin/pytest tests/app/test_layouts.py --snapshot-update`.
The Pilot tests beside them say what each size must show, in words a picture cannot drift from.
"""

from __future__ import annotations

import asyncio

import pytest
from textual import work
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, TabbedContent
from textual.widgets._footer import FooterKey
from textual.widgets._markdown import MarkdownFence

from recorded import Recording, load
from tutor import progress
from tutor.app.app import TutorApp
from tutor.app.messages import ChecksUpdated, LabChanged, LabLessonRead
from tutor.lessons.lesson import find_lesson

SIZES = {"80x24": (80, 24), "100x30": (100, 30), "200x50": (200, 50)}
# lesson 5 at its start, on step 2: seven commands, six failing checks, a hint
LESSON, RECORDING, STEP = "lesson5", "lesson5-start", 2


class RecordedApp(TutorApp):
    """The course app on a recorded lab: what the watcher and the checks would have said."""

    def __init__(self, lesson_id: str, recording: Recording):
        super().__init__(lesson_id)
        self.recording = recording

    # thread workers, as the ones they replace
    @work(thread=True, group="lab-watch")
    def _watch(self) -> None:
        self.post_message(LabChanged(self.recording.snapshot))

    @work(thread=True, group="verify")
    def _verify(self, lesson) -> None:
        self.post_message(ChecksUpdated(self.recording.result))

    @work(thread=True, group="lab-lesson")
    def _note_lab_lesson(self, lesson_id: str) -> None:
        """(no lab to note anything in)"""

    @work(thread=True, group="lab-lesson")
    def _read_lab_lesson(self) -> None:
        """The recorded lab was set up for the lesson it shows: nothing to ask."""
        self.post_message(LabLessonRead(self.lesson.id))


def _at_step(lesson_id: str, step: int) -> None:
    """The record says every step before `step` is done: the course opens at `step`."""
    lesson = find_lesson(lesson_id)
    progress.load().mark(lesson_id, {s.number for s in lesson.steps if s.number < step}, len(lesson.steps))


async def _settled(pilot: Pilot) -> None:
    app = pilot.app
    assert isinstance(app, TutorApp)
    app.query_one("#prompt", Input).cursor_blink = False   # a blinking cursor would make the pictures flicker
    for _ in range(100):
        if app.result is not None and app.lab_view.snapshot.state.ns:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.3)     # the lesson's text comes after the first frame


@pytest.mark.parametrize("size", SIZES)
def test_the_course_screen_at_each_size(snap_compare, state_home, size):
    """Lesson 5 step 2 at 80x24, 100x30 and 200x50: the lesson's text, the prompt, the hint and
    a lab table at every size; the map in a column of its own at 200 columns."""
    _at_step(LESSON, STEP)
    assert snap_compare(RecordedApp(LESSON, load(RECORDING)), terminal_size=SIZES[size], run_before=_settled)


def _visible(app, widget) -> bool:
    region = widget.region
    return region.height > 0 and app.screen.region.contains_region(region)


def _shown(app) -> str:
    return app.export_screenshot().replace("&#160;", " ")


@pytest.mark.parametrize("size", ["80x24", "100x30"])
def test_a_small_terminal_shows_the_text_the_prompt_the_hint_and_a_table(state_home, size):
    """What issue 13 found cut at 80x24 and 100x30 is in view: several lines of the lesson, the
    prompt, the whole hint, one lab table with rows, and a footer whose last key is whole."""
    _at_step(LESSON, STEP)
    width, height = SIZES[size]

    async def body():
        app = RecordedApp(LESSON, load(RECORDING))
        async with app.run_test(size=(width, height)) as pilot:
            await _settled(pilot)
            assert app.step == STEP
            text = app.query_one("#lesson-text")
            lesson_box = app.lesson_view.content_region
            assert lesson_box.height >= 6 and text.region.intersection(lesson_box).height >= 4
            assert _visible(app, app.query_one("#prompt"))
            hint = app.query_one("#check-hint")
            assert _visible(app, hint) and hint.region.height >= 1
            assert app.checks.region.contains_region(hint.region)
            assert "Hint:" in app.checks.text and app.checks.text.split("Hint:")[1].split()[-1] in _shown(app)
            table = next(t for t in app.lab_view.query(DataTable) if t.region.height > 0)
            assert table.region.height >= 4 and table.row_count >= 1
            keys = [k for k in app.screen.query(FooterKey) if k.region.width > 0]
            assert keys and max(k.region.right for k in keys) <= width     # no label cut at the edge
            # "Type these" folded to the next command; Ctrl+T shows them all, and back
            commands = app.step_commands
            assert commands.folded and commands.region.height == 3
            await pilot.press("ctrl+t")
            await pilot.pause()
            assert not commands.folded and commands.region.height > 3
            await pilot.press("ctrl+t")
            await pilot.pause()
            assert commands.folded
            # a finished lesson's summary fits above them, its way on in view, the checks whole
            app.summary.show_finished(app.lesson, app.next_lesson())
            await pilot.pause()
            nxt = app.next_lesson()
            assert nxt is not None and _visible(app, app.summary)
            assert f"F8 goes on to {nxt.id}" in str(app.summary.render()) and f"{nxt.id}." in _shown(app)
            assert app.checks.region.bottom <= height - 1 and _visible(app, app.query_one("#prompt"))

    asyncio.run(body())


def test_a_diagram_wider_than_the_pane_scrolls_instead_of_being_cut(state_home):
    """Lesson 3's first diagram is wider than the lesson pane even at 200 columns: it keeps
    every character, and a scrollbar under it says there is more (issue 13: "(empty fo")."""
    lesson = find_lesson("lesson3")
    widest = max(len(line) for line in lesson.intro.splitlines())

    async def body():
        app = RecordedApp("lesson3", load("lesson3-start"))
        async with app.run_test(size=SIZES["200x50"]) as pilot:
            await _settled(pilot)
            fences = list(app.lesson_view.query(MarkdownFence))
            assert fences
            wide = max(fences, key=lambda f: f.virtual_size.width)
            assert wide.virtual_size.width >= widest > wide.content_region.width
            assert wide.show_horizontal_scrollbar and wide.max_scroll_x > 0
            wide.scroll_to(x=wide.max_scroll_x, animate=False)
            await pilot.pause()
            last = max(lesson.intro.splitlines(), key=len).rstrip()
            assert last.split()[-1] in _shown(app)

    asyncio.run(body())


# -- in Korean (issue 14): Hangul is two cells wide; the same screen must fit as well ---------
KO_SIZES = ["80x24", "200x50"]


@pytest.mark.parametrize("size", KO_SIZES)
def test_the_course_screen_in_korean(snap_compare, state_home, monkeypatch, size):
    """The same screen with TUTOR_LANG=ko: the lesson's Korean text, Korean labels, titles,
    footer and table headers, every column aligned for double-width Hangul; diagrams in ASCII."""
    monkeypatch.setenv("TUTOR_LANG", "ko")
    _at_step(LESSON, STEP)
    assert snap_compare(RecordedApp(LESSON, load(RECORDING)), terminal_size=SIZES[size], run_before=_settled)


@pytest.mark.parametrize("size", KO_SIZES)
def test_in_korean_the_footer_the_hint_and_the_tables_fit(state_home, monkeypatch, size):
    """At 80x24 and 200x50 in Korean: every footer key whole within the width, Korean labels in
    it, the Korean hint in view, the step heading and the table headers in Korean."""
    monkeypatch.setenv("TUTOR_LANG", "ko")
    _at_step(LESSON, STEP)
    width, height = SIZES[size]

    async def body():
        app = RecordedApp(LESSON, load(RECORDING))
        async with app.run_test(size=(width, height)) as pilot:
            await _settled(pilot)
            keys = [k for k in app.screen.query(FooterKey) if k.region.width > 0]
            assert keys and max(k.region.right for k in keys) <= width
            labels = {k.description for k in keys}
            assert {"도움말", "레슨", "종료"} <= labels, labels
            shown = _shown(app)
            assert "단계 중" in shown and "검사" in shown and "힌트" in app.checks.text
            hint = app.query_one("#check-hint")
            assert hint.region.height >= 1 and app.checks.region.contains_region(hint.region)
            table = next(t for t in app.lab_view.query(DataTable) if t.region.height > 0)
            assert any(str(c.label) in ("인터페이스", "목적지") for c in table.ordered_columns)
            # the widest cell of each column sets its width in cells, not characters
            for column in table.ordered_columns:
                assert column.width >= column.label.cell_len

    asyncio.run(body())


def test_tables_no_one_has_looked_at_are_made_when_first_shown(state_home):
    """At the start only the first table exists; a click on a table's tab, or F10, makes each
    other table (with its rows) and the map as it is first shown."""
    _at_step(LESSON, STEP)

    async def body():
        app = RecordedApp(LESSON, load(RECORDING))
        async with app.run_test(size=(120, 40)) as pilot:
            await _settled(pilot)
            view = app.lab_view
            assert [t.id for t in view.query(DataTable)] == ["table-links"] and not view.query("#tab-map")
            await pilot.click("#--content-tab-pane-routes")
            await pilot.pause()
            for name in ["routes", "neighbours", "rules", "map", "links", "addresses"]:
                if name == "map":
                    assert "host" in str(view.query_one("#tab-map-art").render())   # drawn
                else:
                    table = view.query_one(f"#table-{name}", DataTable)
                    assert _visible(app, table), name
                    assert table.row_count > 0 or name == "neighbours", name   # (no ARP entries recorded)
                await pilot.press("f10")
                await pilot.pause()
            assert view.query_one(TabbedContent).active == "pane-routes"
    asyncio.run(body())


def test_the_footer_makes_its_keys_again_only_when_they_change(state_home):
    """Textual's footer made all its keys again (and restyled each twice) on every change of the
    bindings, each change of focus among them, whether or not a key changed (issue 13)."""
    _at_step(LESSON, STEP)

    async def body():
        app = RecordedApp(LESSON, load(RECORDING))
        async with app.run_test(size=(120, 40)) as pilot:
            await _settled(pilot)
            keys = list(app.screen.query(FooterKey))
            assert keys and not any(k.has_class("-compact") for k in keys)
            app.screen.refresh_bindings()        # what a change of focus does
            app.query_one("#prompt", Input).focus()
            await pilot.pause(0.2)
            assert list(app.screen.query(FooterKey)) == keys     # the same widgets: not made again
            await pilot.resize_terminal(90, 40)  # narrow: compact, and the keys left out go
            await pilot.pause(0.2)
            narrow = list(app.screen.query(FooterKey))
            assert narrow != keys and all(k.has_class("-compact") for k in narrow)
            assert len(narrow) < len(keys)
    asyncio.run(body())
