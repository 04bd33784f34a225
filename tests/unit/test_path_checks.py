"""The iptables checks follow the packet's path (issue 11): the chains Docker writes, the first
rule that catches the packet, FORWARD as the kernel applies it. Each case failed before the
checks walked the chains (tutor/checks/packetpath.py); the labs are captured ones
(tests/unit/fixtures/state) with their rules replaced."""

from __future__ import annotations

import copy
from pathlib import Path

from tutor.checks.engine import judge_state
from tutor.checks.lang import parse_check
from tutor.checks.observe import parse_state
from tutor.lab import HOST, iptables
from tutor.lab.state import LabState

STATES = Path(__file__).resolve().parent / "fixtures" / "state"


def with_rules(name: str, save: str) -> LabState:
    """The captured lab `name`, its lab host's iptables replaced by `save` (iptables-save text)."""
    state = copy.deepcopy(parse_state((STATES / f"{name}.txt").read_text()))
    state.ns[HOST].iptables = iptables.parse(save)
    return state


DOCKER = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 192.168.15.0/24 ! -o v-net-0 -j MASQUERADE
-A DOCKER ! -i v-net-0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.15.2:80
COMMIT
"""


def test_dnat_through_the_docker_chain_passes():
    v = judge_state(parse_check("dnat tcp 8080 to 192.168.15.2:80"), with_rules("l5-done", DOCKER))
    assert v.passed, v.found
    assert "via PREROUTING → DOCKER" in v.found


def test_a_wrong_dnat_rule_first_is_named_and_its_deletion_is_the_hint():
    save = """*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.168.15.1:80
-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.168.15.2:80
COMMIT
"""
    v = judge_state(parse_check("dnat tcp 80 to 192.168.15.2:80"), with_rules("l5-done", save))
    assert not v.passed
    assert "rule 1 of PREROUTING" in v.found and "192.168.15.1:80" in v.found
    assert v.hint.startswith("That rule matches first: delete it (iptables -t nat -D PREROUTING 1)")


def test_a_dnat_rule_on_the_wrong_interface_does_not_serve_the_lan():
    save = """*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -i eth0 -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.168.15.2:80
COMMIT
"""
    v = judge_state(parse_check("dnat tcp 80 to 192.168.15.2:80"), with_rules("l5-done", save))
    assert not v.passed and "do not send tcp 80" in v.found


FORWARD_BR0_ONLY = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -i br0 -o br0 -j ACCEPT
COMMIT
"""

FORWARD_OUT_AND_BACK = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -i br0 -o br0 -j ACCEPT
-A FORWARD -i br0 -o eth0 -j ACCEPT
-A FORWARD -i eth0 -o br0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
"""


def test_forward_with_a_drop_policy_fails_when_only_bridge_to_bridge_is_accepted():
    v = judge_state(parse_check("forward"), with_rules("l3-done", FORWARD_BR0_ONLY))
    assert not v.passed, v.found
    assert "br0" in v.found and "eth0" in v.found and "-P FORWARD DROP" in v.found
    assert "iptables -A FORWARD -i br0 -o eth0 -j ACCEPT" in v.hint


def test_forward_with_a_drop_policy_passes_when_the_way_out_and_back_is_accepted():
    v = judge_state(parse_check("forward"), with_rules("l3-done", FORWARD_OUT_AND_BACK))
    assert v.passed, v.found
