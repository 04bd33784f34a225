"""`links in NS are DEV…` (a `--network none` container has only lo), and the hint for a
container's `eth0` when the only `eth0` around is the lab host's own cable (lesson docker)."""

from __future__ import annotations

import pytest

from tutor.checks.engine import judge_state
from tutor.checks.lang import CheckSyntaxError, parse_check
from tutor.lab.state import HOST, LabState, Link, NsState


def lab(**namespaces: list[str]) -> LabState:
    """A lab whose namespaces hold the named links (the lab host: `eth0` and `eth1`, its cables)."""
    ns = {HOST: NsState(HOST, {n: Link(n, HOST, i) for i, n in enumerate(["lo", "eth0", "eth1"], 1)})}
    for name, links in namespaces.items():
        ns[name] = NsState(name, {n: Link(n, name, i, admin_up=True) for i, n in enumerate(links, 1)})
    return LabState(namespaces=sorted(namespaces), ns=ns)


def judge(line: str, state: LabState):
    return judge_state(parse_check(line), state)


def test_the_line_parses():
    check = parse_check("links in c0 are lo")
    assert check.args == {"devs": "lo"} and check.where.ns == "c0"
    assert parse_check("links in c1 are lo eth0").args == {"devs": "lo eth0"}
    for bad in ("links in c0", "links in c0 is lo", "links in c0 are"):
        with pytest.raises(CheckSyntaxError):
            parse_check(bad)


def test_only_lo_passes():
    v = judge("links in c0 are lo", lab(c0=["lo"]))
    assert v.passed and v.found == "c0 has only lo"


def test_an_extra_interface_is_named_and_deleted():
    v = judge("links in c0 are lo", lab(c0=["lo", "eth0"]))
    assert not v.passed and v.found == "c0 also has eth0, besides lo"
    assert v.hint == "Take it out: ip -n c0 link del eth0"


def test_no_namespace_says_create_it():
    v = judge("links in c0 are lo", lab())
    assert not v.passed and v.hint == "Create it first: ip netns add c0"


def test_a_containers_eth0_is_never_the_lab_hosts_cable():
    # before: "eth0 is still on the lab host … ip link set eth0 netns c1", which would have
    # moved the lab host's own cable to the internet into the container
    v = judge("addr 172.18.0.2/16 on eth0 in c1", lab(c1=["lo"]))
    assert not v.passed
    assert v.found == "there is no eth0 in c1 (the lab host's eth0 is its own cable to the internet, not c1's)"
    assert v.hint == "Create the container's end inside c1: ip link add veth-c1 type veth peer name eth0 netns c1"
    assert "netns c1" in judge("link eth1 in c1", lab(c1=["lo"])).hint
