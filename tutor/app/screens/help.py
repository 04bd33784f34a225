"""The help screen: every key, and how the course works."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# How this works

Read the step on the left, type its commands at the `root@lab:/#` prompt, and watch the
lab's tables and map change. The checks under the step turn ✓ by themselves when the lab
really is in the state the step asks for; then the next step opens. Everything runs in a
lab of namespaces: nothing you type can touch this machine.

| key | what it does |
|---|---|
| Enter | run the command in the lab host |
| Tab | complete a command, a namespace, an interface or a path; Tab again lists the choices |
| ↑ / ↓ | earlier / later commands |
| Ctrl+C | stop the running command (e.g. `ping` without `-c`) |
| Ctrl+L | clear the console |
| F3 | put the step's next command into the prompt (typing it teaches more) |
| Ctrl+T | on a small terminal: all of the step's commands in "Type these", or just the next one |
| F7 / F8 | previous / next step |
| F5 | check the step again now |
| F9 | lab view: next namespace (host, red, …) |
| F10 | lab view: next table (links, addresses, routes, ARP, NAT, map; the map has its own column from 170 columns) |
| F12 | trace the step's failing ping/tcp/fetch check: its packet's way, hop by hop, and where it dies |
| F11 | packets: a live `tcpdump` on an interface of a namespace (Escape or F11 closes it) |
| F4 | the lesson list: jump to any lesson |
| F6 | reset this lesson's lab to its start (asks first) |
| F2 | a real shell in the lab; `exit` comes back here |
| F1 | this help |
| typing | always goes to the prompt, even after a click or F-key put the focus on a pane |
| Ctrl+Q | quit; the lab keeps running (`tutor shell` and `tutor verify` see it), `tutor lab down` stops it |

A diagram wider than the lesson's pane scrolls sideways: drag the bar under it, or Shift and
the mouse wheel. On a small terminal the panes fold: "Type these" shows only the next command
(Ctrl+T shows them all), the map is F10's last tab, and F2 and F11 leave the footer (they still
work).

In the tables, `+` marks a row that appeared since your last command and `-` one that went
away. `tutor verify LESSON` and `tutor shell` in another terminal see the same lab.

Press Escape or F1 to close this help.
"""


class HelpScreen(ModalScreen[None]):
    """Keys and a short explanation."""

    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Markdown(HELP)
