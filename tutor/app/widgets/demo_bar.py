"""Presenter mode's status line: where the demo is, what it does now, how fast it types."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tutor.i18n import _
from tutor.sanitize import cell, clean


class DemoBar(Static):
    """One line across the top; the most important part first (a narrow terminal cuts the end)."""

    def show_play(self, play, lesson, step) -> None:
        """Where `play` (the presenter: its public fields) stands in `lesson`, at `step`."""
        total = len(step.commands)
        done = play.ran.get(step.number, 0)
        if play.setup_error:
            state = _("the lab could not be set up (see the console)")
        elif not play.ready:
            state = _("setting up the lab…")
        elif play.finished:
            state = {None: _("checking the lesson…"), True: _("lesson complete ✓"),
                     False: _("lesson not complete ✗")}[play.final_passed]
        elif play.typing is not None:
            state = _("typing…")
        elif play.busy:
            state = _("running…")
        elif play.auto:
            state = _("playing")
        elif done < total:
            state = _("space: next command")
        else:
            state = _("space: next step")
        mode = _("auto, {seconds} s apart").format(seconds=f"{play.delay:g}") if play.auto else _("presenter")
        if play.loop:
            mode = _("{mode}, round {round}").format(mode=mode, round=play.rounds)
        self.show(lesson_id=lesson.id, step=step.number, steps=len(lesson.steps), ran=done,
                  commands=total, state=state, paused=play.paused, speed=play.speed, mode=mode)

    def show(self, *, lesson_id: str, step: int, steps: int, ran: int, commands: int,
             state: str, paused: bool, speed: float, mode: str) -> None:
        """Lesson and step, `ran` of `commands` entered, the demo's `state`, typing speed, mode."""
        if paused:
            state = _("⏸ PAUSED · {state}").format(state=state)
        self.update(_("▶ DEMO  {lesson} · step {step}/{steps} · command {ran}/{commands}  │  {state}  │  "
                      "typing {speed} chars/s  │  {mode}").format(
            lesson=lesson_id, step=step, steps=steps, ran=min(ran, commands), commands=commands, state=state,
            speed=f"{speed:g}", mode=mode))


def ending_text(title: str, result, error: str, after: str) -> Text:
    """What a played lesson came to: complete, or which steps still fail; then `after`."""
    text = Text()
    if result is not None and result.passed:
        text.append(_("Lesson complete!") + " ", style="bold green")
        text.append(_("{title}: every check of every step passes.").format(title=cell(title)))
    else:
        text.append(_("The lesson did not finish:") + " ", style="bold red")
        failing = [str(s.number) for s in result.steps if not s.passed] if result else []
        text.append(clean(error) if error else _("steps {steps} still fail.").format(steps=", ".join(failing)))
    text.append(f"\n\n{after}", style="italic")
    return text
