"""Recorded lab snapshots: what the app's watcher saw of a real lab, and what `engine.verify`
said of it, kept as JSON so the widgets can be tested anywhere, without a lab.

`tests/app/fixtures/capture.py` records them (as root, from a real lab); the snapshot tests
(`tests/app/test_snapshots.py`) load them with `load(name)`. One file,
`tests/app/fixtures/recorded/NAME.json`, holds one moment of one lesson:

    {"format": 1,
     "what": "lesson2 finished",                  # a sentence for whoever reads the file
     "snapshot": {                                # a tutor.lab.watch.LabSnapshot
        "error": "", "generation": 2, "down": false, "note": "",
        "state": {                                # its tutor.lab.state.LabState
          "namespaces": ["container10", ...],     # the student's namespaces, as the lab lists them
          "sysctls": [["host", "net.ipv4.ip_forward", "0"], ...],   # (ns, key, value)
          "ns": {"host": {                        # a NsState per namespace read, by name
             "links": [{Link's fields; addrs as [address, prefix] pairs}, ...],   # ifindex order
             "routes": [{Route's fields}, ...], "neighs": [{Neigh's fields}, ...],
             "nsids": [[id, name], ...], "error": "",
             "iptables": ["*nat", ":PREROUTING ACCEPT", "-A POSTROUTING ...", ...] or null}}}},
     "result": {                                  # engine.verify's tutor.checks.engine.LessonResult
        "lesson_id": ..., "title": ..., "passed": ...,
        "steps": [{"number", "title", "passed", "hint", "checks": [{"name", "passed", "found", "hint"}]}]}}

The iptables are kept as the `iptables-save` lines they were parsed from (rebuilt from the parsed
rules and policies, which hold every line the parser keeps) and parsed again on loading by the
one parser, `tutor.lab.iptables.parse`; the capture tool checks that `load(dump(x)) == x`.
The fields the watcher does not fill (`resolv`, `prelude`, `for_hints`) are not kept.
"""

from __future__ import annotations

import json
from pathlib import Path

from tutor.checks.engine import CheckResult, LessonResult, StepResult
from tutor.lab import iptables
from tutor.lab.state import LabState, Link, Neigh, NsState, Route
from tutor.lab.watch import LabSnapshot

FORMAT = 1
RECORDED = Path(__file__).resolve().parent / "fixtures" / "recorded"


# -- to JSON (the capture tool) -----------------------------------------------------------------
def _save_lines(tables: iptables.Iptables) -> list[str]:
    """The `iptables-save` lines that parse back to `tables`: per table, its chains, its rules."""
    names = list(dict.fromkeys([t for t, _ in tables.policies] + [r.table for r in tables.rules]))
    lines: list[str] = []
    for table in names:
        lines.append(f"*{table}")
        lines += [f":{chain} {policy}" for (t, chain), policy in tables.policies.items() if t == table]
        lines += [f"-A {r.text}" for r in tables.rules if r.table == table]
        lines.append("COMMIT")
    return lines


def _ns_json(ns: NsState) -> dict:
    return {"links": [{field: getattr(l, field) for field in l.__slots__} for l in ns.links.values()],
            "routes": [r._asdict() for r in ns.routes],
            "neighs": [n._asdict() for n in ns.neighs],
            "nsids": [[i, name] for i, name in ns.nsids.items()],
            "iptables": None if ns.iptables is None else _save_lines(ns.iptables),
            "error": ns.error}


def snapshot_json(snap: LabSnapshot) -> dict:
    """A LabSnapshot as the JSON form above."""
    state = snap.state
    return {"error": snap.error, "generation": snap.generation, "down": snap.down, "note": snap.note,
            "state": {"namespaces": list(state.namespaces),
                      "sysctls": [[ns, key, value] for (ns, key), value in state.sysctls.items()],
                      "ns": {name: _ns_json(ns) for name, ns in state.ns.items()}}}


def _result_json(result: LessonResult) -> dict:
    return {**result._asdict(), "steps": [{**s._asdict(), "checks": [c._asdict() for c in s.checks]}
                                          for s in result.steps]}


def dump(what: str, snap: LabSnapshot, result: LessonResult | None) -> str:
    """One recording's file text."""
    data = {"format": FORMAT, "what": what, "snapshot": snapshot_json(snap),
            "result": None if result is None else _result_json(result)}
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


# -- from JSON (the tests) ----------------------------------------------------------------------
def _link(d: dict) -> Link:
    return Link(**{**d, "addrs": [(a, p) for a, p in d["addrs"]]})


def _ns(name: str, d: dict) -> NsState:
    return NsState(name,
                   links={l.name: l for l in map(_link, d["links"])},
                   routes=[Route(**r) for r in d["routes"]],
                   neighs=[Neigh(**n) for n in d["neighs"]],
                   nsids={int(i): n for i, n in d["nsids"]},
                   iptables=None if d["iptables"] is None else iptables.parse("\n".join(d["iptables"])),
                   error=d["error"])


def snapshot_from(d: dict) -> LabSnapshot:
    """The LabSnapshot of the JSON form above."""
    s = d["state"]
    state = LabState(list(s["namespaces"]), {name: _ns(name, ns) for name, ns in s["ns"].items()},
                     sysctls={(ns, key): value for ns, key, value in s["sysctls"]})
    return LabSnapshot(state, d["error"], d["generation"], d["down"], d["note"])


def result_from(d: dict) -> LessonResult:
    """The LessonResult of the JSON form above."""
    steps = [StepResult(s["number"], s["title"], s["passed"], [CheckResult(**c) for c in s["checks"]], s["hint"])
             for s in d["steps"]]
    return LessonResult(d["lesson_id"], d["title"], d["passed"], steps)


class Recording:
    """One recorded moment: the watcher's snapshot and, if recorded, engine.verify's result."""

    def __init__(self, name: str, what: str, snapshot: LabSnapshot, result: LessonResult | None):
        self.name, self.what, self.snapshot, self.result = name, what, snapshot, result


def parse(name: str, text: str) -> Recording:
    """A recording from its file text (`name` for the error message)."""
    data = json.loads(text)
    if data.get("format") != FORMAT:
        raise ValueError(f"{name}: format {data.get('format')!r}, expected {FORMAT}")
    result = None if data["result"] is None else result_from(data["result"])
    return Recording(name, data["what"], snapshot_from(data["snapshot"]), result)


def load(name: str) -> Recording:
    """`tests/app/fixtures/recorded/NAME.json`."""
    return parse(name, (RECORDED / f"{name}.json").read_text())
