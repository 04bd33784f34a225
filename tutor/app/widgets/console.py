"""The command console: a `root@lab:/#` prompt whose commands run in the lab host.

Output streams in as the command prints it (a thread worker posts `CommandOutput`, one on its
way at a time: `tutor.app.outbox`), the scrollback is capped, ↑/↓ walk the history, Ctrl+C stops
the running command, and a command that never ends (`ping` without `-c`) never blocks the app:
the UI thread only ever appends text it is handed. Everything that enters the scrollback goes
through `_write`, the console's one door to its Log: command output can carry any terminal
control (`printf '\\033c'` would reset the real terminal under the app, OSC 52 would write the
clipboard), so `tutor.sanitize` shows them as text there; only colours are dropped, so `ip -c
addr` reads as it does without `-c`.

Input is bounded: a command line holds at most MAX_LINE characters, and a paste runs at most
MAX_PASTE_LINES lines. Past either, the line or the whole paste is refused with one sentence
and nothing runs. Why: every keystroke in a Textual Input re-measures the whole line and posts
an `Input.Changed` carrying a copy of it, queued behind the keys still waiting. A paste that
arrives as keystrokes (a terminal without bracketed paste) left all those copies alive at once:
n²/2 characters, 200 MB for 20 kB, gigabytes for 1 MB. Capped at MAX_LINE that is 8 MB at most.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.highlighter import Highlighter
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label, Log

from tutor.app.messages import CommandFinished, CommandOutput, CommandStarted, InputRefused, LineEntered
from tutor.app.outbox import Outbox
from tutor.lab.runner import CommandRunner
from tutor.sanitize import clean

PROMPT = "root@lab:/#"
PLACEHOLDER = "type a command, e.g. ip -br link"
SCROLLBACK = 3000
HISTORY = 500
MAX_LINE = 4096        # characters in one command line (the lessons' longest is ~120)
MAX_PASTE_LINES = 200  # lines one paste may run (a whole lesson's commands are ~30)
TOO_LONG = f"[tutor] a command line holds at most {MAX_LINE:,} characters: this one was not run"
CUT_OFF = (f"[tutor] a command line holds at most {MAX_LINE:,} characters: this one will not run "
           "(Ctrl+C clears it)")
# programs that want a terminal: point at the real shell instead of hanging on them
INTERACTIVE = re.compile(r"^(?:ip\s+netns\s+exec\s+\S+\s+)?"
                         r"(?:bash|sh|vi|vim|nano|less|more|top|htop|man|tmux|screen)\s*$")


def _builtin(cmdline: str) -> str | None:
    """What the console answers itself: None to clear the screen, a note, or "" to run it."""
    word = cmdline.split()[0]
    if cmdline in ("clear", "reset"):
        return None
    if word in ("exit", "logout"):
        return "[tutor] this console stays open: Ctrl+Q quits the course, F2 opens a real shell"
    if word == "cd":
        return "[tutor] every command starts in / here (cd does not carry over); F2 opens a real shell"
    if INTERACTIVE.match(cmdline):
        return "[tutor] this program needs a real terminal: press F2 for a lab shell"
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


class PromptInput(Input):
    """The prompt line: history on ↑/↓, Ctrl+C interrupts instead of copying.

    Enter is handled in the key handler itself, in order with the typed characters: as a
    binding it would run only after keys already queued behind it (a fast typist, tmux
    send-keys), and the next line's first characters would end up in this one. For the same
    reason ↑/↓ walk the history here, and Ctrl+C stops the running command the console hands
    down (`runner`) at once: a message would wait behind that command's flood of output.
    Clearing the scrollback is the console's job: it hears of Ctrl+L by message.
    """

    @dataclass
    class ClearPressed(Message):
        """Ctrl+L: the console is to clear its scrollback."""

    BINDINGS = [
        Binding("up", "history(-1)", "Older command", show=False),
        Binding("down", "history(1)", "Newer command", show=False),
        Binding("ctrl+c", "interrupt", "Stop", priority=True),
        Binding("ctrl+l", "clear_log", "Clear", show=False),
    ]

    def __init__(self, history: list[str] | None = None, **kwargs):
        super().__init__(max_length=MAX_LINE, **kwargs)
        self.overflowed = False   # a key was refused at MAX_LINE: this line is not to run
        self.history = [] if history is None else history   # the console's list: it adds the lines
        self._history_pos: int | None = None   # where ↑/↓ stand; None: at the line being typed
        self._draft = ""                       # that line, kept while ↑ shows older ones
        self.runner: CommandRunner | None = None   # the running command, set by the console

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
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
                self.post_message(InputRefused(CUT_OFF))
        # other keys: Textual goes on to Input._on_key (handlers run along the MRO)

    def _on_paste(self, event: events.Paste) -> None:
        """A pasted block runs line by line, like in a terminal; an unfinished last line stays.
        A paste over the limits is refused whole: a script cut short can do harm."""
        event.stop()
        event.prevent_default()   # not Input._on_paste, which keeps only the first line
        lines = (self.value + event.text.replace("\r\n", "\n").replace("\r", "\n")).split("\n")
        longest = max(len(line) for line in lines)
        if longest > MAX_LINE or len(lines) - 1 > MAX_PASTE_LINES:
            why = (f"a line of {longest:,} characters (at most {MAX_LINE:,})" if longest > MAX_LINE
                   else f"{len(lines) - 1:,} lines (at most {MAX_PASTE_LINES} at once)")
            self.post_message(InputRefused(f"[tutor] paste refused, nothing was run: {why}"))
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
        self.idle_placeholder = PLACEHOLDER   # what the empty prompt invites (presenter mode: "")

    def compose(self) -> ComposeResult:
        log = Log(max_lines=SCROLLBACK, highlight=True, id="console-log")
        log.highlighter = ConsoleHighlighter()
        yield log
        with Horizontal(id="prompt-row"):
            yield Label(PROMPT + " ", id="prompt-label")
            yield PromptInput(history=self.history, placeholder=self.idle_placeholder, id="prompt")

    @property
    def running(self) -> bool:
        """True while a command runs."""
        return self.runner is not None

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
        self.query_one(Log).clear()

    def echo(self, text: str) -> None:
        """Append lines to the scrollback (notes from the tutor, a replayed command)."""
        log = self.query_one(Log)
        if log.lines and log.lines[-1] != "":
            log.write("\n")
        self._write(text.rstrip("\n") + "\n")

    def _write(self, text: str) -> None:
        """The one way text enters the scrollback: terminal controls made visible."""
        self.query_one(Log).write(clean(text, drop_colors=True))

    # -- running -----------------------------------------------------------------------------
    def on_prompt_input_clear_pressed(self, event: PromptInput.ClearPressed) -> None:
        event.stop()
        self.query_one(Log).clear()

    def on_input_refused(self, event: InputRefused) -> None:
        event.stop()
        self.echo(event.sentence)

    def on_line_entered(self, event: LineEntered) -> None:
        event.stop()
        if len(event.line) > MAX_LINE:    # (the prompt stops at MAX_LINE; other senders may not)
            self.echo(TOO_LONG)
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
            self.query_one(Log).clear()
            return
        if note:
            self.echo(note)
            return
        self.run_command(cmdline)

    def run_command(self, cmdline: str) -> None:
        """Start `cmdline` in the lab host (the prompt stays usable for typing ahead)."""
        self.runner = CommandRunner(cmdline)
        self.query_one(PromptInput).runner = self.runner
        self.post_message(CommandStarted(cmdline))
        self.add_class("-running")
        self._run(self.runner)

    @work(thread=True, group="console", exit_on_error=False)
    def _run(self, runner: CommandRunner) -> None:
        from textual.worker import get_current_worker
        worker = get_current_worker()
        outbox = Outbox(SCROLLBACK)   # at most one CommandOutput on its way (tutor.app.outbox)

        def output(text: str) -> None:
            if outbox.put(text):
                self.post_message(CommandOutput(outbox))

        status = runner.run(output, cancelled=lambda: worker.is_cancelled)
        if runner.lab_error:
            output("[tutor] F6 sets up a fresh lab for this lesson\n")
        self.post_message(CommandFinished(runner.cmdline, status, bool(runner.stop_requested)))

    def on_command_output(self, message: CommandOutput) -> None:
        message.stop()
        text = message.outbox.take()   # a flood: only what the scrollback can hold (the outbox's limit)
        if text:
            self._write(text)

    def on_command_finished(self, message: CommandFinished) -> None:
        # not stopped: the app also wants to hear that a command ended
        log = self.query_one(Log)
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
            f"{n} line{'s' * (n != 1)} waiting for the running command (Ctrl+C drops them)" if n
            else self.idle_placeholder)

    def interrupt(self) -> None:
        """Ctrl+C: stop the running command, or clear the prompt when none runs."""
        if self.runner is not None:
            self.runner.stop()
        else:
            self.query_one(PromptInput).clear()
