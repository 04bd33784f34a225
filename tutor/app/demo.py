"""Presenter mode (`tutor demo LESSON`): the course app playing a lesson for a class.

The same app with fewer panes (no command list, a one-line checks strip) and a status bar.
Each of the step's commands is typed into the console's prompt character by character and
then entered the way a student's Enter is, so its output streams and the lab tables mark
what it changed. Space or → plays the next command (or opens the next step), ← shows the
previous step again (the lab is not undone), `p` pauses, `+`/`-` change the typing speed.
`--auto` plays the whole lesson by itself; `--loop` then starts it over, forever.

The lab is reset to the lesson's start first, so a demo is always clean, and the student's
progress record is never written (a demo is not the student's work).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from textual import work
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Log

from tutor import progress
from tutor.app.app import TutorApp
from tutor.app.demo_focus import lab_focus
from tutor.app.messages import (ChecksUpdated, CommandFinished, LabChanged, LabPrepared,
                                LineEntered)
from tutor.app.widgets.checks_strip import ChecksStrip
from tutor.app.widgets.console import PROMPT, PromptInput
from tutor.app.widgets.console import _builtin as console_builtin
from tutor.app.widgets.demo_bar import DemoBar, ending_text
from tutor.checks import engine
from tutor.lesson import SERVE

DELAY = 1.5          # seconds between commands with --auto
SPEED = 30.0         # characters typed per second
SPEED_STEP = 1.5     # `+` multiplies the speed by this, `-` divides
MIN_SPEED, MAX_SPEED = 1.0, 1000.0
EXIT_PAUSE = 2.0     # seconds the finished lesson stays on screen before --auto exits
LOOP_PAUSE = 5.0     # ... before --loop starts it over


@dataclass
class DemoVerified(Message):
    """The finished lesson was verified: `result` (an engine LessonResult) or `error`."""
    result: object | None
    error: str = ""


class _Unsaved(progress.Progress):
    """A progress record that lives only as long as the demo."""

    def save(self) -> None:
        pass


def next_speed(speed: float, direction: int) -> float:
    """The typing speed one `+` (1) or `-` (-1) away, kept between MIN_SPEED and MAX_SPEED."""
    value = speed * SPEED_STEP if direction > 0 else speed / SPEED_STEP
    value = max(MIN_SPEED, min(MAX_SPEED, value))
    return float(round(value)) if value >= 10 else round(value, 1)


class DemoApp(TutorApp, inherit_bindings=False):
    """The course app as a presenter: it types and runs the lesson's own commands."""

    CSS_PATH = ["app.tcss", "demo.tcss"]
    TITLE = "netns-tutor · demo"
    BINDINGS = [
        Binding("space,right", "next", "Next", key_display="space/→", priority=True),
        Binding("left", "back", "Back", key_display="←", priority=True),
        Binding("p", "pause", "Pause", priority=True),
        Binding("plus,equals_sign", "speed(1)", "Faster", key_display="+", priority=True),
        Binding("minus,underscore", "speed(-1)", "Slower", key_display="-", priority=True),
        Binding("ctrl+c", "stop", "Stop command", show=False, priority=True),
        Binding("f6", "reset", "New lab", show=False, priority=True),
        Binding("q,ctrl+q", "quit", "Quit", key_display="q", priority=True),
    ]

    def __init__(self, lesson_id: str, auto: bool = False, delay: float = DELAY,
                 loop: bool = False, speed: float = SPEED):
        super().__init__(lesson_id)
        self.progress = _Unsaved(path=self.progress.path)
        self.step = self.lesson.steps[0].number
        self.auto, self.delay, self.loop, self.speed = auto, delay, loop, speed
        self.paused = False
        self.ready = False          # the lab is at the lesson's start
        self.finished = False       # every command ran; the lesson was verified (or is being)
        self.final_passed: bool | None = None
        self.setup_error = ""       # the lab could not be reset: nothing can be played
        self.rounds = 1
        self.ran: dict[int, int] = {}    # step number -> how many of its commands were entered
        self.typing: str | None = None   # the command being typed
        self.typed = 0
        self._busy = False          # a command we entered has not finished
        self._pending = False       # space was pressed while busy: go on when it finishes
        self._due = False           # an --auto move fell due while paused
        self._type_timer = None
        self._next_timer = None
        self._focus: tuple[str | None, str | None] = (None, None)

    def compose(self):
        yield DemoBar(id="demo-bar")
        yield from super().compose()

    def on_mount(self) -> None:
        # runs before TutorApp.on_mount (handlers go along the MRO): set up right after it,
        # before the first frame is painted
        self.query_one("#left").mount(ChecksStrip(id="demo-checks"))
        self.call_next(self._begin)

    def _begin(self) -> None:
        prompt = self.query_one(PromptInput)
        prompt.can_focus = False     # keys are the presenter's; only the demo types here
        self.cmd_console.idle_placeholder = prompt.placeholder = ""
        self.lesson_view.focus()     # ↑/↓/PgUp/PgDn scroll the prose
        self.query_one("#console-log", Log).clear()
        self.query_one("#console").border_subtitle = "Ctrl+C stops a command"
        self.query_one("#demo-checks").border_title = "Checks"
        self._restart()

    def action_reset(self) -> None:
        """F6 (or the banner's button) once the lab has gone: a new lab, the lesson from step 1.
        While the lab runs, F6 does nothing: a presenter's stray key must not restart the show."""
        if self.lab_down:
            self._restart()

    def _restart(self) -> None:
        """Back to step 1 with the lab reset to the lesson's start."""
        self._cancel_typing()
        self._cancel_next()
        self.ran, self.finished, self.final_passed, self.ready = {}, False, None, False
        self._busy = self._pending = False
        self.progress = _Unsaved(path=self.progress.path)
        self.result = None
        self.summary.hide()
        self.show_step(self.lesson.steps[0].number)
        round_note = f" (round {self.rounds})" if self.loop else ""
        self.cmd_console.echo(f"[demo] {self.lesson.id}: {self.lesson.title}{round_note}")
        self.prepare(1, f"resetting the lab to the start of {self.lesson.id}")

    # -- what TutorApp does on its own that the presenter decides here -----------------------
    def _advance(self, from_step: int, to_step: int) -> None:
        """Steps open when the presenter (or --auto) moves on, not when checks pass."""

    def _celebrate(self) -> None:
        """The demo shows its own ending once every command has run."""

    def show_step(self, number: int) -> None:
        """Open step `number`; the checks strip and the status bar follow."""
        super().show_step(number)
        self._show_checks(self.result)
        self._show_bar()

    # -- keys ----------------------------------------------------------------------------------
    def action_next(self) -> None:
        """Space/→: type and run the next command, or open the next step, or finish."""
        if self.finished:
            if not self.auto:
                self.notify("The lesson is complete: q quits.", timeout=3)
            return
        if not self.ready:
            self._pending = True
        elif self.typing is not None:        # impatient: finish typing at once
            self.typed = len(self.typing)
            self._set_prompt(self.typing)
            self._submit()
        elif self._busy:
            self._pending = True
        else:
            self._cancel_next()
            self._forward()
        self._show_bar()

    def action_back(self) -> None:
        """←: show the previous step again (what ran in the lab stays)."""
        if self.finished and self.auto:
            return
        numbers = [s.number for s in self.lesson.steps]
        i = numbers.index(self.step)
        if i == 0:
            self.notify("This is the first step.", timeout=2)
            return
        self._cancel_typing()
        self._cancel_next()
        self._pending = False
        if self.finished:
            self.finished, self.final_passed = False, None
            self.summary.hide()
        self.show_step(numbers[i - 1])
        if self.auto and not self._busy:
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
        if self.cmd_console.running:
            self.cmd_console.interrupt()

    def action_quit(self) -> None:
        """q: leave the demo."""
        # --auto (without --loop) promises exit 0 only for a finished, verified lesson
        failed = self.auto and not self.loop and not self.final_passed
        self.exit(return_code=1 if failed else 0)

    # -- playing -----------------------------------------------------------------------------
    def _current(self):
        return next(s for s in self.lesson.steps if s.number == self.step)

    def _forward(self) -> None:
        """One move: type the step's next command, or open the next step, or finish."""
        step = self._current()
        done = self.ran.get(step.number, 0)
        if done < len(step.commands):
            self._type(step.commands[done])
            return
        later = [s.number for s in self.lesson.steps if s.number > step.number]
        if later:
            self.show_step(later[0])
            if self.auto:
                self._schedule(self.delay)    # time to read the new step's prose
        else:
            self._finish()

    def _type(self, command: str) -> None:
        self.typing, self.typed = command, 0
        self._set_prompt("")
        self._type_later()
        self._show_bar()

    def _type_later(self) -> None:
        if self.typed >= len(self.typing or ""):
            # the whole line is on screen: a beat for the audience to read it, then Enter
            self._type_timer = self.set_timer(max(min(self.delay, 0.5), 0.1), self._enter)
        else:
            self._type_timer = self.set_timer(max(1 / self.speed, 0.01), self._type_one)

    def _type_one(self) -> None:
        self._type_timer = None
        if self.typing is None or self.paused:
            return
        self.typed += 1
        self._set_prompt(self.typing[:self.typed])
        self._type_later()

    def _enter(self) -> None:
        self._type_timer = None
        if self.typing is not None and not self.paused:
            self._submit()

    def _submit(self) -> None:
        """Enter the typed command: through the console, as a student's Enter would."""
        command, self.typing = self.typing, None
        if self._type_timer is not None:
            self._type_timer.stop()
            self._type_timer = None
        self.ran[self.step] = self.ran.get(self.step, 0) + 1
        self._busy = True
        self._focus = lab_focus(command)
        self._apply_focus()
        prompt = self.query_one(PromptInput)
        prompt.value = ""
        if SERVE.match(command):            # a lesson's `serve` line is the agent's job
            self.cmd_console.echo(f"{PROMPT} {command}")
            self._serve(command)
        else:
            prompt.post_message(LineEntered(command))
            if console_builtin(command) != "":    # answered by the console itself: no process
                self._command_done()
        self._show_bar()

    @work(thread=True, group="demo-serve", exit_on_error=False)
    def _serve(self, command: str) -> None:
        from tutor.lab import control
        m = SERVE.match(command)
        try:
            control.serve(m.group(1), int(m.group(2)), m.group(3) or "")
            status = 0
        except control.LabError as exc:
            self.call_from_thread(self.cmd_console.echo, f"tutor: {exc}")
            status = 1
        self.post_message(CommandFinished(command, status, False))

    def on_command_finished(self, message: CommandFinished) -> None:
        # (TutorApp's handler runs too: it re-reads the lab and schedules the checks)
        if self._busy:
            self._command_done()

    def _command_done(self) -> None:
        self._busy = False
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
        if self.ready and not self.finished and not self._busy and self.typing is None:
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
            self._set_prompt("")

    def _set_prompt(self, text: str) -> None:
        prompt = self.query_one(PromptInput)
        prompt.value = text
        prompt.cursor_position = len(text)

    # -- the lab -----------------------------------------------------------------------------
    def on_lab_prepared(self, message: LabPrepared) -> None:
        # (TutorApp's handler runs too: it says so in the console and re-reads the lab)
        self.setup_error = message.error
        if message.error:
            self._show_bar()
            self.notify(f"The demo cannot start: {message.error}", severity="error", timeout=10)
            if self.auto:
                self.set_timer(EXIT_PAUSE, lambda: self.exit(return_code=1))
            return
        self.ready = True
        if self._pending or self.auto:
            self._pending = False
            self._schedule(self.delay if self.auto else 0.05)
        self._show_bar()

    def on_lab_changed(self, message: LabChanged) -> None:
        # a namespace the last command made gets its tab only once TutorApp's handler ran
        if self._focus[0]:
            self.call_after_refresh(self._apply_focus)

    def _apply_focus(self) -> None:
        namespace, table = self._focus
        if namespace is not None and self.lab_view.show_namespace(namespace):
            self._focus = (None, table)
        if table is not None:
            if table == "map" and self.screen.has_class("-wide"):   # the map has its own column
                table = "links"
            self.lab_view.show_table(table)
            self._focus = (self._focus[0], None)

    # -- checks and the ending -------------------------------------------------------------
    def on_checks_updated(self, message: ChecksUpdated) -> None:
        if message.result is not None and message.result.lesson_id == self.lesson.id:
            self._show_checks(message.result)

    def _finish(self) -> None:
        self.finished = True
        self.cmd_console.echo("[demo] every command has run: checking the whole lesson…")
        self._show_bar()
        self._verify_all(self.lesson)

    @work(thread=True, group="demo-verify", exit_on_error=False)
    def _verify_all(self, lesson) -> None:
        try:
            message = DemoVerified(engine.verify(lesson))
        except Exception as exc:  # the lab is gone, ...: one sentence on screen
            message = DemoVerified(None, str(exc))
        self.post_message(message)

    def on_demo_verified(self, message: DemoVerified) -> None:
        if not self.finished:        # the presenter went back meanwhile
            return
        result = message.result
        self.final_passed = bool(result is not None and result.passed)
        if self.auto and self.loop:
            after = f"Starting over in {LOOP_PAUSE:g} s (q quits)."
        else:
            after = f"Closing in {EXIT_PAUSE:g} s." if self.auto else "q quits."
        text = ending_text(self.lesson.title, result, message.error, after)
        self.summary.update(text)
        self.summary.display = True
        self.cmd_console.echo("[demo] " + text.plain.split("\n")[0])
        self._show_bar()
        if self.auto and self.loop:
            self.set_timer(LOOP_PAUSE, self._again)
        elif self.auto:
            code = 0 if self.final_passed else 1
            self.set_timer(EXIT_PAUSE, lambda: self.exit(return_code=code))

    def _again(self) -> None:
        if self.finished:
            self.rounds += 1
            self._restart()

    # -- what the audience sees --------------------------------------------------------------
    def _show_checks(self, result) -> None:
        strips = self.query(ChecksStrip)
        if strips:
            step = next((r for r in result.steps if r.number == self.step), None) if result else None
            strips.first().show(step, self._current().checks)

    def _show_bar(self) -> None:
        bars = self.query(DemoBar)
        if not bars:
            return
        step = self._current()
        total = len(step.commands)
        done = self.ran.get(step.number, 0)
        if self.setup_error:
            state = "the lab could not be set up (see the console)"
        elif not self.ready:
            state = "setting up the lab…"
        elif self.finished:
            state = {None: "checking the lesson…", True: "lesson complete ✓",
                     False: "lesson not complete ✗"}[self.final_passed]
        elif self.typing is not None:
            state = "typing…"
        elif self._busy:
            state = "running…"
        elif self.auto:
            state = "playing"
        elif done < total:
            state = "space: next command"
        else:
            state = "space: next step"
        mode = f"auto, {self.delay:g} s apart" if self.auto else "presenter"
        if self.loop:
            mode += f", round {self.rounds}"
        bars.first().show(lesson_id=self.lesson.id, step=step.number, steps=len(self.lesson.steps),
                          ran=done, commands=total, state=state, paused=self.paused,
                          speed=self.speed, mode=mode)


def run_demo(lesson_id: str, auto: bool = False, delay: float = DELAY, loop: bool = False,
             speed: float = SPEED) -> int:
    """Play `lesson_id` in presenter mode; returns an exit code (see `tutor demo --help`)."""
    from tutor.lab import control, lifecycle
    try:
        lifecycle.up()
    except control.LabError as exc:
        print(f"tutor: {exc}", file=sys.stderr)
        return 2
    app = DemoApp(lesson_id, auto=auto, delay=delay, loop=loop, speed=speed)
    app.run()
    return app.return_code or 0
