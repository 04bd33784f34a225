"""Messages the app's workers post: small dataclasses named for what happened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from tutor.app.outbox import Outbox
from tutor.lab.capture import PacketCapture
from tutor.lab.watch import LabSnapshot

if TYPE_CHECKING:
    from tutor.checks.engine import LessonResult


@dataclass
class LineEntered(Message):
    """Enter was pressed on the prompt (or a pasted line ended): this line is to run."""
    line: str


@dataclass
class InputRefused(Message):
    """A paste or a line over the console's limits was refused: `sentence` says so."""
    sentence: str


@dataclass
class CommandStarted(Message):
    """The student pressed Enter on a command line; it now runs in the lab host."""
    cmdline: str


@dataclass
class CommandOutput(Message):
    """A running command printed more: `outbox.take()` has the lines its terminal
    (`tutor.app.vterm`) scrolled off for good and the screen's rows as they stand (one message
    on its way at a time: `tutor.app.outbox`)."""
    outbox: Outbox


@dataclass
class CommandFinished(Message):
    """The command ended: its exit status, and whether Ctrl+C stopped it."""
    cmdline: str
    status: int
    stopped: bool


@dataclass
class LabChanged(Message):
    """A fresh reading of the whole lab (netlink events, a namespace added, rules re-read)."""
    snapshot: LabSnapshot

    def can_replace(self, message: Message) -> bool:
        """Only the newest reading matters."""
        return isinstance(message, LabChanged)


@dataclass
class ChecksUpdated(Message):
    """A verification of the current lesson finished (`result`), or failed (`error`)."""
    result: LessonResult | None
    error: str = ""


@dataclass
class LabPrepared(Message):
    """A reset or rebuild of the lab finished; `error` is one sentence if it failed."""
    what: str
    error: str = ""


@dataclass
class LabLessonRead(Message):
    """On resume: the lesson the running lab was last set up for (None: never noted, or a lab
    started since), or `error`, one sentence, when the lab could not be asked."""
    lesson_id: str | None
    error: str = ""


@dataclass
class PacketLines(Message):
    """Whole lines that a capture's tcpdump printed (packets, and its own notes)."""
    capture: PacketCapture
    lines: list[str]


@dataclass
class CaptureEnded(Message):
    """A capture's tcpdump ended: `why` is one sentence, or "" when it was stopped."""
    capture: PacketCapture
    why: str
