"""Output on its way from a command's thread to the UI thread, at most one message at a time.

The command's thread feeds what the command prints to its terminal emulator and hands over, per
chunk, the lines that scrolled off for good and the screen as it stands. On a busy machine the
UI thread can take longer to show one chunk than the next takes to come (a flood's chunk is
thousands of lines): posted one message per chunk, they queue up without bound, and Ctrl+C on
`yes` is seen only once the whole backlog has been shown — a minute and more. So the thread
posts a message only when none is on its way; what comes meanwhile joins what is waiting (the
final lines add up, keeping at most the last `limit`; the screen is the latest), and the UI
takes all of it at once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence


class Outbox:
    """Lines and a screen for the UI thread; `put` says when to post a message, `take` empties it."""

    def __init__(self, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self._lines: list = []
        self._skipped = 0
        self._screen: list = []
        self._posted = False

    def put(self, lines: Sequence, screen: Sequence) -> bool:
        """Add `lines` (final) and the latest `screen`; True when no message is on its way (the
        caller posts one now)."""
        with self._lock:
            self._lines.extend(lines)
            if len(self._lines) > self.limit:
                self._skipped += len(self._lines) - self.limit
                del self._lines[:-self.limit]
            self._screen = list(screen)
            post, self._posted = not self._posted, True
            return post

    def take(self) -> tuple[list, int, list]:
        """(final lines, how many earlier ones were dropped, the screen): everything waiting
        (the UI thread, on the message); the next `put` posts again."""
        with self._lock:
            taken = (self._lines, self._skipped, self._screen)
            self._lines, self._skipped, self._screen, self._posted = [], 0, [], False
            return taken
