"""Helpers for driving the course app with Textual's Pilot."""

from __future__ import annotations

import asyncio
import time

from textual.widgets import Log


async def wait_for(pilot, predicate, timeout: float = 10.0, what: str = "condition") -> None:
    """Let the app run until `predicate()` is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(0.05)


async def type_command(pilot, command: str, wait: bool = True, timeout: float = 20.0,
                       keys: bool = True, fast: bool = False) -> None:
    """Type `command` into the prompt, press Enter, and (by default) wait until it ends.

    `fast=True` sends its keys all at once, as a fast typist's terminal does (`type_fast`);
    `keys=False` puts the line in at once (as F3 does), for tests about something else.
    """
    app = pilot.app
    if keys and fast:
        type_fast(app, command)
    elif keys:
        await pilot.press(*command)
    else:
        app.query_one("#console").insert(command)
    await pilot.press("enter")
    if wait:
        console = app.query_one("#console")
        await pilot.pause(0.05)
        await wait_for(pilot, lambda: not console.running, timeout, f"`{command}` to finish")


def type_fast(app, text: str) -> None:
    """Send every key of `text` at once, as a fast typist's terminal does: none waits for the
    app to handle the one before (Pilot's `press` does). `\t` is Tab, `\n` Enter."""
    from textual import events
    from textual.keys import _character_to_key

    named = {"\t": ("tab", "\t"), "\n": ("enter", "\r")}
    for ch in text:
        key, char = named.get(ch, (ch if ch.isalnum() else _character_to_key(ch), ch))
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)


def running_lab():
    """The lab the app works on ($TUTOR_LAB's), which must be running."""
    from tutor.lab import control
    info = control.status()
    assert info is not None, f"the lab {control.lab_name()!r} is not running"
    return info


def console_text(app) -> str:
    """Everything in the console's scrollback."""
    return "\n".join(app.query_one("#console-log", Log).lines)


def run(coro) -> None:
    """Run one async test body (no pytest-asyncio needed)."""
    asyncio.run(coro)
