"""A live packet capture for the app's Packets view: `tcpdump -l -n -i IFACE` in one namespace.

The process is a `CommandRunner` (`runner.py`) in that namespace, so it is started by the one
door (`client.popen`), registered with the keeper while it runs, and ended the way Ctrl+C ends
a console command: by its process group's ids (SIGINT, then SIGKILL), `nsenter` last, reaped.
What tcpdump prints comes back as whole lines (`-l`: one line per packet, as it is seen).

Which namespace and interface may be captured on is judged against the watcher's `LabState`
(`choose`), and a capture that ended by itself is told in one sentence (`PacketCapture.run`),
quoting tcpdump's own error line. Lines and names are the lab's, not ours: whoever shows them
passes them through `tutor.sanitize`.

Never imports Textual: `PacketCapture.run()` takes plain callbacks.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

from tutor.i18n import _
from tutor.lab import HOST
from tutor.lab.runner import CommandRunner
from tutor.lab.state import LabState
from tutor.sanitize import cell

# what tcpdump says besides packets: its header on stderr, its counts when it stops
_NOTE = re.compile(r"^(?:listening on |tcpdump: verbose output suppressed|\d+ packets? "
                   r"(?:captured|received by filter|dropped by kernel)|\[tutor\] )")
NOT_FOUND = 127   # bash's status for a command it cannot find


def is_note(line: str) -> bool:
    """True for a line that is not a packet: tcpdump's header and counts, the runner's notes."""
    return bool(_NOTE.match(line))


def interfaces(state: LabState, ns: str) -> list[str]:
    """The interfaces of namespace `ns` as last read, in ifindex order (empty: not read)."""
    found = state.ns.get(ns)
    return list(found.links) if found else []


def first_interface(state: LabState, ns: str) -> str | None:
    """Where a capture in `ns` starts by default: its first interface that is not `lo`."""
    return next((name for name in interfaces(state, ns) if name != "lo"), None)


def _named(typed: str, names: list[str]) -> str | None:
    """The name the student meant: exactly `typed`, or the one shown as `typed` (a name with
    controls in it is shown, and so typed, in its sanitized form)."""
    if typed in names:
        return typed
    return next((name for name in names if cell(name) == typed), None)


def choose(state: LabState, typed: str) -> tuple[str, str] | str:
    """`NAMESPACE INTERFACE` (or just `NAMESPACE`: its first interface) typed by the student:
    the (namespace, interface) to capture on, or one sentence saying why not."""
    words = typed.split()
    if len(words) not in (1, 2):
        return _("type a namespace and one of its interfaces, e.g. {example}").format(example="`host eth0`")
    namespaces = [HOST, *state.namespaces]
    ns = _named(words[0], namespaces)
    if ns is None:
        return _("there is no namespace {ns} in the lab: it has {namespaces}").format(
            ns=words[0], namespaces=", ".join(map(cell, namespaces)))
    names = interfaces(state, ns)
    if len(words) == 1:
        first = first_interface(state, ns)
        if first is None:
            return _("{ns} has no interface to capture on but lo: type {typed} for that one").format(
                ns=cell(ns), typed=f"`{cell(ns)} lo`")
        return ns, first
    iface = _named(words[1], names)
    if iface is None and ns not in state.ns:   # a namespace the watcher does not follow: let tcpdump judge
        return ns, words[1]
    if iface is None:
        return _("there is no interface {iface} in {ns}: it has {names}").format(
            iface=words[1], ns=cell(ns), names=", ".join(map(cell, names)))
    return ns, iface


class PacketCapture:
    """tcpdump on interface `iface` of namespace `ns` (HOST: the lab host) until `stop()`.
    `run()` blocks (thread), `stop()` is thread-safe."""

    def __init__(self, ns: str, iface: str):
        self.ns, self.iface = ns, iface
        self.runner = CommandRunner(shlex.join(["tcpdump", "-l", "-n", "-i", iface]),
                                    netns=None if ns == HOST else ns)

    @property
    def pid(self) -> int | None:
        """The process the capture runs in (`nsenter`, leader of its process group), once started."""
        return self.runner.proc.pid if self.runner.proc else None

    def stop(self) -> None:
        """End the capture: tcpdump is interrupted, then killed if it lingers; `run()` returns."""
        self.runner.stop()

    def run(self, lines: Callable[[list[str]], object], cancelled: Callable[[], bool] = lambda: False) -> str:
        """Capture until stopped (or `cancelled()`), calling `lines(whole_lines)` as they come.
        Returns "" when it was stopped, else one sentence saying why tcpdump ended."""
        rest = ""
        said = ""    # tcpdump's own first error line
        last = ""    # the last complaint before tcpdump listened (bash's, ip's); then come packets
        listening = False

        def chunk(text: str) -> None:
            nonlocal rest, said, last, listening
            *whole, rest = (rest + text).split("\n")
            for line in whole:
                if line.startswith("tcpdump: ") and not is_note(line):
                    said = said or line
                elif line.startswith("listening on "):
                    listening = True
                elif line.strip() and not listening and not is_note(line):
                    last = line
            if whole:
                lines(whole)

        status = self.runner.run(chunk, cancelled)
        if rest:
            chunk("\n")
        if self.runner.lab_error:
            return _("the lab did not start tcpdump: {why}").format(why=self.runner.lab_error)
        if self.runner.stop_requested:
            return ""
        if status == NOT_FOUND and "tcpdump" in last and "not found" in last:
            return _("tcpdump is not installed on this machine (`tutor doctor` names its package)")
        if status == 0:
            return _("tcpdump ended")
        ended = (_("tcpdump was killed (signal {signal})").format(signal=-status) if status < 0
                 else _("tcpdump exited with status {status}").format(status=status))
        return _("the capture failed: {why}").format(why=said or last or ended)
