"""The course app: lesson and checks on the left, console and live lab view on the right.

A thin layer: lessons come from `tutor.lessons.lesson`, verdicts from `tutor.checks.engine`, resets and
replays from `tutor.lessons.course`, progress from `tutor.progress`, and everything that touches the
lab goes through `tutor.lab.client` (commands), `tutor.lab.control` (requests to the agent) or
`tutor.lab.lifecycle` (start, reset, stop) — always from a thread worker that posts a message back.

Over 400 lines on purpose: this is where every message of the widgets and workers is answered
(the lab, the checks, navigation, the student's keys), in sections; spread over mixins, which
handler answers a message would be harder to find, not easier. What is not the hub lives apart:
the keys and behaviour by policy (`policy.py`), the presenter (`presenter.py`), the widgets.
"""

from __future__ import annotations

from pathlib import Path

from textual import events, work
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer

from tutor import collector
from tutor.app import LanguageSwitch
from tutor.app.keyflow import bounded
from tutor.app.messages import (
    ChecksUpdated,
    CommandFinished,
    CommandStarted,
    LabChanged,
    LabLessonRead,
    LabPrepared,
)
from tutor.app.policy import STUDENT_KEYS, Policy, localize_keys
from tutor.app.widgets.checks_list import ChecksList
from tutor.app.widgets.console import Console, PromptInput
from tutor.app.widgets.course_footer import CourseFooter
from tutor.app.widgets.lab_down import LabDownBanner
from tutor.app.widgets.lab_view import LabView
from tutor.app.widgets.lesson_summary import LessonSummary
from tutor.app.widgets.lesson_view import LessonView
from tutor.app.widgets.step_commands import StepCommands
from tutor.app.widgets.topology import TopologyMap
from tutor.checks import engine
from tutor.i18n import _, in_lang, lang, said
from tutor.lab import client, control, lifecycle
from tutor.lab.complete import Completion, complete, lab_commands
from tutor.lab.keeper import keeper
from tutor.lab.shell import open_lab_shell
from tutor.lab.state import IP_FORWARD
from tutor.lab.watch import LabSnapshot, LabWatcher
from tutor.lessons import course
from tutor.lessons.lesson import load_lessons, normalize_id
from tutor.sanitize import clean

# The screens a key opens (help, lessons, packets, trace, a question) are imported when first
# opened, not with the app: ~5 ms of its first paint (issue 13).

CHECK_DEBOUNCE = 0.15   # seconds of quiet in the lab before the checks run again
ADVANCE_DELAY = 1.0     # seconds a finished step stays on screen, green, before the next opens
BUSY_AFTER = 0.3        # seconds a verification runs before the checks' box says "checking…"
WIDE = 170              # columns from which the map gets its own column
SHORT = 34              # rows below which the panes fold (issue 13: 80x24 and 100x30 terminals)


def _step_result(result, number: int):
    return next((s for s in result.steps if s.number == number), None) if result else None


def _lab_key(snapshot: LabSnapshot) -> tuple:
    """What checks can depend on (neighbour tables churn with every ping: left out)."""
    lab = snapshot.state
    return tuple((n, s.links, s.routes, s.iptables, lab.sysctls.get((n, IP_FORWARD)))
                 for n, s in sorted(lab.ns.items()))


