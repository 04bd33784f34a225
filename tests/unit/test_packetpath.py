"""The packet-path walk over hand-written `iptables-save` texts: first match wins, user chains,
RETURN and goto, policies, the matches it reads, and UNKNOWN (never a guess) for the rest."""

from __future__ import annotations

import re

import pytest

from tutor.checks.packetpath import UNKNOWN, Packet, Verdict, walk
from tutor.lab.iptables import parse

DOCKER_NAT = """\
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A DOCKER ! -i v-net-0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.15.2:80
COMMIT
"""
# A packet from the LAN to the host's port 8080.
TO_HOST = Packet("192.168.1.3", "192.168.1.2", "tcp", 40000, 8080, iif="eth0", dst_local=True)


def save(table: str, *lines: str, policies: str = "") -> str:
    """An iptables-save text of one table: `policies` like "FORWARD DROP", then the lines."""
    chains = dict(p.split() for p in policies.split(",") if p.strip())
    builtin = {"filter": ("INPUT", "FORWARD", "OUTPUT"),
               "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")}[table]
    heads = [f":{c} {chains.pop(c, 'ACCEPT')} [0:0]" for c in builtin] + [f":{c} - [0:0]" for c in chains]
    return "\n".join([f"*{table}", *heads, *lines, "COMMIT"]) + "\n"


def forward(text: str, packet: Packet) -> Verdict:
    return walk(parse(text), "filter", "FORWARD", packet)


def test_docker_layout_dnats_a_lan_packet_to_the_host():
    v = walk(parse(DOCKER_NAT), "nat", "PREROUTING", TO_HOST)
    assert (v.action, v.to, v.chain, v.position, v.path) == ("DNAT", "192.168.15.2:80", "DOCKER", 1,
                                                             ("PREROUTING", "DOCKER"))
    assert v.quote == "-A DOCKER ! -i v-net-0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.15.2:80"


@pytest.mark.parametrize("change, why", [
    ({"dst_local": False}, "not to an address of the host: addrtype does not send it to DOCKER"),
    ({"iif": "v-net-0"}, "from the bridge itself: ! -i v-net-0"),
    ({"dport": 80}, "another port"),
    ({"proto": "udp"}, "another protocol"),
])
def test_docker_layout_leaves_other_packets_alone(change, why):
    v = walk(parse(DOCKER_NAT), "nat", "PREROUTING", TO_HOST._replace(**change))
    assert (v.action, v.by_policy, v.rule) == ("ACCEPT", True, None), why
    assert v.quote == "-P PREROUTING ACCEPT"


def test_docker_layout_from_the_host_itself_goes_through_output():
    own = Packet("192.168.1.2", "192.168.1.2", "tcp", 40000, 8080, iif="", oif="lo", dst_local=True)
    assert walk(parse(DOCKER_NAT), "nat", "OUTPUT", own).action == "DNAT"
    loopback = Packet("127.0.0.1", "127.0.0.1", "tcp", 40000, 8080, iif="", oif="lo", dst_local=True)
    assert walk(parse(DOCKER_NAT), "nat", "OUTPUT", loopback).path == ("OUTPUT",)


def test_forward_drop_policy_with_bridge_only_accept_drops_the_way_out():
    text = save("filter", "-A FORWARD -i br0 -o br0 -j ACCEPT", policies="FORWARD DROP")
    out = forward(text, Packet("10.201.0.4", "8.8.8.8", "icmp", iif="br0", oif="eth0"))
    assert (out.action, out.by_policy, out.quote) == ("DROP", True, "-P FORWARD DROP")
    inside = forward(text, Packet("10.201.0.4", "10.201.0.5", "icmp", iif="br0", oif="br0"))
    assert (inside.action, inside.position, inside.quote) == ("ACCEPT", 1, "-A FORWARD -i br0 -o br0 -j ACCEPT")


def test_the_first_dnat_wins_even_when_a_right_one_follows():
    text = save("nat", "-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.168.15.1:80",
                "-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 192.168.15.2:80")
    v = walk(parse(text), "nat", "PREROUTING", Packet("192.168.1.3", "192.168.1.2", "tcp", 4000, 80, iif="eth0"))
    assert (v.action, v.to, v.position) == ("DNAT", "192.168.15.1:80", 1)


def test_return_and_the_end_of_a_user_chain_come_back_to_the_caller():
    text = save("filter", "-A FORWARD -j CHECK", "-A FORWARD -p tcp -j DROP",
                "-A CHECK -s 10.0.0.0/8 -j RETURN", "-A CHECK -p udp -j REJECT --reject-with icmp-port-unreachable",
                policies="CHECK -")
    tcp = Packet("10.1.1.1", "10.2.2.2", "tcp", 1, 2, iif="a", oif="b")
    assert (forward(text, tcp).action, forward(text, tcp).position, forward(text, tcp).chain) == ("DROP", 2, "FORWARD")
    assert forward(text, tcp).path == ("FORWARD", "CHECK")
    udp = Packet("192.168.0.1", "10.2.2.2", "udp", 1, 2, iif="a", oif="b")
    assert (forward(text, udp).action, forward(text, udp).chain) == ("REJECT", "CHECK")
    other = Packet("192.168.0.1", "10.2.2.2", "icmp", iif="a", oif="b")
    assert forward(text, other).by_policy     # fell off CHECK, then off FORWARD


