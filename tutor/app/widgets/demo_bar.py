"""Presenter mode's status line: where the demo is, what it does now, how fast it types."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tutor.sanitize import cell, clean


class DemoBar(Static):
    """One line across the top; the most important part first (a narrow terminal cuts the end)."""

    def show_play(self, play, lesson, step) -> None:
        """Where `play` (the presenter: its public fields) stands in `lesson`, at `step`."""
        total = len(step.commands)
        done = play.ran.get(step.number, 0)
        if play.setup_error:
            state = "the lab could not be set up (see the console)"
        elif not play.ready:
            state = "setting up the lab…"
        elif play.finished:
            state = {None: "checking the lesson…", True: "lesson complete ✓",
                     False: "lesson not complete ✗"}[play.final_passed]
        elif play.typing is not None:
            state = "typing…"
        elif play.busy:
            state = "running…"
        elif play.auto:
            state = "playing"
        elif done < total:
            state = "space: next command"
        else:
            state = "space: next step"
        mode = f"auto, {play.delay:g} s apart" if play.auto else "presenter"
        if play.loop:
            mode += f", round {play.rounds}"
        self.show(lesson_id=lesson.id, step=step.number, steps=len(lesson.steps), ran=done,
                  commands=total, state=state, paused=play.paused, speed=play.speed, mode=mode)

    def show(self, *, lesson_id: str, step: int, steps: int, ran: int, commands: int,
             state: str, paused: bool, speed: float, mode: str) -> None:
        """Lesson and step, `ran` of `commands` entered, the demo's `state`, typing speed, mode."""
        if paused:
            state = "⏸ PAUSED · " + state
        self.update(f"▶ DEMO  {lesson_id} · step {step}/{steps} · command {min(ran, commands)}/{commands}"
                    f"  │  {state}  │  typing {speed:g} chars/s  │  {mode}")


def ending_text(title: str, result, error: str, after: str) -> Text:
    """What a played lesson came to: complete, or which steps still fail; then `after`."""
    text = Text()
    if result is not None and result.passed:
        text.append("Lesson complete! ", style="bold green")
        text.append(f"{cell(title)}: every check of every step passes.")
    else:
        text.append("The lesson did not finish: ", style="bold red")
        failing = [str(s.number) for s in result.steps if not s.passed] if result else []
        text.append(clean(error) if error else f"steps {', '.join(failing)} still fail.")
    text.append(f"\n\n{after}", style="italic")
    return text