class TutorApp(App):
    """The hands-on course. `lesson_id` None resumes where the student left off; `policy` says
    what the app does on its own and which keys answer (default: the student's course)."""

    ENABLE_COMMAND_PALETTE = False
    BINDINGS = STUDENT_KEYS

    def __init__(self, lesson_id: str | None = None, fresh_lab: bool = False, policy: Policy | None = None):
        self.policy = policy or Policy()
        # absolute: Textual reads a relative path beside the file of the app's class, which for a
        # subclass (the bench's TimedApp) is not tutor/app/
        super().__init__(css_path=[Path(__file__).with_name(name) for name in self.policy.css])
        self.title = self.policy.title
        localize_keys(self._bindings)   # the footer's labels in the language of now
        # checks, rule reads and resets run lab commands from workers: none outlives the app
        client.track_with(keeper.add, keeper.remove)
        self.lessons = load_lessons()
        self.progress = self.policy.progress()
        if lesson_id:
            self.lesson = next(l for l in self.lessons if l.id == normalize_id(lesson_id))
            done = self.progress.done(self.lesson.id)
            self.step = next((s.number for s in self.lesson.steps if s.number not in done), 1)
        else:
            self.lesson, self.step = self.progress.resume_point(self.lessons)
        self.resuming = lesson_id is None
        self.fresh_lab = fresh_lab
        self.asking_lab = False   # the lab question is open: no checks until it is answered
        self.result: engine.LessonResult | None = None
        self.celebrated = False
        self.watcher = LabWatcher(lambda snapshot: self.post_message(LabChanged(snapshot)))
        self._lab_key: tuple | None = None
        self._check_timer: Timer | None = None
        self._checking = False
        self._check_again = False
        self.preparing = False
        self.lab_down = ""      # the watcher's sentence while no lab answers, else ""
        self._commands: list[str] | None = None   # the lab host's commands, read at the first Tab
        self.commands_open = False   # Ctrl+T: the whole of "Type these" on a short terminal
        self._widgets_found = False   # on_mount found the main screen's widgets

    def get_default_screen(self):
        """The policy's screen: the widgets live there, and a mode's own keys (presenter mode)."""
        self.main_screen = self.policy.screen()
        return self.main_screen

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The app's own keys answer only where the policy lets them (presenter mode brings its
        own, on its screen); a key that does not answer here goes on to the screen's."""
        return self.policy.allows(action)

    def notify(self, message: str, *, title: str = "", severity="information",
               timeout: float | None = None, markup: bool = True) -> None:
        """A toast, always as plain sanitized text: the sentences quote lab names and the
        agent's replies, where `[b]` must not be markup nor an ESC a control."""
        super().notify(clean(message), title=clean(title), severity=severity, timeout=timeout,
                       markup=False)

    async def on_event(self, event: events.Event) -> None:
        """Typing is never lost: a printable key while a pane of the main screen has the focus
        (F-keys and the mouse move it there) puts the focus back in the prompt and goes in.

        Decided here, where keys arrive in the order they were typed: a pane that handed the key
        on by bubbling would let the keys typed after it overtake it."""
        if (isinstance(event, events.Key) and event.is_printable and not event.is_forwarded
                and not isinstance(self.focused, PromptInput)   # (the common case: one test per key)
                and self.policy.app_keys and self.screen is self.main_screen):
            prompt = self.cmd_console.prompt
            if prompt.can_focus:
                self.screen.set_focus(prompt)
        await super().on_event(event)

    def _complete(self, line: str, cursor: int) -> Completion:
        """Tab in the prompt: names from the lab as the watcher last read it."""
        if self._commands is None:
            self._commands = lab_commands()
        return complete(line, cursor, self.lab_view.snapshot.state, self._commands)

    def get_driver_class(self):
        """The platform's driver, with backpressure on keys (see `keyflow`)."""
        return bounded(super().get_driver_class())

    def compose(self) -> ComposeResult:
        yield LabDownBanner(id="lab-down")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield LessonSummary(id="summary")
                yield LessonView(id="lesson")
                yield StepCommands(id="commands")
                yield ChecksList(id="checks")
            with Vertical(id="right"):
                yield Console(id="console")
                with Horizontal(id="lab-row"):
                    yield LabView(id="lab")
                    yield TopologyMap(id="side-map")
        yield CourseFooter()

    def on_mount(self) -> None:
        # the main screen's widgets, kept: while a modal screen is up, App.query_one looks there
        self.cmd_console = self.query_one(Console)
        self.checks = self.query_one(ChecksList)
        self.lesson_view = self.query_one(LessonView)
        self.step_commands = self.query_one(StepCommands)
        self.lab_view = self.query_one(LabView)
        self.side_map = self.query_one("#side-map", TopologyMap)
        self.summary = self.query_one(LessonSummary)
        self.summary.hide()
        self.lab_down_banner = self.query_one(LabDownBanner)
        self.lab_down_banner.hide()
        self.query_one("#commands").border_title = _("Type these")
        self.query_one("#checks").border_title = _("Checks")
        self.query_one("#console").border_title = _("Console · lab host")
        self.query_one("#console").border_subtitle = _("Ctrl+C stops · F2 real shell")
        self.query_one("#lab").border_title = _("Lab")
        self.query_one("#side-map").border_title = _("Map")
        self._widgets_found = True
        self._fit(*self.size)
        self.show_step(self.step)
        self.cmd_console.use_completer(self._complete)
        self.cmd_console.focus_prompt()
        self.cmd_console.echo("[tutor] " + _("{lesson}: {title} — F1 shows every key").format(
            lesson=self.lesson.id, title=self.lesson.title))
        if self.progress.notice:
            self.notify(in_lang(self.progress.notice, lang()), severity="warning", timeout=10)
        # after the first frame: the watcher's first reading (its thread and its dumps) must not
        # hold back the first paint
        self.call_after_refresh(self._watch)
        self.call_after_refresh(collector.started)   # start-up is over once it has painted
        if self.fresh_lab and not self._starts_empty():
            self.prepare(self.step, _("the lab was not running: rebuilding it"))
        elif self.policy.save_progress and not self.fresh_lab:   # (`tutor start LESSON` too)
            self.asking_lab = True
            self._read_lab_lesson()
        else:
            if self.fresh_lab:
                self._note_lab_lesson(self.lesson.id)
            self.schedule_checks()
        self.policy.started(self)

    def on_unmount(self) -> None:
        self.watcher.stop()
        # a running command is stopped by its worker, which Textual cancels on exit

    def on_resize(self, event) -> None:
        if self._widgets_found:   # (the first Resize comes before on_mount, which fits too)
            self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        """The layout for this terminal: the map's own column when wide; when short, "Type these"
        folds to the next command and the checks' list to a few lines (the hint stays whole)."""
        screen = self.main_screen
        screen.set_class(width >= WIDE, "-wide")
        screen.set_class(height < SHORT, "-short")
        folded = height < SHORT and not self.commands_open
        self.step_commands.fold(folded)
        self.summary.fold(height < SHORT)
        self.step_commands.border_subtitle = (_("F3 types it · Ctrl+T all") if folded else
                                              _("F3 puts the next one in the prompt"))
        self.query_one(CourseFooter).fit(width)

    def action_toggle_commands(self) -> None:
        """Ctrl+T: all of the step's commands, or (on a short terminal) just the next one."""
        self.commands_open = not self.commands_open
        self._fit(*self.size)

    # -- the lab -----------------------------------------------------------------------------
    @work(thread=True, group="lab-watch", exit_on_error=False)
    def _watch(self) -> None:
        self.watcher.run()

    def on_lab_changed(self, message: LabChanged) -> None:
        if not self.is_running:   # a reading that arrives while the app shuts down
            return
        self._show_lab_down(message.snapshot)
        self.lab_view.show(message.snapshot)
        self.side_map.show(message.snapshot)
        if self.screen is not self.main_screen:   # (the packets screen shows the lab too)
            from tutor.app.screens.packets import PacketsScreen
            if isinstance(self.screen, PacketsScreen):
                self.screen.show_lab(message.snapshot)
        key = _lab_key(message.snapshot)
        if key != self._lab_key:
            self._lab_key = key
            self.schedule_checks()
        self.policy.lab_changed(message)

    def _show_lab_down(self, snapshot: LabSnapshot) -> None:
        """Say plainly when the lab has gone away under us, once, and offer a new one."""
        if snapshot.down and not self.lab_down:
            self.lab_down = snapshot.error
            self.lab_down_banner.show_down(snapshot.error, self.step)
            self.cmd_console.echo("[tutor] " + _("{problem}: F6 starts a new lab").format(problem=snapshot.error))
            self.notify(_("{Problem}. F6 starts a new lab.").format(
                Problem=f"{snapshot.error[:1].upper()}{snapshot.error[1:]}"), severity="error", timeout=10)
        elif not snapshot.down and self.lab_down:
            self.lab_down = ""
            self.lab_down_banner.hide()

    def _starts_empty(self) -> bool:
        """Whether the open step starts from an empty lab (a fresh lab is its start)."""
        return self.step == self.lesson.steps[0].number and not self.lesson.requires and not self.lesson.setup

    # A worker for what is only a small file, but it asks the agent for its pid first: the
    # first frame must not wait for the lab.
    @work(thread=True, group="lab-lesson", exit_on_error=False)
    def _read_lab_lesson(self) -> None:
        try:
            info = control.status()
            message = LabLessonRead(lifecycle.recorded_lesson(info) if info else None)
        except (control.LabError, OSError) as exc:
            message = LabLessonRead(None, said(exc))
        self.post_message(message)

    @work(thread=True, group="lab-lesson", exit_on_error=False)
    def _note_lab_lesson(self, lesson_id: str) -> None:
        """Note that the lab is now used for `lesson_id` (it will not be asked about again)."""
        try:
            info = control.status()
            if info:
                lifecycle.record_lesson(lesson_id, info)
        except (control.LabError, OSError):
            pass   # the next resume asks once more: nothing is lost

    def on_lab_lesson_read(self, message: LabLessonRead) -> None:
        """On resume: a lab set up for another lesson (or for none, where the step needs more
        than an empty lab) is not worked on without asking. Progress is never touched here."""
        if not self.is_running:   # (shutting down)
            return
        lesson = self.lesson.id
        if message.error or message.lesson_id == lesson or (message.lesson_id is None and self._starts_empty()):
            self.asking_lab = False
            if not message.error:
                self._note_lab_lesson(lesson)
            self.schedule_checks(0.01)
            return
        was = (_("the lab is set up for {other}").format(other=message.lesson_id) if message.lesson_id
               else _("the lab is not set up for any lesson (it was started anew)"))
        if self.resuming:
            question = _("You were at step {step} of {lesson}, but {was}. Set it up for {lesson} (its "
                         "start, then the steps before {step} replayed)? Your progress record is kept "
                         "either way; Escape goes on with the lab as it is.")
        else:
            question = _("{lesson} opens at step {step}, but {was}. Set it up for {lesson} (its "
                         "start, then the steps before {step} replayed)? Your progress record is kept "
                         "either way; Escape goes on with the lab as it is.")
        question = question.format(step=self.step, lesson=lesson, was=was)

        def answered(answer: bool | None) -> None:
            self.asking_lab = False
            if answer:
                self.prepare(self.step, _("setting the lab up for {lesson}").format(lesson=lesson))
            else:
                self._note_lab_lesson(lesson)
                self.schedule_checks(0.01)
        self.cmd_console.echo(f"[tutor] {was}")
        from tutor.app.screens.confirm import ConfirmScreen
        self.push_screen(ConfirmScreen(question, yes=_("Set the lab up for {lesson}").format(lesson=lesson),
                                       no=_("Continue with the lab as it is"), default="yes"), answered)

    def on_lab_down_banner_restart_pressed(self, message: LabDownBanner.RestartPressed) -> None:
        self.action_reset()

    def on_command_started(self, message: CommandStarted) -> None:
        self.lab_view.mark_baseline()
        self.step_commands.typed(message.cmdline)

    def on_command_finished(self, message: CommandFinished) -> None:
        self.watcher.refresh(rules=True)
        # at once: the command is over, and the checks read the lab itself (not the watcher);
        # the debounce would add its 0.15 s to Enter -> verdict (bench_tui), a timer a frame
        if self._check_timer is not None:
            self._check_timer.stop()
        self._start_checks()

    def prepare(self, upto: int, why: str) -> None:
        """Reset the lab to the lesson's start and replay its steps before `upto` (a worker)."""
        console = self.cmd_console
        if self.preparing:
            self.notify(_("The lab is already being set up."), timeout=3)
            return
        if console.runner:
            console.runner.stop()
        self.preparing = True
        console.echo(f"[tutor] {why}…")
        self._prepare(self.lesson, upto)

    @work(thread=True, exclusive=True, group="prepare", exit_on_error=False)
    def _prepare(self, lesson, upto: int) -> None:
        def echo(line: str) -> None:
            self.call_from_thread(self.cmd_console.echo, line)
        error = ""
        try:
            course.reset_lesson(lesson, lessons=self.lessons)
            for step in lesson.steps:
                if step.number < upto:
                    course.solve_step(step, echo=echo)
        except Exception as exc:  # the lab or a lesson command failed: one sentence for the student
            error = said(exc)
        self.post_message(LabPrepared(_("the start of step {step} of {lesson}").format(step=upto, lesson=lesson.id),
                                      error))

    def on_lab_prepared(self, message: LabPrepared) -> None:
        self.policy.lab_prepared(message)
        self.preparing = False
        console = self.cmd_console
        console.drop_ready()   # started ahead in the lab as it was (the reset ended it)
        if message.error:
            console.echo("[tutor] " + _("could not set the lab up: {problem}").format(problem=message.error))
            self.notify(message.error, severity="error", timeout=10)
        else:
            console.echo("[tutor] " + _("the lab is ready at {what}").format(what=message.what))
        self.result = None
        self.lab_view.baseline = None
        self.watcher.refresh(rules=True, reconnect=True)
        self.schedule_checks()

    # -- checks ------------------------------------------------------------------------------
    def schedule_checks(self, delay: float = CHECK_DEBOUNCE) -> None:
        """Verify the lesson once the lab has been quiet for `delay` seconds."""
        if self._check_timer is not None:
            self._check_timer.stop()
        # (a Textual timer of 0 s divides by zero)
        self._check_timer = self.set_timer(max(delay, 0.01), self._start_checks)

    def _start_checks(self) -> None:
        self._check_timer = None
        if self.preparing or self.asking_lab or not self.cmd_console.is_attached:   # busy, asking, or shutting down
            return
        if self._checking:
            self._check_again = True
            return
        self._checking = True
        # "checking…" only on a verification that takes a while: set at once, it redrew the
        # checks' box in the frame that shows a command's first output (bench_tui)
        self.set_timer(BUSY_AFTER, self._show_busy)
        self._verify(self.lesson)

    def _show_busy(self) -> None:
        if self._checking and self.checks.is_attached:
            self.checks.set_busy(True)

    @work(thread=True, group="verify", exit_on_error=False)
    def _verify(self, lesson) -> None:
        try:
            message = ChecksUpdated(engine.verify(lesson))
        except Exception as exc:  # LabError and friends: shown in place of the checks
            message = ChecksUpdated(None, said(exc))
        self.post_message(message)

    def on_checks_updated(self, message: ChecksUpdated) -> None:
        self.policy.checks_updated(message)
        self._checking = False
        if self._check_again:
            self._check_again = False
            self.schedule_checks(0.01)
        checks = self.checks
        if not checks.is_attached or not self.is_running:   # (shutting down)
            return
        if message.error:
            checks.show_error(message.error)
            return
        result = message.result
        if result is None or result.lesson_id != self.lesson.id:
            return
        previous, self.result = self.result, result
        passed = {s.number for s in result.steps if s.passed}
        done = self.progress.done(self.lesson.id)
        every = {s.number for s in self.lesson.steps}
        if passed - done:
            self.progress.mark(self.lesson.id, passed, total=len(self.lesson.steps))
            self.lesson_view.show_done(self.lesson, self.progress.done(self.lesson.id))
        now = _step_result(result, self.step)
        before = _step_result(previous, self.step)
        checks.show_result(now)
        # Complete on any path (issue 13: lesson 5's summary waited for a restart when the step
        # on screen had passed before the lesson did): every check passing at once, whatever step
        # is open, or this result finishing the record of steps done.
        if not self.celebrated and (result.passed or (passed - done and every <= done | passed)):
            self.celebrated = True
            if self.policy.celebrate:
                lesson_id = self.lesson.id
                self.set_timer(ADVANCE_DELAY, lambda: self._celebrate(lesson_id))
            return
        if not now.passed or (before is not None and before.passed):
            return
        if self.policy.auto_advance and self._next_unpassed(self.step) is not None:
            step = self.step
            self.set_timer(ADVANCE_DELAY, lambda: self._advance(step))

    def _next_unpassed(self, after: int) -> int | None:
        """The first step after `after` that the latest checks do not pass, if any."""
        passed = {s.number for s in self.result.steps if s.passed} if self.result else set()
        return next((s.number for s in self.lesson.steps if s.number > after and s.number not in passed), None)

    def _advance(self, from_step: int) -> None:
        if not self.is_running or not self.lesson_view.is_attached:   # the timer outlived the app
            return
        # where to is decided now, from the latest checks: a result that came while the step
        # stayed green (the next step done from another terminal meanwhile) schedules nothing,
        # and the course used to stop on a step already done
        to_step = self._next_unpassed(from_step)
        if self.step == from_step and to_step is not None:   # the student did not move meanwhile
            self.show_step(to_step)

    def next_lesson(self):
        """The lesson after this one, or None."""
        ids = [l.id for l in self.lessons]
        i = ids.index(self.lesson.id)
        return self.lessons[i + 1] if i + 1 < len(self.lessons) else None

    def _celebrate(self, lesson_id: str) -> None:
        if lesson_id != self.lesson.id or not self.celebrated:   # another lesson opened meanwhile
            return
        if not self.is_running or not self.summary.is_attached:   # the timer outlived the app
            return
        self.summary.show_finished(self.lesson, self.next_lesson())
        self.notify(_("{lesson} complete!").format(lesson=self.lesson.id), title=_("Well done"), timeout=6)

    # -- navigation --------------------------------------------------------------------------
    def show_step(self, number: int) -> None:
        """Open step `number` of the current lesson."""
        self.step = number
        step = next(s for s in self.lesson.steps if s.number == number)
        if self.policy.save_progress:   # (a synced write: after the frame, not before the first one)
            self.call_after_refresh(self.progress.set_current, self.lesson.id, number)
        self.lesson_view.show(self.lesson, number, self.progress.done(self.lesson.id))
        self.step_commands.show([c.text for c in step.commands])
        result = _step_result(self.result, number)
        if result:
            self.checks.show_result(result)
        else:
            self.checks.show_pending([c.text for c in step.checks])
        self.policy.step_shown(number)

    def restart_lesson(self, why: str) -> None:
        """Back to step 1 of the lesson, the lab reset to its start; a record that is not saved
        starts over too (presenter mode plays every round from nothing)."""
        if not self.policy.save_progress:
            self.progress = self.policy.progress()
        self.result, self.celebrated = None, False
        self.summary.hide()
        self.show_step(self.lesson.steps[0].number)
        self.prepare(1, why)

    def switch_lesson(self, lesson_id: str, reset: bool) -> None:
        """Open another lesson; with `reset`, set the lab up for its start."""
        self.lesson = next(l for l in self.lessons if l.id == lesson_id)
        self.result, self.celebrated = None, False
        self.summary.hide()
        done = self.progress.done(lesson_id)
        self.show_step(1 if reset else next((s.number for s in self.lesson.steps if s.number not in done), 1))
        self.cmd_console.echo(f"[tutor] {self.lesson.id}: {self.lesson.title}")
        if reset:
            self.prepare(1, _("setting the lab up for {lesson}").format(lesson=lesson_id))
        else:
            self._note_lab_lesson(lesson_id)
            self.schedule_checks(0.01)

    def action_step(self, delta: int) -> None:
        numbers = [s.number for s in self.lesson.steps]
        if delta > 0 and self.step == numbers[-1] and self.celebrated and self.next_lesson():
            self.switch_lesson(self.next_lesson().id, reset=True)
            return
        i = max(0, min(len(numbers) - 1, numbers.index(self.step) + delta))
        if numbers[i] != self.step:
            self.show_step(numbers[i])

    def action_next_command(self) -> None:
        command = self.step_commands.take_next()
        if command is None:
            self.notify(_("No more commands in this step (F8 opens the next one)."), timeout=3)
        else:
            self.cmd_console.insert(command)

    def action_check(self) -> None:
        self.watcher.refresh(rules=True)
        self.schedule_checks(0.01)

    def action_help(self) -> None:
        from tutor.app.screens.help import HelpScreen
        self.push_screen(HelpScreen())

    def action_switch_language(self) -> None:
        """Ctrl+G (or the button) on the help or lessons screen: the course in the other language.

        The app exits with a `LanguageSwitch`; `run_app` starts the course again in that language
        where the student is (the lab keeps running, the progress record says where)."""
        if self.policy.save_progress:
            self.progress.set_current(self.lesson.id, self.step)
        resumes_here = self.progress.resume_point(self.lessons)[0] is self.lesson
        self.exit(LanguageSwitch("en" if lang() == "ko" else "ko", None if resumes_here else self.lesson.id))

    def action_lessons(self) -> None:
        from tutor.app.screens.confirm import ConfirmScreen
        from tutor.app.screens.lessons import LessonsScreen
        done = {l.id: self.progress.done(l.id) for l in self.lessons}

        def picked(lesson_id: str | None) -> None:
            if not lesson_id or lesson_id == self.lesson.id:
                return
            question = _("Set the lab up for {lesson}? What is in the lab now is replaced by that "
                         "lesson's starting state. Keep the lab opens the lesson on the lab as it "
                         "is; Cancel (Escape) stays here.").format(lesson=lesson_id)

            def answered(answer: bool | None) -> None:
                if answer is not None:   # None: Cancel or Escape, nothing changes
                    self.switch_lesson(lesson_id, reset=answer)
            self.push_screen(ConfirmScreen(question, yes=_("Set up"), no=_("Keep the lab"), cancel=_("Cancel")),
                             answered)
        self.push_screen(LessonsScreen(self.lessons, done, self.lesson.id), picked)

    def action_reset(self) -> None:
        if self.lab_down:   # nothing left to lose: no question, and back to where the student was
            self.prepare(self.step, _("starting a new lab at the start of step {step}").format(step=self.step))
            return
        question = _("Reset the lab to the start of {lesson}? Everything built in the lab is "
                     "replaced (your progress record is kept).").format(lesson=self.lesson.id)

        def answered(yes: bool | None) -> None:
            if yes:
                self.celebrated = False
                self.summary.hide()
                self.show_step(1)
                self.prepare(1, _("resetting the lab to the start of {lesson}").format(lesson=self.lesson.id))
        from tutor.app.screens.confirm import ConfirmScreen
        self.push_screen(ConfirmScreen(question, yes=_("Reset")), answered)

    def action_trace(self) -> None:
        """F12: the trace of the step's first failing behaviour check (or its first one)."""
        from tutor.app.screens.trace import TraceScreen
        from tutor.checks.trace import traced
        step = self.lesson.steps[self.step - 1]
        probes = [c for c in step.checks if traced(c)]
        if not probes:
            self.notify(_("This step has no ping, tcp or fetch check to trace."), timeout=4)
            return
        now = _step_result(self.result, self.step)
        failing = {c.name for c in now.checks if not c.passed} if now else set()
        self.push_screen(TraceScreen(next((c.text for c in probes if c.text in failing), probes[0].text)))

    def action_packets(self) -> None:
        """F11: a live capture, on the namespace the lab view shows (the view's own F11 closes it)."""
        from tutor.app.screens.packets import PacketsScreen
        self.push_screen(PacketsScreen(self.lab_view.snapshot, self.lab_view.namespace))

    def on_lab_view_namespace_picked(self, message: LabView.NamespacePicked) -> None:
        self.watcher.watch_rules_of(message.name)

    def action_next_namespace(self) -> None:
        self.lab_view.select_next_namespace()

    def action_next_table(self) -> None:
        self.lab_view.select_next_table()

    def action_shell(self) -> None:
        """Leave the app for a real shell in the lab host; `exit` comes back."""
        problem = open_lab_shell(self)
        if problem:
            self.notify(problem, severity="warning")
            return
        self.watcher.refresh(rules=True)
        self.schedule_checks()