def test_goto_does_not_come_back_to_the_chain_that_went():
    text = save("filter", "-A FORWARD -j OUTER", "-A FORWARD -j DROP", "-A OUTER -g INNER", "-A OUTER -j ACCEPT",
                "-A INNER -p udp -j REJECT", policies="OUTER -, INNER -")
    tcp = Packet("10.1.1.1", "10.2.2.2", "tcp", 1, 2, iif="a", oif="b")
    v = forward(text, tcp)   # INNER ends, back to FORWARD (not OUTER): rule 2 drops
    assert (v.action, v.chain, v.position, v.path) == ("DROP", "FORWARD", 2, ("FORWARD", "OUTER", "INNER"))
    assert forward(save("filter", "-A FORWARD -g INNER", "-A FORWARD -j DROP", "-A INNER -p udp -j DROP",
                        policies="INNER -"), tcp).by_policy


def test_return_in_a_builtin_chain_hands_over_to_the_policy():
    text = save("filter", "-A FORWARD -j RETURN", "-A FORWARD -j ACCEPT", policies="FORWARD DROP")
    assert forward(text, Packet("1.1.1.1", "2.2.2.2", "icmp", iif="a", oif="b")).quote == "-P FORWARD DROP"


@pytest.mark.parametrize("rule, hit", [
    ("-i eth+", True), ("-i et+", True), ("-i eth", False), ("! -i eth+", False), ("-o br0", True),
    ("! -o br0", False), ("-s 10.0.0.0/8", True), ("! -s 10.0.0.0/8", False), ("-s 10.1.1.2/32", False),
    ("-d 10.2.2.2/32", True), ("! -d 192.168.0.0/16", True), ("-p tcp", True), ("-p 6", True), ("-p udp", False),
    ("! -p udp", True), ("-p all", True),
    ("-p tcp -m tcp --dport 80", True), ("-p tcp -m tcp --dport 70:90", True), ("-p tcp -m tcp --dport 81:", False),
    ("-p tcp -m tcp --dport :80", True), ("-p tcp -m tcp ! --dport 80", False), ("-p tcp -m tcp --sport 5000", True),
    ("-p tcp -m tcp ! --sport 1:1024", True), ("-m addrtype --dst-type LOCAL", False),
    ("-m addrtype ! --dst-type LOCAL", True), ("-m conntrack --ctstate NEW", True),
    ("-m conntrack --ctstate RELATED,ESTABLISHED", False), ("-m conntrack ! --ctstate ESTABLISHED", True),
    ("-m state --state NEW,ESTABLISHED", True), ('-m comment --comment "let the web in" -p tcp', True),
    ("-i eth0 -o br0 -s 10.1.1.1/32 -d 10.2.2.2/32 -p tcp -m tcp --sport 5000 --dport 80", True),
])
def test_each_match_and_its_negation(rule, hit):
    packet = Packet("10.1.1.1", "10.2.2.2", "tcp", 5000, 80, iif="eth0", oif="br0", dst_local=False)
    v = forward(save("filter", f"-A FORWARD {rule} -j DROP"), packet)
    assert v.action == ("DROP" if hit else "ACCEPT"), v


def test_log_goes_on_and_an_unknown_match_is_unknown_not_a_guess():
    packet = Packet("10.1.1.1", "10.2.2.2", "tcp", 5000, 80, iif="eth0", oif="br0")
    logged = forward(save("filter", "-A FORWARD -j LOG --log-prefix \"fw: \"", "-A FORWARD -j DROP"), packet)
    assert (logged.action, logged.position) == ("DROP", 2)
    v = forward(save("filter", "-A FORWARD -p tcp -m multiport --dports 80,443 -j DROP"), packet)
    assert (v.action, v.position) == (UNKNOWN, 1) and "-m multiport" in v.why
    # ... unless another of its matches already fails, or the rule only logs
    assert forward(save("filter", "-A FORWARD -p udp -m multiport --dports 80,443 -j DROP"), packet).by_policy
    assert forward(save("filter", "-A FORWARD -m limit --limit 1/s -j LOG"), packet).by_policy


