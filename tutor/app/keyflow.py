"""Backpressure on keystrokes: a paste that arrives as keystrokes cannot fill the app's memory.

Textual's input thread reads the terminal as fast as it can and hands every key to the event
loop at once, while the app handles some thousands of keys a second. A megabyte pasted into a
terminal without bracketed paste (or `tmux paste-buffer` without -p) so became a million Key
events waiting at the same time, about a kilobyte each: RSS past 1 GB and climbing.

`bounded(driver_class)` lets at most KEYS_IN_FLIGHT Key events exist at once: the input thread
waits until the app is done with older ones (a key gives its slot back when it is freed), and
the rest of a paste waits in the terminal's buffer, which the kernel bounds. It never waits
longer than WAIT for one slot, so a key that something keeps cannot freeze the keyboard.
"""

from __future__ import annotations

import threading
import weakref

from textual import events
from textual.driver import Driver

KEYS_IN_FLIGHT = 512   # a human never has this many keys queued; a paste waits past it
WAIT = 1.0             # seconds the input thread waits for one slot at most


def bounded(driver_class: type[Driver]) -> type[Driver]:
    """`driver_class` with at most KEYS_IN_FLIGHT Key events alive at once."""

    class BoundedDriver(driver_class):  # type: ignore[valid-type, misc]
        """The platform's driver, holding its input thread back while keys pile up."""

        def process_message(self, message) -> None:
            if isinstance(message, events.Key):
                slots = self.__dict__.setdefault("_key_slots", threading.BoundedSemaphore(KEYS_IN_FLIGHT))
                if slots.acquire(timeout=WAIT):
                    weakref.finalize(message, slots.release)
            super().process_message(message)

    BoundedDriver.__name__ = BoundedDriver.__qualname__ = f"Bounded{driver_class.__name__}"
    return BoundedDriver
