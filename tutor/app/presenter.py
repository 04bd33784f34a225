"""Presenter mode's screen: the presenter's keys, and the lesson played command by command.

The course app (`TutorApp`) runs as in class, composed with the demo's policy (`tutor.app.demo`):
this screen is its main screen, so the widgets are the course's own, the keys here are the
presenter's, and what the app does it tells this screen through the policy. Each of the step's
commands is typed into the console's prompt character by character and then entered the way a
student's Enter is, so its output streams and the lab tables mark what it changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import work
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer

from tutor.app.demo_focus import lab_focus
from tutor.app.messages import ChecksUpdated, CommandFinished, LabChanged, LabPrepared
from tutor.app.policy import localize_keys
from tutor.app.widgets.checks_strip import ChecksStrip
from tutor.app.widgets.console import PROMPT
from tutor.app.widgets.demo_bar import DemoBar, ending_text
from tutor.app.widgets.lab_down import LabDownBanner
from tutor.checks import engine
from tutor.i18n import Msg, _, said
from tutor.lessons.lesson import Command

if TYPE_CHECKING:
    from tutor.app.app import TutorApp

EXIT_PAUSE = 2.0     # seconds the finished lesson stays on screen before --auto exits
LOOP_PAUSE = 5.0     # ... before --loop starts it over
SPEED_STEP = 1.5     # `+` multiplies the typing speed by this, `-` divides
MIN_SPEED, MAX_SPEED = 1.0, 1000.0
TICK = 0.01          # the shortest time between two typed characters (Textual's timers)


def next_speed(speed: float, direction: int) -> float:
    """The typing speed one `+` (1) or `-` (-1) away, kept between MIN_SPEED and MAX_SPEED."""
    value = speed * SPEED_STEP if direction > 0 else speed / SPEED_STEP
    value = max(MIN_SPEED, min(MAX_SPEED, value))
    return float(round(value)) if value >= 10 else round(value, 1)


@dataclass
class DemoVerified(Message):
    """The finished lesson was verified: `result` (an engine LessonResult) or `error`."""
    result: engine.LessonResult | None
    error: str = ""


class PresenterScreen(Screen):
    """The course's widgets under the presenter's keys; plays the lesson's own commands."""

    if TYPE_CHECKING:   # this screen only ever runs on the course's app
        app: TutorApp

    BINDINGS = [
        Binding("space,right", "next", Msg("Next"), key_display="space/→", priority=True),
        Binding("left", "back", Msg("Back"), key_display="←", priority=True),
        Binding("p", "pause", Msg("Pause"), priority=True),
        Binding("plus,equals_sign", "speed(1)", Msg("Faster"), key_display="+", priority=True),
        Binding("minus,underscore", "speed(-1)", Msg("Slower"), key_display="-", priority=True),
        Binding("ctrl+c", "stop", Msg("Stop command"), show=False, priority=True),
        Binding("f6", "new_lab", Msg("New lab"), show=False, priority=True),
        Binding("q,ctrl+q", "leave", Msg("Quit"), key_display="q", priority=True),
    ]

    def __init__(self, auto: bool, delay: float, loop: bool, speed: float):
        super().__init__(id="_default")
        localize_keys(self._bindings)   # the footer's labels in the language of now
        self.auto, self.delay, self.loop, self.speed = auto, delay, loop, speed
        self.paused = False
        self.ready = False          # the lab is at the lesson's start
        self.finished = False       # every command ran; the lesson was verified (or is being)
        self.final_passed: bool | None = None
        self.setup_error = ""       # the lab could not be reset: nothing can be played
        self.rounds = 1
        self.ran: dict[int, int] = {}    # step number -> how many of its commands were entered
        self.typing: Command | None = None   # the command being typed
        self.typed = 0
        self.busy = False           # a command we entered has not finished
        self._pending = False       # space was pressed while busy: go on when it finishes
        self._due = False           # an --auto move fell due while paused
        self._type_timer: Timer | None = None
        self._next_timer: Timer | None = None
        self._focus: tuple[str | None, str | None] = (None, None)

    # -- what the app tells its policy (see tutor.app.demo.DemoPolicy) -------------------------
    def begin(self) -> None:
        """The app is up: take its widgets over for the audience, then play from step 1."""
        app = self.app
        self.mount(DemoBar(id="demo-bar"), before=0)
        app.query_one("#left").mount(ChecksStrip(id="demo-checks"))
        app.cmd_console.hand_to_presenter()
        app.lesson_view.focus()     # ↑/↓/PgUp/PgDn scroll the prose
        app.query_one("#console").border_subtitle = _("Ctrl+C stops a command")
        app.query_one("#demo-checks").border_title = _("Checks")
        self._restart()

    def step_shown(self) -> None:
        """The checks strip and the status bar follow the step on screen."""
        self._show_checks(self.app.result)
        self._show_bar()

    def lab_prepared(self, message: LabPrepared) -> None:
        self.setup_error = message.error
        if message.error:
            self._show_bar()
            self.app.notify(_("The demo cannot start: {error}").format(error=message.error), severity="error",
                            timeout=10)
            if self.auto:
                self.set_timer(EXIT_PAUSE, lambda: self.app.exit(return_code=1))
            return
        self.ready = True
        if self._pending or self.auto:
            self._pending = False
            self._schedule(self.delay if self.auto else 0.05)
        self._show_bar()

    def lab_changed(self, message: LabChanged) -> None:
        # a namespace the last command made has its tab once the app has shown this reading
        if self._focus[0]:
            self.call_after_refresh(self._apply_focus)

    def checks_updated(self, message: ChecksUpdated) -> None:
        if message.result is not None and message.result.lesson_id == self.app.lesson.id:
            self._show_checks(message.result)

    # -- keys ----------------------------------------------------------------------------------
    def action_next(self) -> None:
        """Space/→: type and run the next command, or open the next step, or finish."""
        if self.finished:
            if not self.auto:
                self.app.notify(_("The lesson is complete: q quits."), timeout=3)
            return
        if not self.ready:
            self._pending = True
        elif self.typing is not None:        # impatient: finish typing at once
            self.typed = len(self.typing.text)
            self.app.cmd_console.show_in_prompt(self.typing.text)
            self._submit()
        elif self.busy:
            self._pending = True
        else:
            self._cancel_next()
            self._forward()
        self._show_bar()

    def action_back(self) -> None:
        """←: show the previous step again (what ran in the lab stays)."""
        if self.finished and self.auto:
            return
        numbers = [s.number for s in self.app.lesson.steps]
        i = numbers.index(self.app.step)
        if i == 0:
            self.app.notify(_("This is the first step."), timeout=2)
            return
        self._cancel_typing()
        self._cancel_next()
        self._pending = False
        if self.finished:
            self.finished, self.final_passed = False, None
            self.app.summary.hide()
        self.app.show_step(numbers[i - 1])
        if self.auto and not self.busy:
            self._schedule(self.delay)

    def action_pause(self) -> None:
        """p: hold the typing and --auto's next move; again to go on."""
        self.paused = not self.paused
        if not self.paused:
            if self.typing is not None and self._type_timer is None:
                self._type_later()
            if self._due:
                self._due = False
                self._schedule(min(self.delay, 0.3))
        self._show_bar()

    def action_speed(self, direction: int) -> None:
        """+/-: type faster or slower."""
        self.speed = next_speed(self.speed, direction)
        self._show_bar()

    def action_stop(self) -> None:
        """Ctrl+C: stop the running command."""
        if self.app.cmd_console.running:
            self.app.cmd_console.interrupt()

    def action_new_lab(self) -> None:
        """F6 (or the banner's button) once the lab has gone: a new lab, the lesson from step 1.
        While the lab runs, F6 does nothing: a presenter's stray key must not restart the show."""
        if self.app.lab_down:
            self._restart()

    def on_lab_down_banner_restart_pressed(self, message: LabDownBanner.RestartPressed) -> None:
        message.stop()       # the presenter's restart, not the course's reset
        self.action_new_lab()

    def action_leave(self) -> None:
        """q: leave the demo."""
        # --auto (without --loop) promises exit 0 only for a finished, verified lesson
        failed = self.auto and not self.loop and not self.final_passed
        self.app.exit(return_code=1 if failed else 0)

    # -- playing -----------------------------------------------------------------------------
    def _restart(self) -> None:
        """Back to step 1 with the lab reset to the lesson's start."""
        self._cancel_typing()
        self._cancel_next()
        self.ran, self.finished, self.final_passed, self.ready = {}, False, None, False
        self.busy = self._pending = False
        lesson = self.app.lesson
        round_note = _(" (round {round})").format(round=self.rounds) if self.loop else ""
        self.app.cmd_console.echo(f"[demo] {lesson.id}: {lesson.title}{round_note}")
        self.app.restart_lesson(_("resetting the lab to the start of {lesson}").format(lesson=lesson.id))

    def _current(self):
        return next(s for s in self.app.lesson.steps if s.number == self.app.step)

    def _forward(self) -> None:
        """One move: type the step's next command, or open the next step, or finish."""
        step = self._current()
        done = self.ran.get(step.number, 0)
        if done < len(step.commands):
            self._type(step.commands[done])
            return
        later = [s.number for s in self.app.lesson.steps if s.number > step.number]
        if later:
            self.app.show_step(later[0])
            if self.auto:
                self._schedule(self.delay)    # time to read the new step's prose
        else:
            self._finish()

    def _type(self, command: Command) -> None:
        self.typing, self.typed = command, 0
        self.app.cmd_console.show_in_prompt("")
        self._type_later()
        self._show_bar()

    def _type_later(self) -> None:
        if self.typed >= len(self.typing.text if self.typing else ""):
            # the whole line is on screen: a beat for the audience to read it, then Enter
            self._type_timer = self.set_timer(max(min(self.delay, 0.5), 0.1), self._enter)
        else:
            self._type_timer = self.set_timer(max(1 / self.speed, TICK), self._type_one)

    def _type_one(self) -> None:
        self._type_timer = None
        if self.typing is None or self.paused:
            return
        # faster than a character a tick: several a tick (the speed asked for, not 1/TICK)
        self.typed += max(1, round(self.speed * TICK))
        self.app.cmd_console.show_in_prompt(self.typing.text[:self.typed])
        self._type_later()

    def _enter(self) -> None:
        self._type_timer = None
        if self.typing is not None and not self.paused:
            self._submit()

    def _submit(self) -> None:
        """Enter the typed command: through the console, as a student's Enter would."""
        command, self.typing = self.typing, None
        assert command is not None
        if self._type_timer is not None:
            self._type_timer.stop()
            self._type_timer = None
        step = self.app.step
        self.ran[step] = self.ran.get(step, 0) + 1
        self.busy = True
        self._focus = lab_focus(command.text)
        self._apply_focus()
        console = self.app.cmd_console
        console.show_in_prompt("")
        if command.serve is not None:        # a lesson's `serve` line is the agent's job
            console.echo(f"{PROMPT} {command.text}")
            self._serve(command)
        elif not console.enter(command.text):  # answered by the console itself: no process
            self._command_done()
        self._show_bar()

    @work(thread=True, group="demo-serve", exit_on_error=False)
    def _serve(self, command: Command) -> None:
        from tutor.lab import control
        serve = command.serve
        assert serve is not None
        try:
            control.serve(serve.namespace, serve.port, serve.body)
            status = 0
        except control.LabError as exc:
            self.app.call_from_thread(self.app.cmd_console.echo, f"tutor: {said(exc)}")
            status = 1
        self.post_message(CommandFinished(command.text, status, False))   # bubbles on to the app

    def on_command_finished(self, message: CommandFinished) -> None:
        # (not stopped: the app's own handler re-reads the lab and schedules the checks)
        if self.busy:
            self._command_done()

    def _command_done(self) -> None:
        self.busy = False
        if self._pending:
            self._pending = False
            self._schedule(0.05)
        elif self.auto:
            self._schedule(self.delay)
        self._show_bar()

    def _schedule(self, delay: float) -> None:
        """The next move in `delay` seconds (never a 0-second timer: Textual divides by it)."""
        self._cancel_next()
        self._next_timer = self.set_timer(max(delay, 0.01), self._next_due)

    def _next_due(self) -> None:
        self._next_timer = None
        if self.paused:
            self._due = True
            return
        if self.ready and not self.finished and not self.busy and self.typing is None:
            self._forward()
        self._show_bar()

    def _cancel_next(self) -> None:
        if self._next_timer is not None:
            self._next_timer.stop()
            self._next_timer = None
        self._due = False

    def _cancel_typing(self) -> None:
        if self._type_timer is not None:
            self._type_timer.stop()
            self._type_timer = None
        if self.typing is not None:
            self.typing = None
            self.app.cmd_console.show_in_prompt("")

    def _apply_focus(self) -> None:
        """Show the lab view's namespace and table the last command changes."""
        namespace, table = self._focus
        lab_view = self.app.lab_view
        if namespace is not None and lab_view.show_namespace(namespace):
            self._focus = (None, table)
        if table is not None:
            if table == "map" and self.has_class("-wide"):   # the map has its own column
                table = "links"
            lab_view.show_table(table)
            self._focus = (self._focus[0], None)

    # -- the ending --------------------------------------------------------------------------
    def _finish(self) -> None:
        self.finished = True
        self.app.cmd_console.echo("[demo] " + _("every command has run: checking the whole lesson…"))
        self._show_bar()
        self._verify_all(self.app.lesson)

    @work(thread=True, group="demo-verify", exit_on_error=False)
    def _verify_all(self, lesson) -> None:
        try:
            message = DemoVerified(engine.verify(lesson))
        except Exception as exc:  # the lab is gone, ...: one sentence on screen
            message = DemoVerified(None, said(exc))
        self.post_message(message)

    def on_demo_verified(self, message: DemoVerified) -> None:
        if not self.finished:        # the presenter went back meanwhile
            return
        result = message.result
        self.final_passed = bool(result is not None and result.passed)
        if self.auto and self.loop:
            after = _("Starting over in {seconds} s (q quits).").format(seconds=f"{LOOP_PAUSE:g}")
        else:
            after = _("Closing in {seconds} s.").format(seconds=f"{EXIT_PAUSE:g}") if self.auto else _("q quits.")
        text = ending_text(self.app.lesson.title, result, message.error, after)
        summary = self.app.summary
        summary.update(text)
        summary.display = True
        self.app.cmd_console.echo("[demo] " + text.plain.split("\n")[0])
        self._show_bar()
        if self.auto and self.loop:
            self.set_timer(LOOP_PAUSE, self._again)
        elif self.auto:
            code = 0 if self.final_passed else 1
            self.set_timer(EXIT_PAUSE, lambda: self.app.exit(return_code=code))

    def _again(self) -> None:
        if self.finished:
            self.rounds += 1
            self._restart()

    # -- what the audience sees --------------------------------------------------------------
    def _show_checks(self, result) -> None:
        strips = self.query(ChecksStrip)
        if strips:
            step = next((r for r in result.steps if r.number == self.app.step), None) if result else None
            strips.first().show(step, self._current().checks)

    def _show_bar(self) -> None:
        bars = self.query(DemoBar)
        if bars:
            bars.first().show_play(self, self.app.lesson, self._current())