@pytest.mark.parametrize("rule, packet_change", [
    ("-m addrtype --dst-type LOCAL -j DROP", {"dst_local": None}),
    ("-m addrtype --dst-type BROADCAST -j DROP", {}),
    ("-m conntrack --ctstate DNAT -j DROP", {}),
    ("-m conntrack --ctstate NEW -j DROP", {"state": None}),
    ("-i eth0 -j DROP", {"iif": None}),
    ("-p tcp -m tcp --dport 80 -j DROP", {"dport": None}),
    ("-f -j DROP", {}),
    ("-j MARK --set-xmark 0x1/0xffffffff", {}),
    ("-j NOSUCHCHAIN", {}),
])
def test_what_the_walk_will_not_judge(rule, packet_change):
    packet = Packet("10.1.1.1", "10.2.2.2", "tcp", 5000, 80, iif="eth0", oif="br0",
                    dst_local=False)._replace(**packet_change)
    v = forward(save("filter", f"-A FORWARD {rule}", "-A FORWARD -j ACCEPT", policies="FORWARD DROP"), packet)
    assert (v.action, v.position, v.rule is not None) == (UNKNOWN, 1, True), v
    assert v.why
    # what `tutor trace` says of it, in Korean: every word but the rule and its options
    from tutor.checks.trace import _decider
    from tutor.i18n import Msg
    said = Msg("filter FORWARD: {decider} cannot be judged: {why}{counter}", decider=_decider(v), why=v.why,
               counter="").text("ko")
    assert "판단할 수 없습니다" in said and re.search("[가-힣]", said.rsplit(":", 1)[1]), said
    assert not re.search(r"\b[a-z]{2,} [a-z]{2,} [a-z]{2,}\b", re.sub(r"`[^`]*`|-m \w+|--?[a-z-]+ \S+", "", said)), said


def test_no_table_printed_means_accept_and_only_builtin_chains_start_a_walk():
    v = walk(parse(""), "filter", "FORWARD", Packet("1.1.1.1", "2.2.2.2"))
    assert (v.action, v.path) == ("ACCEPT", ("FORWARD",))
    with pytest.raises(ValueError):
        walk(parse(DOCKER_NAT), "nat", "DOCKER", TO_HOST)


def test_nat_targets_carry_their_address():
    text = save("nat", "-A POSTROUTING -s 10.201.0.0/24 ! -o br0 -j MASQUERADE",
                "-A POSTROUTING -s 10.202.0.0/24 -j SNAT --to-source 192.168.1.2")
    out = Packet("10.201.0.4", "8.8.8.8", "icmp", oif="eth0")
    assert walk(parse(text), "nat", "POSTROUTING", out).action == "MASQUERADE"
    assert walk(parse(text), "nat", "POSTROUTING", out._replace(oif="br0")).by_policy
    snat = walk(parse(text), "nat", "POSTROUTING", Packet("10.202.0.4", "8.8.8.8", "icmp", oif="eth0"))
    assert (snat.action, snat.to, snat.position) == ("SNAT", "192.168.1.2", 2)


def test_the_parser_keeps_every_word_and_its_callers_keep_their_options():
    rules = parse(DOCKER_NAT).rules
    assert rules[0].words == ("-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER")
    assert rules[2].opts["!-i"] == "v-net-0" and rules[2].matches == ("!-i", "-p", "--dport")


# The nat rules the CNI bridge plugin (containernetworking-plugins 1.1.1, `ipMasq: true`) writes
# for pod1, as iptables-save prints them in the lab: a chain per container, a quoted comment with
# escaped quotes, and `! -d 224.0.0.0/4`.
CNI_NAT = save("nat",
               '-A POSTROUTING -s 10.22.0.2/32 -m comment --comment "name: \\"mynet\\" id: \\"pod1\\"" '
               "-j CNI-98edfcc8c6498ae055b2c621",
               '-A CNI-98edfcc8c6498ae055b2c621 -d 10.22.0.0/16 -m comment --comment '
               '"name: \\"mynet\\" id: \\"pod1\\"" -j ACCEPT',
               '-A CNI-98edfcc8c6498ae055b2c621 ! -d 224.0.0.0/4 -m comment --comment '
               '"name: \\"mynet\\" id: \\"pod1\\"" -j MASQUERADE',
               policies="CNI-98edfcc8c6498ae055b2c621 -")


@pytest.mark.parametrize("dst, action, position", [
    ("8.8.8.8", "MASQUERADE", 2),       # out to the internet: masqueraded in the plugin's chain
    ("10.22.0.3", "ACCEPT", 1),         # to another pod on the bridge: left alone
    ("224.0.0.251", "ACCEPT", None),    # multicast: past both rules, back to the policy
])
def test_the_cni_plugins_chain_is_walked_through_its_comment_and_negated_match(dst, action, position):
    v = walk(parse(CNI_NAT), "nat", "POSTROUTING",
             Packet("10.22.0.2", dst, "icmp", iif="cni0", oif="eth0", state="NEW"))
    assert (v.action, v.position if v.rule else None) == (action, position)
    if action != "ACCEPT" or position:
        assert v.path == ("POSTROUTING", "CNI-98edfcc8c6498ae055b2c621")


def test_the_cni_plugins_chain_leaves_another_pods_address_alone():
    v = walk(parse(CNI_NAT), "nat", "POSTROUTING",
             Packet("10.22.0.9", "8.8.8.8", "icmp", iif="cni0", oif="eth0", state="NEW"))
    assert (v.action, v.by_policy) == ("ACCEPT", True)
