"""One namespace's iptables, read from `iptables-save` (the one parser: the checks judge its
rules, the app's rules table lists them).

`parse(text)` splits every `-A` rule into its options (what the judges match on) and keeps each
chain's policy in the order `iptables-save` printed it. `listing(rules, table)` gives back what
`iptables -t TABLE -S` prints for the same state, which is what the app's table shows: chain
headers as `-P CHAIN POLICY` (built-in chains) or `-N CHAIN` (the student's own), then the
rules. iptables-nft has no table until something uses it, so `iptables-save` prints nothing for
it while `iptables -S` still lists the built-in chains with their ACCEPT policies: so does
`listing`.
"""

from __future__ import annotations

import shlex
from collections import namedtuple

from tutor.plain import Plain

# The built-in chains `iptables -t TABLE -S` lists for a table nobody has used yet.
BUILTIN = {"nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
           "filter": ("INPUT", "FORWARD", "OUTPUT")}


class Rule(namedtuple("Rule", "table chain text opts matches words", defaults=((), ()))):
    """One iptables rule, as `iptables-save` prints it, split into its options: `text` is the
    rule without its leading `-A `, `opts` its options (dict), `matches` the options that select
    packets (before -j, comments left out), `words` every word after `-A CHAIN`, in order (what
    the packet-path walk reads)."""
    __slots__ = ()


class Iptables(Plain):
    """What `iptables-save` printed for one namespace: its rules, and its chains' policies,
    (table, chain) -> policy ("-" for a user chain)."""
    __slots__ = ("rules", "policies")

    def __init__(self, rules: list[Rule] | None = None, policies: dict[tuple[str, str], str] | None = None):
        self.rules = [] if rules is None else rules
        self.policies = {} if policies is None else policies

    def tables(self) -> set[str]:
        """The tables `iptables-save` printed."""
        return {t for t, _ in self.policies} | {r.table for r in self.rules}


def parse(text: str) -> Iptables:
    """`iptables-save` -> rules with their options split, and chain policies.

    A rule whose quoting cannot be split is kept with no options: it still shows, and no judge
    reads it as matching anything."""
    found, table = Iptables(), ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith(":"):
            chain, policy = (line[1:].split() + ["-", "-"])[:2]
            found.policies[(table, chain)] = policy
        elif line.startswith("-A "):
            try:
                words = shlex.split(line)
            except ValueError:
                found.rules.append(Rule(table, line[3:].split(" ", 1)[0], line[3:], {}))
                continue
            opts: dict[str, str] = {}
            matches: list[str] = []
            neg = target = False
            for i, w in enumerate(words[2:], start=2):
                if w == "!":
                    neg = True
                    continue
                if w.startswith("-"):
                    value = words[i + 1] if i + 1 < len(words) and not words[i + 1].startswith("-") else ""
                    key = ("!" if neg else "") + w
                    opts.setdefault(key, value)
                    target = target or w in ("-j", "-g")
                    if not target and key not in ("-m", "--comment"):
                        matches.append(key)
                    neg = False
            found.rules.append(Rule(table, words[1], line[3:], opts, tuple(matches), tuple(words[2:])))
    return found


def listing(rules: Iptables, table: str) -> list[str]:
    """The lines `iptables -t TABLE -S` prints for this state."""
    chains = [(c, p) for (t, c), p in rules.policies.items() if t == table]
    if table not in rules.tables():
        chains = [(c, "ACCEPT") for c in BUILTIN.get(table, ())]
    heads = [f"-N {c}" if p == "-" else f"-P {c} {p}" for c, p in chains]
    return heads + [f"-A {r.text}" for r in rules.rules if r.table == table]
