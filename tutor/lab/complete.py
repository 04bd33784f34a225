"""Tab completion for the console's prompt: a pure function of the line and the names handed in.

What the word under the cursor completes from depends on where it stands:

- the first word of a line, and the word after `ip netns exec NS` or a world machine's name
  (`lan …`): a command the lab host has (`lab_commands`);
- after `ip` (past its options): an object (`link`, `netns` …); after `ip netns`, `ip link`,
  `ip addr`, `ip route`, `ip neigh`: their subcommands;
- after `ip netns exec|del|pids|set`, `ip -n`, `ip -netns` and `… netns` (`ip link set X netns`): a
  namespace of the lab;
- after `dev`, `master`, `-i`, `-o` and `ip link set|del|show`: an interface of the namespace the
  line is about (`ip -n NS`, `ip netns exec NS`; else the lab host);
- a word with a `/`: a path.

Words are read as bash reads them: quotes and backslashes (`cat "/etc/ho` + Tab gives
`cat "/etc/hosts" `), and a new command after `;`, `&&`, `||`, `|`, `&`, `(` or `` ` ``
(`ip netns add red && ip netns exec r` + Tab). On a world machine's line (`lan ip link set dev`)
the interfaces are that machine's own (`tutor.lab.world`), not the lab host's.

Namespaces and interfaces come from the app watcher's last `LabState`, paths from a `listdir`
callback (the app lists the machine's own files: the lab host sees them read-only, and only
its /run, /tmp and /root are its own). No Textual; no I/O but `lab_commands` and the callback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tutor.lab import HOST, world
from tutor.lab.client import LAB_PATH
from tutor.lab.state import LabState

# `ip`'s objects a course uses (not `netconf`: `ip net` + Tab is to give `netns`)
IP_OBJECTS = ("address", "link", "monitor", "neighbour", "netns", "route", "rule", "tuntap")
SUBCOMMANDS = {
    "netns": ("add", "attach", "delete", "exec", "identify", "list", "list-id", "monitor", "pids", "set"),
    "link": ("add", "delete", "set", "show"),
    "address": ("add", "delete", "flush", "show"),
    "route": ("add", "append", "change", "delete", "flush", "get", "replace", "show"),
    "neighbour": ("add", "delete", "flush", "show"),
}
ALIASES = {"addr": "address", "a": "address", "l": "link", "r": "route", "ro": "route",
           "neigh": "neighbour", "n": "neighbour"}
NETNS_TAKES_NAME = ("delete", "del", "exec", "pids", "set")   # ip netns SUB NAME
LINK_TAKES_DEV = ("set", "delete", "del", "show")             # ip link SUB DEV
IP_OPTIONS_WITH_ARG = ("-n", "-netns", "-f", "-family", "-b", "-batch", "-rc", "-rcvbuf", "-l", "-loops")
NAMESPACE_BEFORE = ("-n", "-netns")
WORLD = "world:"   # before a world machine's name where a namespace is meant (no namespace has a colon)
INTERFACE_BEFORE = ("dev", "master", "-i", "-o", "--in-interface", "--out-interface", "--interface")
# what bash answers itself (the console's own words among them)
BUILTINS = ("cd", "clear", "echo", "exit", "export", "printf", "set", "type")
MAX_LISTED = 2000   # entries of one folder looked at for a path
COMMAND_BREAKS = ";&|()`"   # after one of these a new command begins
SPECIAL = set(" \t\n'\"\\$`;&|()<>*?[]{}!#~")   # characters bash reads as more than themselves


@dataclass(frozen=True)
class Completion:
    """The prompt after a Tab: its line, where the cursor goes, and every candidate found (more
    than one: the word could not be finished, and the student may want to see them)."""
    line: str
    cursor: int
    choices: tuple[str, ...] = ()


def lab_commands(path: str = LAB_PATH) -> list[str]:
    """The commands a line in the lab host can start: the executables on the lab's PATH, the
    world's machines (`lan`, `internet`), tcpdump and bash's own words."""
    names = {*world.NODE_NAMES, "tcpdump", *BUILTINS}
    # the lab's /run is not this machine's: its helpers are the world's machines and tcpdump
    for folder in (d for d in path.split(":") if d and not d.startswith("/run/")):
        try:
            with os.scandir(folder) as entries:
                names.update(e.name for e in entries if os.access(e.path, os.X_OK) and not e.is_dir())
        except OSError:
            continue
    return sorted(names)


def list_folder(folder: str) -> list[str]:
    """The names in `folder` (relative to /, where every console command starts), folders
    ending in `/`; empty when it cannot be read. A `listdir` for `complete`."""
    names: list[str] = []
    try:
        with os.scandir(os.path.join("/", folder)) as entries:
            for entry in entries:
                if len(names) >= MAX_LISTED:
                    break
                try:
                    names.append(entry.name + "/" if entry.is_dir() else entry.name)
                except OSError:
                    names.append(entry.name)
    except OSError:
        return []
    return names


def complete(line: str, cursor: int, state: LabState, commands: Iterable[str],
             listdir: Callable[[str], list[str]] = list_folder) -> Completion:
    """Complete the word that ends at `cursor` in `line`: one candidate is put in whole (with a
    space after it, unless it is a folder), several as far as they agree. The word keeps the
    quote it was opened with (closed after a whole candidate); outside quotes, what bash would
    read otherwise is escaped with a backslash."""
    before = line[:cursor]
    words, start, word, quote = split_words(before)
    choices = sorted(set(_candidates(words, word, state, commands, listdir)))
    if not choices:
        return Completion(line, cursor)
    common = os.path.commonprefix(choices)
    whole = len(choices) == 1 and not common.endswith("/")
    typed = quote + common + quote if quote and whole else quote + common if quote else _escaped(common)
    after = line[cursor:]
    if whole:
        if after.startswith(" "):
            return Completion(before[:start] + typed + after, start + len(typed) + 1, tuple(choices))
        typed += " "
    return Completion(before[:start] + typed + after, start + len(typed), tuple(choices))


def split_words(text: str) -> tuple[list[str], int, str, str]:
    """Read `text` as bash would, up to its end: (the finished words of the command the end is
    in, where the last word starts in `text`, that word without its quotes and backslashes, the
    quote still open at the end or "")."""
    words: list[str] = []
    word, start, quote, in_word = "", len(text), "", False
    i = 0
    while i < len(text):
        c = text[i]
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                word += c
        elif quote == '"':
            if c == '"':
                quote = ""
            elif c == "\\" and text[i + 1:i + 2] in ('"', "\\", "$", "`"):
                i += 1
                word += text[i]
            else:
                word += c
        elif c in " \t" or c in COMMAND_BREAKS:
            if in_word:
                words.append(word)
                word, in_word = "", False
            if c in COMMAND_BREAKS:
                words = []      # what follows is a command of its own
        else:
            if not in_word:
                start, in_word = i, True
            if c in "'\"":
                quote = c
            elif c == "\\" and i + 1 < len(text):
                i += 1
                word += text[i]
            else:
                word += c
        i += 1
    if not in_word:
        start = len(text)
    return words, start, word, quote


def _escaped(word: str) -> str:
    """`word` as bash reads it back outside quotes."""
    return "".join("\\" + c if c in SPECIAL else c for c in word)


def _candidates(words: list[str], word: str, state: LabState, commands: Iterable[str],
                listdir: Callable[[str], list[str]]) -> list[str]:
    """Every name the word `word`, after the words `words`, could become."""
    if "/" in word:
        return _paths(word, listdir)
    ns: str | None = HOST
    while words:   # a prefix that runs the rest elsewhere: the rest is a line of its own
        if words[:3] == ["ip", "netns", "exec"] and len(words) >= 4:
            ns, words = words[3], words[4:]
        elif words[0] in world.NODE_NAMES:
            ns, words = WORLD + words[0], words[1:]   # a world machine: its interfaces are its own
        else:
            break
    if not words:
        return _starting(commands, word)
    names = _names_for(words, state, ns)
    return _starting(names, word)


def _names_for(words: list[str], state: LabState, ns: str | None) -> list[str]:
    """What the next word after `words` (a line that does not start with a prefix) may be."""
    previous = words[-1]
    args, ip_ns = _ip_args(words) if words[0] == "ip" else ([], None)
    ns = ip_ns or ns
    if previous in NAMESPACE_BEFORE or (previous == "netns" and len(args) > 1):
        return list(state.namespaces)
    if previous in INTERFACE_BEFORE:
        return _interfaces(state, ns)
    if words[0] != "ip":
        return []
    if not args:
        return list(IP_OBJECTS)
    obj = ALIASES.get(args[0], args[0])
    if len(args) == 1:
        return list(SUBCOMMANDS.get(obj, ()))
    if len(args) == 2 and obj == "netns" and args[1] in NETNS_TAKES_NAME:
        return list(state.namespaces)
    if len(args) == 2 and obj == "link" and args[1] in LINK_TAKES_DEV:
        return _interfaces(state, ns)
    return []


def _ip_args(words: list[str]) -> tuple[list[str], str | None]:
    """`ip`'s positional words (object, subcommand …) and the namespace its `-n` names."""
    args: list[str] = []
    ns = None
    i = 1
    while i < len(words):
        w = words[i]
        if not args and w.startswith("-"):
            if w in IP_OPTIONS_WITH_ARG:
                if w in NAMESPACE_BEFORE and i + 1 < len(words):
                    ns = words[i + 1]
                i += 1
        else:
            args.append(w)
        i += 1
    return args, ns


def _interfaces(state: LabState, ns: str | None) -> list[str]:
    if ns and ns.startswith(WORLD):
        node = next(n for n in world.NODES if n.name == ns[len(WORLD):])
        return ["lo", node.dev]
    found = state.ns.get(ns) if ns else None
    return list(found.links) if found else []


def _paths(word: str, listdir: Callable[[str], list[str]]) -> list[str]:
    folder, _, base = word.rpartition("/")
    names = listdir(folder + "/")
    return [folder + "/" + n for n in names if n.startswith(base) and (base.startswith(".") or not n.startswith("."))]


def _starting(names: Iterable[str], word: str) -> list[str]:
    return [n for n in names if n.startswith(word)]
