"""The iptables checks follow the packet's path (issue 11): the chains Docker writes, the first
rule that catches the packet, FORWARD as the kernel applies it. Each case failed before the
checks walked the chains (tutor/checks/packetpath.py); the labs are captured ones
(tests/unit/fixtures/state) with their rules replaced."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tutor.checks.diagnose import explain
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


def nat_postrouting(*lines: str, chains: tuple[str, ...] = ()) -> str:
    """A nat table whose POSTROUTING (and user `chains`) hold `lines`."""
    heads = [":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
             ":POSTROUTING ACCEPT [0:0]", *(f":{c} - [0:0]" for c in chains)]
    return "\n".join(["*nat", *heads, *lines, "COMMIT", ""])


def masquerade(subnet: str, save: str, lab: str = "l3-done"):
    return judge_state(parse_check(f"masquerade {subnet}"), with_rules(lab, save))


def test_masquerade_through_a_user_chain_passes():
    v = masquerade("10.201.0.0/24", nat_postrouting("-A POSTROUTING -j POSTNAT",
                                                    "-A POSTNAT -s 10.201.0.0/24 -j MASQUERADE", chains=("POSTNAT",)))
    assert v.passed, v.found
    assert "via POSTROUTING → POSTNAT" in v.found and "-A POSTNAT -s 10.201.0.0/24 -j MASQUERADE" in v.found


def test_masquerade_as_docker_writes_it_passes():
    v = masquerade("172.18.0.0/16", nat_postrouting("-A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE"))
    assert v.passed, v.found
    v = masquerade("10.201.0.0/24", nat_postrouting("-A POSTROUTING -s 10.201.0.0/24 -j SNAT --to-source 172.17.0.3"))
    assert v.passed, v.found


def test_a_return_before_the_masquerade_rule_is_named_and_its_deletion_is_the_hint():
    v = masquerade("10.201.0.0/24", nat_postrouting("-A POSTROUTING -s 10.201.0.0/24 -j RETURN",
                                                    "-A POSTROUTING -s 10.201.0.0/24 ! -o br0 -j MASQUERADE"))
    assert not v.passed, v.found
    assert "`-A POSTROUTING -s 10.201.0.0/24 -j RETURN` (rule 1 of POSTROUTING) catches it first" in v.found
    assert v.hint == "That rule catches it first: delete it (iptables -t nat -D POSTROUTING 1)"


def test_an_accept_before_the_masquerade_rule_in_a_user_chain_is_named():
    v = masquerade("10.201.0.0/24", nat_postrouting("-A POSTROUTING -j POSTNAT", "-A POSTNAT -o eth0 -j ACCEPT",
                                                    "-A POSTNAT -s 10.201.0.0/24 -j MASQUERADE", chains=("POSTNAT",)))
    assert not v.passed, v.found
    assert "`-A POSTNAT -o eth0 -j ACCEPT` (rule 1 of POSTNAT) catches it first" in v.found
    assert v.hint == "That rule catches it first: delete it (iptables -t nat -D POSTNAT 1)"


def test_a_return_with_no_masquerade_rule_after_it_asks_for_one_too():
    v = masquerade("10.201.0.0/24", nat_postrouting("-A POSTROUTING -o eth0 -j RETURN"))
    assert not v.passed and "(rule 1 of POSTROUTING) catches it first" in v.found
    assert v.hint == ("That rule catches it first: delete it (iptables -t nat -D POSTROUTING 1), then add: "
                      "iptables -t nat -A POSTROUTING -s 10.201.0.0/24 ! -o br0 -j MASQUERADE")


def test_the_masquerade_fix_names_the_bridge_that_holds_the_subnet():
    v = masquerade("10.201.0.0/24", nat_postrouting())
    assert v.hint == "Add one: iptables -t nat -A POSTROUTING -s 10.201.0.0/24 ! -o br0 -j MASQUERADE"
    v = masquerade("192.168.15.0/24", nat_postrouting(), lab="l5-start")
    assert v.hint == "Add one: iptables -t nat -A POSTROUTING -s 192.168.15.0/24 ! -o v-net-0 -j MASQUERADE"
    v = masquerade("172.18.0.0/16", nat_postrouting())     # no interface of the lab host holds it
    assert v.hint == "Add one: iptables -t nat -A POSTROUTING -s 172.18.0.0/16 -j MASQUERADE"


def test_a_masquerade_rule_only_for_another_cable_does_not_cover_the_way_out():
    v = masquerade("10.201.0.0/24", nat_postrouting("-A POSTROUTING -s 10.201.0.0/24 -o eth1 -j MASQUERADE"))
    assert not v.passed and "do not cover 10.201.0.0/24" in v.found


def test_masquerade_falls_back_to_the_rules_text_when_the_walk_cannot_tell():
    v = masquerade("10.201.0.0/24", nat_postrouting("-A POSTROUTING -m mark --mark 0x1 -j RETURN",
                                                    "-A POSTROUTING -s 10.201.0.0/24 -j MASQUERADE"))
    assert v.passed, v.found


DOCKER_WITHOUT_8080 = DOCKER.replace("--dport 8080", "--dport 9090")


def test_the_dnat_fix_goes_into_the_chain_prerouting_sends_the_packet_to():
    v = judge_state(parse_check("dnat tcp 8080 to 192.168.15.2:80"), with_rules("l5-done", DOCKER_WITHOUT_8080))
    assert not v.passed
    assert v.hint == ("Add it to the DOCKER chain, which PREROUTING sends it into: iptables -t nat -A DOCKER "
                      "! -i v-net-0 -p tcp --dport 8080 -j DNAT --to-destination 192.168.15.2:80")


def test_the_dnat_fix_stays_in_prerouting_without_a_user_chain():
    v = judge_state(parse_check("dnat tcp 8080 to 192.168.15.2:80"), with_rules("l5-done", nat_postrouting()))
    assert v.hint.startswith("Forward the port: iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT")


def lan_tcp(state, port: int):
    """Why `tcp 192.168.1.2:PORT from node lan` failed, as the hints explain it."""
    return explain(parse_check(f"tcp 192.168.1.2:{port} from node lan"), state, "curl: (28) timed out")


def test_a_failed_connection_from_the_lan_follows_the_docker_chain():
    state = with_rules("l5-done", DOCKER)
    state.sysctls[(HOST, "net.ipv4.ip_forward")] = "0"
    v = lan_tcp(state, 8080)
    assert "net.ipv4.ip_forward is 0" in v.found, v.found
    v = lan_tcp(with_rules("l5-done", DOCKER_WITHOUT_8080), 8080)
    assert "no DNAT rule for tcp port 8080" in v.found
    assert v.hint == ("Forward the port to the server: iptables -t nat -A DOCKER ! -i v-net-0 -p tcp --dport 8080 "
                      "-j DNAT --to-destination SERVER-IP:PORT")


# The filter table as Docker writes it for one bridge (here lesson 5's v-net-0, or lesson 3's
# br0): up to Docker 27, and Docker 28's regrouping (DOCKER-FORWARD, DOCKER-CT, DOCKER-BRIDGE).
# The lesson `docker` teaches the first and shows the second; both must pass the same checks.
DOCKER_FILTER_27 = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o BR -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o BR -j DOCKER
-A FORWARD -i BR ! -o BR -j ACCEPT
-A FORWARD -i BR -o BR -j ACCEPT
-A DOCKER -d IP/32 ! -i BR -o BR -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i BR ! -o BR -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o BR -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -j RETURN
COMMIT
"""
DOCKER_FILTER_28 = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-BRIDGE - [0:0]
:DOCKER-CT - [0:0]
:DOCKER-FORWARD - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-FORWARD
-A DOCKER -d IP/32 ! -i BR -o BR -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER ! -i BR -o BR -j DROP
-A DOCKER-BRIDGE -o BR -j DOCKER
-A DOCKER-CT -o BR -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A DOCKER-FORWARD -j DOCKER-CT
-A DOCKER-FORWARD -j DOCKER-ISOLATION-STAGE-1
-A DOCKER-FORWARD -j DOCKER-BRIDGE
-A DOCKER-FORWARD -i BR -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i BR ! -o BR -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-2 -o BR -j DROP
COMMIT
"""


def docker_filter(layout: str, bridge: str, ip: str, published: bool = True) -> str:
    save = layout.replace("BR", bridge).replace("IP", ip)
    return save if published else "\n".join(l for l in save.splitlines() if "--dport 80" not in l) + "\n"


@pytest.mark.parametrize("layout", [DOCKER_FILTER_27, DOCKER_FILTER_28], ids=["docker27", "docker28"])
def test_forward_follows_dockers_chains_out_and_back(layout):
    v = judge_state(parse_check("forward"), with_rules("l3-done", docker_filter(layout, "br0", "10.201.0.4")))
    assert v.passed, v.found
    # without the rule that lets the bridge's traffic out, the walk names the policy
    save = docker_filter(layout, "br0", "10.201.0.4").replace("-A FORWARD -i br0 ! -o br0 -j ACCEPT\n", "")
    save = save.replace("-A DOCKER-FORWARD -i br0 -j ACCEPT\n", "")
    v = judge_state(parse_check("forward"), with_rules("l3-done", save))
    assert not v.passed and "from br0 to eth0" in v.found and "-P FORWARD DROP" in v.found


@pytest.mark.parametrize("layout", [DOCKER_FILTER_27, DOCKER_FILTER_28], ids=["docker27", "docker28"])
def test_a_published_port_needs_the_filter_docker_chains_accept(layout):
    published = with_rules("l5-done", DOCKER + docker_filter(layout, "v-net-0", "192.168.15.2"))
    assert judge_state(parse_check("forward"), published).passed
    v = lan_tcp(published, 8080)
    assert "drops new connections" not in v.found, v.found
    # nat forwards the port, but nothing in filter lets it through: the hint is Docker's ACCEPT
    unpublished = with_rules("l5-done", DOCKER + docker_filter(layout, "v-net-0", "192.168.15.2", published=False))
    v = lan_tcp(unpublished, 8080)
    assert not v.passed
    assert "drops new connections from eth1 to 192.168.15.2:80 on v-net-0" in v.found, v.found
    if layout is DOCKER_FILTER_27:
        assert "policy `-P FORWARD DROP`" in v.found
        assert v.hint == ("Let the published port through: iptables -A DOCKER -d 192.168.15.2/32 ! -i v-net-0 "
                          "-o v-net-0 -p tcp -m tcp --dport 80 -j ACCEPT")
    else:   # Docker 28's DOCKER chain ends with its own DROP
        assert "`-A DOCKER ! -i v-net-0 -o v-net-0 -j DROP` (rule 1 of DOCKER)" in v.found
