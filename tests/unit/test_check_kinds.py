"""The registry of check kinds (tutor/checks/kinds/): every module there is a whole kind, the
docs' table is generated from it, and nothing outside it switches on a kind's name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tutor.checks import kinds, observe
from tutor.checks.kinds.__main__ import BEGIN, END, update
from tutor.checks.kinds._kind import IP_FORWARD, ProbeKind, StateKind
from tutor.checks.lang import parse_check
from tutor.lab.state import HOST

ROOT = Path(__file__).resolve().parents[2]


def test_docs_table_of_check_kinds_is_generated_from_the_registry():
    text = (ROOT / "docs" / "lesson-format.md").read_text()
    assert BEGIN in text and END in text
    assert update(text) == text, "run: python -m tutor.checks.kinds --update docs/lesson-format.md"


def test_the_table_has_a_row_per_kind_in_layer_order():
    rows = [line for line in kinds.markdown().splitlines() if line.startswith("| `")]
    assert [r.split("`")[1].split()[0] for r in rows] == [k.name for k in kinds.all_kinds()]
    assert len(rows) == len(kinds.names()) >= 15
    layers = [k.layer for k in kinds.all_kinds()]
    assert layers == sorted(layers)
    assert r"veth\|bridge" in kinds.markdown()   # a | inside a cell would split the row


@pytest.mark.parametrize("name", kinds.names())
def test_every_module_is_a_whole_kind(name):
    kind = kinds.get(name)
    assert kind.name == name and kind.syntax.split()[0] == name and kind.means
    assert isinstance(kind.layer, int) and 0 <= kind.layer <= 7
    cls = type(kind)
    assert cls.parse is not StateKind.parse
    if kind.behaviour:
        assert isinstance(kind, ProbeKind) and kinds.probe(name) is kind
        probe_cls = type(kind)
        for hook in ("command", "worked", "target", "explain"):
            assert getattr(probe_cls, hook) is not getattr(ProbeKind, hook), f"{name} has no {hook}"
        assert (probe_cls.expected is ProbeKind.expected) == (probe_cls.mismatch is ProbeKind.mismatch)
    else:
        assert isinstance(kind, StateKind) and kinds.state(name) is kind
        assert type(kind).judge is not StateKind.judge
        with pytest.raises(TypeError):
            kinds.probe(name)


def test_unknown_kinds_are_not_in_the_registry():
    assert "pingg" not in kinds.names()
    with pytest.raises(KeyError):
        kinds.get("pingg")


def test_no_module_outside_the_kinds_switches_on_a_kind_name():
    names = "|".join(kinds.names())
    switch = re.compile(rf"""\bkind\s*(?:==|!=|in)\s*[(\[{{]?[^#]*["'](?:{names})["']""")
    offenders = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
                 for p in sorted((ROOT / "tutor").rglob("*.py")) if "kinds" not in p.parts
                 for n, line in enumerate(p.read_text().splitlines(), 1) if switch.search(line)]
    assert offenders == []


def _reads(lines: list[str], for_hints: bool = False):
    r = observe.reads([parse_check(line) for line in lines], for_hints)
    return r.sysctls, r.resolv, r.rules, r.lan


def test_the_observation_reads_what_each_kind_declares():
    assert _reads(["netns red", "link veth1 in red up", "addr 10.0.0.1/24 on x", "route default"]) == \
        (set(), set(), False, False)
    assert _reads(["sysctl net.ipv4.conf.all.rp_filter = 0 in red"]) == \
        ({("red", "net.ipv4.conf.all.rp_filter")}, set(), False, False)
    assert _reads(["forward"]) == _reads(["masquerade 10.0.0.0/24"]) == ({(HOST, IP_FORWARD)}, set(), True, False)
    assert _reads(["dnat tcp 80 to 10.0.0.2:80"]) == (set(), set(), True, False)
    assert _reads(["resolv red nameserver 1.1.1.1"]) == (set(), {"red"}, False, False)


def test_behaviour_kinds_read_more_only_to_explain_a_failure():
    probes = ["ping 10.0.0.1 from red", "resolve example.com from blue", "fetch http://x/ from host",
              "tcp 10.0.0.1:80 from node lan"]
    assert _reads(probes) == (set(), {"blue"}, False, False)   # a name is looked up as blue sees it
    # explaining a failure also reads the lab host's own resolv.conf (`fetch … from host`)
    assert _reads(probes, for_hints=True) == ({(HOST, IP_FORWARD)}, {"blue", HOST}, True, True)
    assert _reads(probes[:3], for_hints=True)[3] is False      # the LAN's routes: only from a node
    assert _reads(["netns red"], for_hints=True) == (set(), set(), False, False)
