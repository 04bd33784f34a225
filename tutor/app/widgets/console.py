"""The command console: a `root@lab:/#` prompt whose commands run in the lab host.

Each command runs on a pty of the console's size (`CommandRunner`, resized with the console), so
tools behave as in a terminal. Its process starts while the student types the line (`Ready`), so
Enter only hands the line over. The console's commands' thread (`_serve`) feeds what it prints
to a terminal emulator (`tutor.app.vterm`: `\\r`, erase-line, wrapping at the width, colours)
and posts the result as `CommandOutput`; the scrollback (`TermLog`) keeps the final lines and shows the emulator's
screen as the live tail. The scrollback is capped, ↑/↓ walk the history, Ctrl+C stops the
running command, and a command that never ends (`ping` without `-c`) never blocks the app: the
UI thread only ever puts in lines it is handed. No control from the lab reaches the real
terminal: `printf '\\033c'` would reset it, OSC 52 would write the clipboard. The emulator acts
on controls and shows only its cells (through `tutor.sanitize`), and the tutor's own text enters
through `_write`, which shows controls as text. One output message is on its way at a time
(`tutor.app.outbox`): a flood never queues up behind Ctrl+C.

Input is bounded: a command line holds at most MAX_LINE characters, and a paste runs at most
MAX_PASTE_LINES lines. Past either, the line or the whole paste is refused with one sentence
and nothing runs. Why: every keystroke in a Textual Input re-measures the whole line and posts
an `Input.Changed` carrying a copy of it, queued behind the keys still waiting. A paste that
arrives as keystrokes (a terminal without bracketed paste) left all those copies alive at once:
n²/2 characters, 200 MB for 20 kB, gigabytes for 1 MB. Capped at MAX_LINE that is 8 MB at most.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from rich.highlighter import Highlighter
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label

from tutor.app.messages import CommandFinished, CommandOutput, CommandStarted, InputRefused, LineEntered
from tutor.app.outbox import Outbox
from tutor.app.policy import localize_keys
from tutor.app.widgets.steady import SteadySize
from tutor.app.widgets.term_log import TermLog
from tutor.i18n import Msg, _, in_lang, lang
from tutor.lab.complete import Completion
from tutor.lab.control import LabError
from tutor.lab.runner import CommandRunner, Ready
from tutor.sanitize import clean

PROMPT = "root@lab:/#"
# Sentences are Msgs (str: the English), put into the language when shown: the app is made
# after the language is chosen, this module before.
PLACEHOLDER = Msg("type a command, e.g. {example}", example="ip -br link")
SCROLLBACK = 3000      # lines of the scrollback
DEFAULT_SIZE = (80, 24)  # the pty's size while the console has none yet (not laid out)
HISTORY = 500
MAX_LINE = 4096        # characters in one command line (the lessons' longest is ~120)
MAX_PASTE_LINES = 200  # lines one paste may run (a whole lesson's commands are ~30)
MAX_CHOICES = 100      # Tab's candidates shown on one line at most
READY, DROP = "ready", "drop"   # jobs for the commands' thread besides commands
RUNNING_MARK_AFTER = 0.2   # seconds a command runs before the console is marked as running
TOO_LONG = Msg("[tutor] a command line holds at most {most} characters: this one was not run", most=f"{MAX_LINE:,}")
CUT_OFF = Msg("[tutor] a command line holds at most {most} characters: this one will not run (Ctrl+C clears it)",
              most=f"{MAX_LINE:,}")
# programs that want a terminal: point at the real shell instead of hanging on them
INTERACTIVE = re.compile(r"^(?:ip\s+netns\s+exec\s+\S+\s+)?"
                         r"(?:bash|sh|vi|vim|nano|less|more|top|htop|man|tmux|screen)\s*$")


def _builtin(cmdline: str) -> str | None:
    """What the console answers itself: None to clear the screen, a note, or "" to run it."""
    word = cmdline.split()[0]
    if cmdline in ("clear", "reset"):
        return None
    if word in ("exit", "logout"):
        return _("[tutor] this console stays open: Ctrl+Q quits the course, F2 opens a real shell")
    if word == "cd":
        return _("[tutor] every command starts in / here (cd does not carry over); F2 opens a real shell")
    if INTERACTIVE.match(cmdline):
        return _("[tutor] this program needs a real terminal: press F2 for a lab shell")
    return ""


class ConsoleHighlighter(Highlighter):
    """Echoed prompts in bold green, our own notes dim."""

    def highlight(self, text: Text) -> None:
        plain = text.plain
        if plain.startswith(PROMPT):
            text.stylize("bold green", 0, len(PROMPT))
            text.stylize("bold", len(PROMPT))
        elif plain.startswith(("[tutor]", "^C", "[exit ")):
            text.stylize("dim italic")


class PromptInput(SteadySize, Input):
    """The prompt line: history on ↑/↓, Tab completes, Ctrl+C interrupts instead of copying.

    Enter is handled in the key handler itself, in order with the typed characters: as a
    binding it would run only after keys already queued behind it (a fast typist, tmux
    send-keys), and the next line's first characters would end up in this one. For the same
    reason ↑/↓ walk the history here, and Ctrl+C stops the running command the console hands
    down (`runner`) at once: a message would wait behind that command's flood of output.
    Clearing the scrollback is the console's job: it hears of Ctrl+L by message.

    Tab completes the word at the cursor (`completer`, set by the app: `tutor.lab.complete`)
    and never moves the focus: typing after it stays here, in order, instead of reaching the
    app's keys. A second Tab that finishes nothing shows the candidates (`ChoicesShown`).
    Shift+Tab does nothing here, for the same reason.
    """

    @dataclass
    class ChoicesShown(Message):
        """A second Tab: the console is to show what the word could become."""
        choices: tuple[str, ...]

    @dataclass
    class ClearPressed(Message):
        """Ctrl+L: the console is to clear its scrollback."""

    BINDINGS = [
        Binding("up", "history(-1)", Msg("Older command"), show=False),
        Binding("down", "history(1)", Msg("Newer command"), show=False),
        Binding("ctrl+c", "interrupt", Msg("Stop"), priority=True),
        Binding("ctrl+l", "clear_log", Msg("Clear"), show=False),
    ]

    def __init__(self, history: list[str] | None = None, **kwargs):
        super().__init__(max_length=MAX_LINE, **kwargs)
        localize_keys(self._bindings)   # the footer's labels in the language of now
        self.overflowed = False   # a key was refused at MAX_LINE: this line is not to run
        self.history = [] if history is None else history   # the console's list: it adds the lines
        self._history_pos: int | None = None   # where ↑/↓ stand; None: at the line being typed
        self._draft = ""                       # that line, kept while ↑ shows older ones
        self.runner: CommandRunner | None = None   # the running command, set by the console
        # (line, cursor) -> Completion; None: Tab does nothing (presenter mode)
        self.completer: Callable[[str, int], Completion] | None = None
        self._tabbed: tuple[str, int] | None = None   # the prompt as the last Tab left it

    async def _on_key(self, event: events.Key) -> None:
        if event.key in ("tab", "shift+tab"):
            event.stop()           # not the screen's focus_next: the prompt keeps the keys
            event.prevent_default()
            if event.key == "tab":
                self._complete()
        elif event.key == "enter":
            event.stop()
            event.prevent_default()
            line, self.value = self.value, ""
            if self.overflowed:    # cut at MAX_LINE: running what is left could do anything
                self.overflowed = False
                return
            self._history_pos = None
            self.post_message(LineEntered(line))
        elif event.is_printable and len(self.value) >= MAX_LINE and self.selection.is_empty:
            event.stop()           # cheaper than Input's own refusal, which copies the line
            event.prevent_default()
            if not self.overflowed:
                self.overflowed = True
                self.post_message(InputRefused(in_lang(CUT_OFF, lang())))
        # other keys: Textual goes on to Input._on_key (handlers run along the MRO)

    def _complete(self) -> None:
        """Tab: complete the word at the cursor; a second Tab that finishes nothing lists it."""
        if self.completer is None:
            return
        before = (self.value, self.cursor_position)
        done = self.completer(*before)
        if (done.line, done.cursor) != before and len(done.line) <= MAX_LINE:
            self.value, self.cursor_position = done.line, done.cursor
        elif len(done.choices) > 1 and self._tabbed == before:
            self.post_message(self.ChoicesShown(done.choices))
        self._tabbed = (self.value, self.cursor_position)

    def _on_paste(self, event: events.Paste) -> None:
        """A pasted block runs line by line, like in a terminal; an unfinished last line stays.
        A paste over the limits is refused whole: a script cut short can do harm."""
        event.stop()
        event.prevent_default()   # not Input._on_paste, which keeps only the first line
        lines = (self.value + event.text.replace("\r\n", "\n").replace("\r", "\n")).split("\n")
        longest = max(len(line) for line in lines)
        if longest > MAX_LINE or len(lines) - 1 > MAX_PASTE_LINES:
            why = (_("a line of {length} characters (at most {most})").format(
                       length=f"{longest:,}", most=f"{MAX_LINE:,}") if longest > MAX_LINE
                   else _("{count} lines (at most {most} at once)").format(
                       count=f"{len(lines) - 1:,}", most=MAX_PASTE_LINES))
            self.post_message(InputRefused(_("[tutor] paste refused, nothing was run: {why}").format(why=why)))
            return
        self._history_pos = None
        for line in lines[:-1]:
            self.post_message(LineEntered(line))
        self.value = lines[-1]
        self.cursor_position = len(self.value)

    def clear(self) -> None:
        """Empty the prompt (Ctrl+C): a refused line is gone with it."""
        super().clear()
        self.overflowed = False

    def action_history(self, delta: int) -> None:
        """↑ (-1) / ↓ (+1) through earlier commands; past the newest comes the draft back."""
        n = len(self.history)
        if not n:
            return
        pos = n if self._history_pos is None else min(self._history_pos, n)
        if pos == n:
            self._draft = self.value
        pos = max(0, min(n, pos + delta))
        self._history_pos = None if pos == n else pos
        value = self.history[pos] if pos < n else self._draft
        self.value = value
        self.cursor_position = len(value)

    def action_interrupt(self) -> None:
        """Ctrl+C: stop the running command, or clear the prompt when none runs."""
        if self.runner is not None:
            self.runner.stop()
        else:
            self.clear()

    def action_clear_log(self) -> None:
        self.post_message(self.ClearPressed())


class Console(Vertical):
    """Runs one command at a time in the lab host and shows what it prints."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.history: list[str] = []     # newest last; the prompt walks it with ↑/↓
        self.runner: CommandRunner | None = None
        self.queued: list[str] = []
        self.idle_placeholder = in_lang(PLACEHOLDER, lang())   # what the empty prompt invites (presenter mode: "")
        # the commands' thread (`_serve`) and what it is to do: a CommandRunner to run, READY
        # (start the next command's process ahead), DROP (discard that), None (end)
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._ready_asked = False   # READY is on its way and no command has taken it since
        self._closing = False

    def compose(self) -> ComposeResult:
        log = TermLog(SCROLLBACK, highlight=True, id="console-log")
        log.highlighter = ConsoleHighlighter()
        yield log
        with Horizontal(id="prompt-row"):
            yield Label(PROMPT + " ", id="prompt-label")
            yield PromptInput(history=self.history, placeholder=self.idle_placeholder, id="prompt")

    def on_mount(self) -> None:
        self._load_emulator()
        threading.Thread(target=self._serve, name="console-commands", daemon=True).start()

    def on_unmount(self) -> None:
        self._closing = True          # a running command stops (`runner.run`'s `cancelled`)
        self._jobs.put(None)

    @work(thread=True, group="console-load", exit_on_error=False)
    def _load_emulator(self) -> None:
        """Import the emulator (pyte and wcwidth: ~30 ms) now, in the background, not when the
        first command's output waits for it (bench_tui: Enter -> first output), nor before the
        first paint."""
        import tutor.app.vterm  # noqa: F401

    @property
    def running(self) -> bool:
        """True while a command runs."""
        return self.runner is not None

    @property
    def prompt(self) -> PromptInput:
        """The prompt line."""
        return self.query_one(PromptInput)

    def use_completer(self, completer: Callable[[str, int], Completion]) -> None:
        """What Tab in the prompt calls: (line, cursor) -> `Completion`."""
        self.query_one(PromptInput).completer = completer

    def focus_prompt(self) -> None:
        """Put the cursor into the prompt."""
        self.query_one(PromptInput).focus()

    def insert(self, command: str) -> None:
        """Put `command` into the prompt (replacing what is there) for the student to run."""
        prompt = self.query_one(PromptInput)
        prompt.value = command
        prompt.cursor_position = len(command)
        prompt.focus()

    def show_in_prompt(self, text: str) -> None:
        """Show `text` in the prompt, cursor at its end, without focusing it (presenter mode
        types a command there character by character)."""
        prompt = self.query_one(PromptInput)
        prompt.value = text
        prompt.cursor_position = len(text)

    def enter(self, line: str) -> bool:
        """Run `line` as if Enter was pressed on it. False when the console answers the line
        itself (`clear`, `cd`, `exit`, `bash` …) and so no command runs and none will finish."""
        self.post_message(LineEntered(line))
        return bool(line.strip()) and _builtin(line.strip()) == ""

    def hand_to_presenter(self) -> None:
        """Presenter mode: the prompt takes no focus and invites no typing (the keys are the
        presenter's; the demo types here), and the scrollback starts empty."""
        prompt = self.query_one(PromptInput)
        prompt.can_focus = False
        self.idle_placeholder = prompt.placeholder = ""
        self.query_one(TermLog).clear()

    def echo(self, text: str) -> None:
        """Append lines to the scrollback (notes from the tutor, a replayed command)."""
        log = self.query_one(TermLog)
        if log.lines and log.lines[-1] != "":
            log.write("\n")
        self._write(text.rstrip("\n") + "\n")

    def _write(self, text: str) -> None:
        """The one way text enters the scrollback: terminal controls made visible."""
        self.query_one(TermLog).write(clean(text, drop_colors=True))

    # -- the commands' thread ------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        """The student is typing a line: its command's process starts now (`Ready`), so that
        Enter only hands the line over."""
        if event.value and not self._ready_asked:
            self._ready_asked = True
            self._jobs.put((READY, self._term_size()))

    def drop_ready(self) -> None:
        """The lab was reset: the process started ahead entered the lab as it was, so it goes
        (it would not be used anyway: `client.Standby.start` checks the lab)."""
        self._ready_asked = False
        self._jobs.put((DROP, None))

    def _serve(self) -> None:
        """The commands' thread, for the console's whole life: runs each command it is handed,
        one at a time, and starts the next one's process ahead when asked.

        One thread, not a Textual worker per command: a thread worker starts only once the UI's
        event loop gets round to it, after the repaint of the echoed line, and that wait was
        1-30 ms of Enter -> first output (bench_tui). It posts messages only. A daemon: the
        interpreter's exit does not wait on it; the keeper ends what it left running."""
        ready: Ready | None = None
        while (job := self._jobs.get()) is not None:
            if isinstance(job, CommandRunner):
                taken, ready = ready, None
                self._run(job, taken)
                continue
            what, size = job
            if what == READY and ready is None and not self._closing:
                with contextlib.suppress(LabError, OSError):   # no lab now: the command says so
                    ready = Ready(size)
            elif what == DROP and ready is not None:
                ready.discard()
                ready = None
        if ready is not None:
            ready.discard()

    # -- running -----------------------------------------------------------------------------
    def on_prompt_input_clear_pressed(self, event: PromptInput.ClearPressed) -> None:
        event.stop()
        self.query_one(TermLog).clear()

    def on_prompt_input_choices_shown(self, event: PromptInput.ChoicesShown) -> None:
        event.stop()
        shown = event.choices[:MAX_CHOICES]
        more = f"  … ({len(event.choices) - len(shown)} more)" if len(event.choices) > len(shown) else ""
        self.echo("  ".join(shown) + more)

    def on_input_refused(self, event: InputRefused) -> None:
        event.stop()
        self.echo(event.sentence)

    def on_line_entered(self, event: LineEntered) -> None:
        event.stop()
        if len(event.line) > MAX_LINE:    # (the prompt stops at MAX_LINE; other senders may not)
            self.echo(in_lang(TOO_LONG, lang()))
            return
        # typed ahead while a command runs: it waits its turn (Ctrl+C drops it, as a tty does)
        self.queued.append(event.line)
        self._run_queued()

    def _run_queued(self) -> None:
        while self.queued and not self.running:
            self._start(self.queued.pop(0))
        self._show_queue()

    def _start(self, line: str) -> None:
        cmdline = line.strip()
        self.echo(f"{PROMPT} {cmdline}")
        if not cmdline:
            return
        if not self.history or self.history[-1] != cmdline:
            self.history.append(cmdline)      # in place: the prompt holds this list
            del self.history[:-HISTORY]
        note = _builtin(cmdline)
        if note is None:
            self.query_one(TermLog).clear()
            return
        if note:
            self.echo(note)
            return
        self.run_command(cmdline)

    def run_command(self, cmdline: str) -> None:
        """Start `cmdline` in the lab host (the prompt stays usable for typing ahead)."""
        self.runner = runner = CommandRunner(cmdline, size=self._term_size())
        self._ready_asked = False
        self._jobs.put(runner)
        self.query_one(PromptInput).runner = runner
        self.query_one(TermLog).begin_live()
        self.post_message(CommandStarted(cmdline))
        # restyling the console costs ~13 ms of the UI thread, in the way of the first output:
        # only a command still running after a moment is marked as running
        self.set_timer(RUNNING_MARK_AFTER, lambda: self._mark_running(runner))

    def _mark_running(self, runner: CommandRunner) -> None:
        if self.runner is runner:
            self.add_class("-running")

    def _term_size(self) -> tuple[int, int]:
        """(columns, lines) the scrollback shows: the size of the commands' pty."""
        region = self.query_one(TermLog).scrollable_content_region
        return (region.width, region.height) if region.width > 1 and region.height > 1 else DEFAULT_SIZE

    def on_resize(self, event: events.Resize) -> None:
        if self.runner is not None:
            self.runner.resize(*self._term_size())

    def _run(self, runner: CommandRunner, ready: Ready | None) -> None:
        """Run one command (in the commands' thread), its output to the UI by message."""
        from tutor.app.vterm import Terminal  # (loaded by now: `_load_emulator`)
        term = Terminal(*(runner.size or DEFAULT_SIZE), keep=SCROLLBACK)
        outbox = Outbox(SCROLLBACK)   # at most one CommandOutput on its way (tutor.app.outbox)

        def show(text: str) -> None:
            term.resize(*(runner.size or DEFAULT_SIZE))
            term.feed(text)
            final, lost, screen = term.take()
            if lost:
                final.insert(0, _("[tutor] … {count} earlier lines skipped").format(count=lost))
            if outbox.put(final, screen):
                self.post_message(CommandOutput(outbox))

        status = runner.run(show, cancelled=lambda: self._closing, ready=ready)
        if runner.lab_error:
            show(_("[tutor] F6 sets up a fresh lab for this lesson") + "\r\n")
        self.post_message(CommandFinished(runner.cmdline, status, bool(runner.stop_requested)))

    def on_command_output(self, message: CommandOutput) -> None:
        message.stop()
        final, skipped, screen = message.outbox.take()
        if skipped:
            final.insert(0, _("[tutor] … {count} earlier lines skipped").format(count=skipped))
        self.query_one(TermLog).show_live(final, screen)

    def on_command_finished(self, message: CommandFinished) -> None:
        # not stopped: the app also wants to hear that a command ended
        log = self.query_one(TermLog)
        log.end_live()
        if log.lines and log.lines[-1] != "":
            log.write("\n")
        if message.stopped:
            self.echo("^C")
        elif message.status not in (0, None):
            self.echo(f"[exit {message.status}]")
        self.runner = None
        self.query_one(PromptInput).runner = None
        self.remove_class("-running")
        if message.stopped:
            self.queued.clear()
        self._run_queued()

    def _show_queue(self) -> None:
        n = len(self.queued)
        self.query_one(PromptInput).placeholder = (
            (_("{count} line waiting for the running command (Ctrl+C drops it)") if n == 1 else
             _("{count} lines waiting for the running command (Ctrl+C drops them)")).format(count=n) if n
            else self.idle_placeholder)

    def interrupt(self) -> None:
        """Ctrl+C: stop the running command, or clear the prompt when none runs."""
        if self.runner is not None:
            self.runner.stop()
        else:
            self.query_one(PromptInput).clear()
