"""Where a typed command's change shows in the lab view (presenter mode follows it there).

A pure function of the command line: no Textual, no lab.
"""

from __future__ import annotations

import shlex

from tutor.lab.state import HOST
from tutor.lab.world import NODE_NAMES

_IP_OBJECTS = {"link": "links", "l": "links", "addr": "addresses", "a": "addresses",
               "address": "addresses", "route": "routes", "r": "routes", "ro": "routes",
               "neigh": "neighbours", "neighbour": "neighbours", "n": "neighbours"}


def lab_focus(cmdline: str) -> tuple[str | None, str | None]:
    """Where a command's change shows: (namespace, table) of the lab view; None = leave as is.

    The namespace is HOST ("host") for the lab host; the table is one of `tables.TABLES` or "map".
    `ip netns exec red ip a add …` → ("red", "addresses"); `iptables …` → (HOST, "rules").
    """
    try:
        words = shlex.split(cmdline, comments=True)
    except ValueError:
        words = cmdline.split()
    if not words or words[0] in NODE_NAMES:     # the world: not in the lab view
        return None, None
    ns = HOST
    if words[:3] == ["ip", "netns", "exec"] and len(words) > 3:
        ns, words = words[3], words[4:]
    if not words:
        return None, None
    program = words[0]
    if program == "ip":
        args = words[1:]
        objects = []
        i = 0
        while i < len(args):
            if args[i] == "-n" and i + 1 < len(args):
                ns, i = args[i + 1], i + 2
                continue
            if not args[i].startswith("-"):
                objects.append(args[i])
            i += 1
        if objects[:2] == ["netns", "add"]:
            return None, "map"
        if objects and objects[0] in ("link", "l") and "netns" in objects:
            at = objects.index("netns")
            if at + 1 < len(objects):
                return objects[at + 1], "links"
        return ns, _IP_OBJECTS.get(objects[0]) if objects else None
    if program in ("iptables", "iptables-save"):
        return ns, "rules"
    if program == "sysctl":
        return ns, "routes"     # the routes pane shows ip_forward
    if program == "bridge":
        return ns, "links"
    if program in ("ping", "arping"):
        return ns, "neighbours"
    return None, None
