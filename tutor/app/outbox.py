"""Output on its way from a command's thread to the UI thread, at most one message at a time.

The runner hands over a chunk every FLUSH seconds. On a busy machine the UI thread can take
longer than that to show one (a flood's chunk is thousands of lines): posted one message per
chunk, they queue up without bound, and Ctrl+C on `yes` is seen only once the whole backlog has
been shown — a minute and more. So the thread posts a message only when none is on its way;
what comes meanwhile joins the text waiting, and the UI takes all of it at once. The text
waiting keeps at most the last `limit` lines (the scrollback could show no more).
"""

from __future__ import annotations

import threading

SKIPPED = "[tutor] … earlier lines skipped\n"


class Outbox:
    """Text for the UI thread; `put` says when a message must be posted, `take` empties it."""

    def __init__(self, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self._text = ""
        self._posted = False

    def put(self, text: str) -> bool:
        """Add `text`; True when no message is on its way (the caller posts one now)."""
        with self._lock:
            joined = self._text + text
            lines = joined.split("\n")
            if len(lines) > self.limit:
                joined = SKIPPED + "\n".join(lines[-self.limit:])
            self._text = joined
            post, self._posted = not self._posted, True
            return post

    def take(self) -> str:
        """Everything waiting (the UI thread, on the message); the next `put` posts again."""
        with self._lock:
            text, self._text, self._posted = self._text, "", False
            return text
