"""Every check kind, passing and failing, on real namespaces; and outcomes, not typed commands:
different ways of typing the same change pass the same check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tutor.checks.engine import NOT_TRIED, CheckResult, verify
from tutor.checks.lang import parse_check
from tutor.checks.observe import read_state
from tutor.lab import client, control, lifecycle
from tutor.lab.state import HOST
from tutor.lessons.lesson import parse_lesson

pytestmark = pytest.mark.lab

CABLE = """
ip netns add red
ip netns add blue
ip link add veth0 type veth peer name veth1
ip link set veth1 netns red
ip addr add 10.200.0.2/24 dev veth0
ip -n red addr add 10.200.0.3/24 dev veth1
ip link set veth0 up
ip -n red link set veth1 up
ip -n red link set lo up
"""
ONLINE = """
ip -n red route add default via 10.200.0.2
sysctl -w net.ipv4.ip_forward=1
iptables -t nat -A POSTROUTING -s 10.200.0.0/24 -j MASQUERADE
"""
RESOLV = "mkdir -p /etc/netns/red && echo 'nameserver 8.8.8.8' > /etc/netns/red/resolv.conf"


def sh(info, script: str) -> None:
    """Run commands in the lab host's shell; every line must succeed."""
    result = client.run("set -e\n" + script, info=info)
    assert result.returncode == 0, f"{script!r}: {result.stdout}{result.stderr}"


def judge(info, *lines: str) -> dict[str, CheckResult]:
    """Each check line as a step of its own (so every behaviour check is probed), verified at once."""
    text = "---\nid: checks\ntitle: Checks\n---\n" + "".join(
        f"## Check {i}\n```check\n{line}\n```\n" for i, line in enumerate(lines, 1))
    result = verify(parse_lesson(Path("checks.md"), text), None, info)
    return {s.checks[0].name: s.checks[0] for s in result.steps}


def passes(info, *lines: str) -> None:
    for name, r in judge(info, *lines).items():
        assert r.passed, f"{name}: {r.found} / {r.hint}"
        assert r.found and r.hint == ""


def fails(info, line: str, found: str, hint: str = "") -> CheckResult:
    r = judge(info, line)[" ".join(line.split())]
    assert not r.passed, f"{line} passed: {r.found}"
    assert found in r.found, r.found
    assert hint in r.hint, r.hint
    return r


def test_netns(lab):
    fails(lab, "netns red", "there is no namespace red (the lab has: none)", "ip netns add red")
    sh(lab, "ip netns add red")
    passes(lab, "netns red")
    fails(lab, "netns blue", "(the lab has: red)")


def test_link_exists_up_and_type(lab):
    fails(lab, "link veth0", "there is no interface veth0 anywhere in the lab")
    sh(lab, "ip link add veth0 type veth peer name veth1\nip link add br0 type bridge\nip netns add red")
    passes(lab, "link veth0", "link veth0 type veth", "link br0 type bridge")
    fails(lab, "link veth0 type bridge", "veth0 on the lab host is a veth, not a bridge")
    fails(lab, "link veth0 up", "veth0 on the lab host is DOWN", "ip link set dev veth0 up")
    fails(lab, "link lo in red up", "lo in red is DOWN", "ip -n red link set dev lo up")
    sh(lab, "ip link set dev veth0 up\nip netns exec red ip link set lo up\nip link set br0 up")
    passes(lab, "link veth0 up", "link lo in red up", "link br0 up type bridge")


def test_peer(lab):
    sh(lab, "ip netns add red\nip link add veth0 type veth peer name veth1")
    passes(lab, "peer veth0 with veth1")
    fails(lab, "peer veth0 with veth1 in red", "veth1 is still on the lab host, not in red",
          "ip link set veth1 netns red")
    sh(lab, "ip link set veth1 netns red")
    passes(lab, "peer veth0 with veth1 in red", "peer veth1 in red with veth0", "link veth1 in red")
    fails(lab, "peer veth0 with veth9 in red", "the other end of veth0 on the lab host is veth1 in red, not veth9")


@pytest.mark.parametrize("plug", ["ip link set brid10 master br0", "ip link set dev brid10 master br0",
                                  "brctl addif br0 brid10"])
def test_master(lab, plug):
    sh(lab, "ip link add br0 type bridge\nip link add brid10 type veth peer name veth10")
    fails(lab, "master brid10 is br0", "brid10 on the lab host is not plugged into any bridge",
          "ip link set brid10 master br0")
    sh(lab, plug)
    passes(lab, "master brid10 is br0")
    fails(lab, "master brid10 is br1", "brid10 on the lab host cannot join br1: there is no bridge br1 there")


@pytest.mark.parametrize("typed", [
    "ip -n red addr add 10.200.0.3/24 dev veth1",
    "ip netns exec red ip a add 10.200.0.3/24 dev veth1",
    "ip netns exec red ip address add 10.200.0.3/24 broadcast + dev veth1",
    "ip -n red addr add 10.200.0.3/255.255.255.0 dev veth1",
    "ip netns exec red bash -c 'ip addr add 10.200.0.3/24 dev veth1'",
])
def test_addr_passes_however_it_was_typed(lab, typed):
    sh(lab, "ip netns add red\nip link add veth0 type veth peer name veth1\nip link set veth1 netns red")
    fails(lab, "addr 10.200.0.3/24 on veth1 in red", "veth1 in red has no IPv4 address",
          "ip -n red addr add 10.200.0.3/24 dev veth1")
    sh(lab, typed)
    passes(lab, "addr 10.200.0.3/24 on veth1 in red")


def test_addr_fails_without_the_prefix(lab):
    sh(lab, "ip link add veth0 type veth peer name veth1\nip addr add 10.200.0.2 dev veth0")
    fails(lab, "addr 10.200.0.2/24 on veth0", "veth0 on the lab host has 10.200.0.2/32, not /24",
          "ip addr del 10.200.0.2/32 dev veth0 then ip addr add 10.200.0.2/24 dev veth0")


@pytest.mark.parametrize("typed", [
    "ip -n red route add default via 10.200.0.2",
    "ip netns exec red ip route add 0.0.0.0/0 via 10.200.0.2",
    "ip netns exec red ip r add default via 10.200.0.2 dev veth1",
    "ip netns exec red route add default gw 10.200.0.2",
])
def test_route_passes_however_it_was_typed(lab, typed):
    sh(lab, CABLE)
    passes(lab, "route 10.200.0.0/24 dev veth1 in red", "route 10.200.0.0/24 dev veth0")
    fails(lab, "route default via 10.200.0.2 in red", "red has no default route",
          "ip -n red route add default via 10.200.0.2")
    sh(lab, typed)
    passes(lab, "route default via 10.200.0.2 in red", "route default dev veth1 in red")
    fails(lab, "route default via 10.200.0.9 in red", "red's default route goes via 10.200.0.2 dev veth1",
          "ip -n red route replace default via 10.200.0.9")


def test_host_route(lab):
    sh(lab, CABLE + "ip route add 10.9.9.9 dev veth0")
    passes(lab, "route 10.9.9.9/32 dev veth0")


@pytest.mark.parametrize("typed", ["sysctl -w net.ipv4.ip_forward=1", "sysctl net.ipv4.ip_forward=1",
                                   "echo 1 > /proc/sys/net/ipv4/ip_forward"])
def test_sysctl_passes_however_it_was_typed(lab, typed):
    fails(lab, "sysctl net.ipv4.ip_forward = 1", "net.ipv4.ip_forward is 0 on the lab host",
          "sysctl -w net.ipv4.ip_forward=1")
    sh(lab, typed)
    passes(lab, "sysctl net.ipv4.ip_forward = 1")


def test_sysctl_in_a_namespace(lab):
    sh(lab, "ip netns add red\nsysctl -w net.ipv4.ip_forward=1")
    fails(lab, "sysctl net.ipv4.ip_forward = 1 in red", "net.ipv4.ip_forward is 0 on red",
          "ip netns exec red sysctl -w net.ipv4.ip_forward=1")
    sh(lab, "ip netns exec red sysctl -w net.ipv4.ip_forward=1")
    passes(lab, "sysctl net.ipv4.ip_forward = 1 in red")


def test_forward(lab):
    passes(lab, "forward")
    sh(lab, "iptables -P FORWARD DROP")
    fails(lab, "forward", "the FORWARD chain's policy is DROP", "iptables -P FORWARD ACCEPT")
    sh(lab, "iptables -A FORWARD -i veth0 -j ACCEPT")
    passes(lab, "forward")                    # an ACCEPT rule lets (some) packets through
    sh(lab, "iptables -P FORWARD ACCEPT\niptables -F FORWARD\niptables -A FORWARD -j REJECT")
    fails(lab, "forward", "the FORWARD chain has `-A FORWARD -j REJECT --reject-with icmp-port-unreachable` "
          "before any ACCEPT", "Remove it: iptables -D FORWARD -j REJECT --reject-with icmp-port-unreachable")
    sh(lab, "iptables -F FORWARD\niptables -A FORWARD -m comment --comment 'no entry' -j DROP")
    fails(lab, "forward", "`-A FORWARD -m comment --comment \"no entry\" -j DROP` before any ACCEPT")


@pytest.mark.parametrize("rule", [
    "-s 10.201.0.0/24 -j MASQUERADE",
    "-s 10.201.0.0/24 -o eth0 -j MASQUERADE",
    "-s 10.0.0.0/8 -j MASQUERADE",
    "-s 10.201.0.0/24 ! -o br0 -j MASQUERADE",
    "-s 10.201.0.0/24 -j SNAT --to-source 172.17.0.3",
])
def test_masquerade_passes_for_every_rule_that_covers_the_subnet(lab, rule):
    fails(lab, "masquerade 10.201.0.0/24", "the nat table's POSTROUTING chain has no MASQUERADE rule",
          "iptables -t nat -A POSTROUTING -s 10.201.0.0/24 -j MASQUERADE")
    sh(lab, f"iptables -t nat -A POSTROUTING {rule}")
    passes(lab, "masquerade 10.201.0.0/24")


@pytest.mark.parametrize("rule", ["-s 10.200.0.0/24 -j MASQUERADE", "-s 10.201.0.0/24 -o br0 -j MASQUERADE",
                                  "-s 10.201.0.0/24 -p tcp -j MASQUERADE"])
def test_masquerade_fails_for_rules_that_miss_the_subnet(lab, rule):
    sh(lab, f"iptables -t nat -A POSTROUTING {rule}")
    fails(lab, "masquerade 10.201.0.0/24", "the nat rules do not cover 10.201.0.0/24: -A POSTROUTING",
          "iptables -t nat -A POSTROUTING -s 10.201.0.0/24 -j MASQUERADE")


@pytest.mark.parametrize("rule", [
    "-p tcp --dport 80 -j DNAT --to-destination 192.168.15.2:80",
    "-p tcp -m tcp --dport 80 -j DNAT --to-destination 192.168.15.2",
    "-d 192.168.1.2 -p tcp --dport 80 -j DNAT --to-destination 192.168.15.2:80",
])
def test_dnat(lab, rule):
    fails(lab, "dnat tcp 80 to 192.168.15.2:80", "the nat table's PREROUTING chain has no DNAT rule",
          "iptables -t nat -A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 192.168.15.2:80")
    sh(lab, f"iptables -t nat -A PREROUTING {rule}")
    passes(lab, "dnat tcp 80 to 192.168.15.2:80")
    fails(lab, "dnat tcp 8080 to 192.168.15.2:80", "the DNAT rules do not send tcp 8080 to 192.168.15.2:80")


@pytest.mark.parametrize("typed", [
    RESOLV,
    "mkdir -p /etc/netns/red; printf 'search mycompany.com\\nnameserver 8.8.8.8\\n' | tee /etc/netns/red/resolv.conf",
    "install -D /dev/stdin /etc/netns/red/resolv.conf <<< 'nameserver 8.8.8.8'",
])
def test_resolv(lab, typed):
    sh(lab, "ip netns add red")
    fails(lab, "resolv red nameserver 8.8.8.8", "/etc/netns/red/resolv.conf does not exist",
          "mkdir -p /etc/netns/red && echo 'nameserver 8.8.8.8' > /etc/netns/red/resolv.conf")
    sh(lab, typed)
    passes(lab, "resolv red nameserver 8.8.8.8")
    fails(lab, "resolv red nameserver 1.1.1.1", "/etc/netns/red/resolv.conf has 8.8.8.8")


def test_ping(lab):
    fails(lab, "ping 10.200.0.3 from host", "no reply")
    sh(lab, CABLE)
    passes(lab, "ping 10.200.0.3 from host", "ping 10.200.0.2 from red", "ping 8.8.8.8 from host")
    fails(lab, "ping 10.200.0.9 from red", "no interface in the lab has the address 10.200.0.9")
    fails(lab, "ping 8.8.8.8 from red", "red has no route to 8.8.8.8",
          "Give red a default route: ip -n red route add default via 10.200.0.2")
    fails(lab, "ping 10.200.0.3 from blue", "blue has no route to 10.200.0.3: it has no network interface but lo")
    sh(lab, ONLINE)
    passes(lab, "ping 8.8.8.8 from red", "ping 172.17.0.1 from red")


def test_resolve(lab):
    passes(lab, "resolve www.naver.com from host", "resolve google.com from host is 203.0.113.20")
    fails(lab, "resolve google.com from host is 203.0.113.99", "resolved to 203.0.113.20 (expected 203.0.113.99)",
          "look with getent ahostsv4 google.com, and at /etc/hosts")
    fails(lab, "resolve no-such-name.example from host", "")
    sh(lab, CABLE)
    fails(lab, "resolve www.naver.com from red", "red has no route to 8.8.8.8",
          "ip -n red route add default via 10.200.0.2")
    sh(lab, ONLINE + "mkdir -p /etc/netns/red && echo 'nameserver 1.1.1.1' > /etc/netns/red/resolv.conf")
    fails(lab, "resolve www.naver.com from red", "/etc/netns/red/resolv.conf names 1.1.1.1, which answers no DNS",
          "echo 'nameserver 8.8.8.8' > /etc/netns/red/resolv.conf")
    sh(lab, RESOLV)
    passes(lab, "resolve www.naver.com from red is 203.0.113.10", "resolve www.mycompany.com from red")


def test_fetch(lab):
    passes(lab, "fetch http://www.naver.com/ from host status 302", "fetch http://google.com/ from host")
    fails(lab, "fetch http://www.naver.com/ from host status 200", "HTTP 302 (expected HTTP 200)",
          "The server answers, with another status: look at its answer with curl -sI http://www.naver.com/")
    sh(lab, CABLE + RESOLV)
    fails(lab, "fetch http://www.naver.com/ from red status 302", "red has no route to 8.8.8.8")
    fails(lab, "fetch http://203.0.113.20/ from red", "red has no route to 203.0.113.20")
    sh(lab, ONLINE)
    passes(lab, "fetch http://www.naver.com/ from red status 302", "fetch http://203.0.113.20/ from red")


def test_tcp_from_the_host_and_from_world_nodes(lab):
    sh(lab, CABLE)
    control.serve("red", 80, "hello", name=lab.name)
    passes(lab, "tcp 10.200.0.3:80 from host", "fetch http://10.200.0.3/ from host status 200")
    fails(lab, "tcp 10.200.0.3:81 from host", "Connection refused")
    # the internet reaches red only through a port forward on the lab host
    fails(lab, "tcp 172.17.0.3:8080 from node internet", "")
    sh(lab, ONLINE + "iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 10.200.0.3:80")
    passes(lab, "tcp 172.17.0.3:8080 from node internet", "fetch http://172.17.0.3:8080/ from node internet status 200")
    # the LAN machine reaches red by a route of its own
    fails(lab, "tcp 10.200.0.3:80 from node lan", "the LAN machine has no route to 10.200.0.3",
          "Give it one via the lab host: lan ip route add 10.200.0.0/24 via 192.168.1.2")
    sh(lab, "lan ip route add 10.200.0.0/24 via 192.168.1.2")
    passes(lab, "tcp 10.200.0.3:80 from node lan", "fetch http://10.200.0.3/ from node lan status 200")
    sh(lab, "sysctl -w net.ipv4.ip_forward=0")
    fails(lab, "tcp 10.200.0.3:80 from node lan", "net.ipv4.ip_forward is 0 on the lab host",
          "sysctl -w net.ipv4.ip_forward=1")


# --- how verify puts checks together ---------------------------------------------------------

def test_behaviour_waits_for_state_and_the_lowest_layer_gives_the_hint(lab):
    text = ("---\nid: t\ntitle: T\n---\n## One step\n```check\nping 10.200.0.3 from host\n"
            "addr 10.200.0.3/24 on veth1 in red\nnetns red\n```\n")
    lesson = parse_lesson(Path("t.md"), text)
    step = verify(lesson, None, lab).steps[0]
    ping, addr, netns = step.checks
    assert ping.found == NOT_TRIED and not ping.passed
    assert not addr.passed and not netns.passed
    assert step.hint == netns.hint == "Create it: ip netns add red"       # netns is the lowest layer
    sh(lab, CABLE)
    step = verify(lesson, None, lab).steps[0]
    assert step.passed and step.hint == "" and step.checks[0].found == "host gets replies from 10.200.0.3"


def test_verify_one_step_and_the_lab_must_run(lab):
    text = "---\nid: t\ntitle: T\n---\n## A\n```check\nnetns red\n```\n## B\n```check\nnetns blue\n```\n"
    lesson = parse_lesson(Path("t.md"), text)
    sh(lab, "ip netns add blue")
    result = verify(lesson, 2, lab)
    assert [s.number for s in result.steps] == [2] and result.passed
    assert not verify(lesson, None, lab).passed
    lifecycle.down(lab.name)
    with pytest.raises(control.LabError, match="is not running"):
        verify(lesson)


def test_a_control_character_in_a_name_hides_no_other_interface(lab):
    """`ip -j` prints a name with a control character raw, which strict JSON refuses: every
    other interface of that namespace then seemed gone ("there is no interface veth0")."""
    sh(lab, "ip netns add red\nip link add veth0 type veth peer name veth1\n"
            "ip link add $'a\\x01b' type bridge\nip link add $'c\\x1bd' type bridge\n"
            "ip -n red link add $'e\\x7f\\x02f' type bridge\nip link set veth1 netns red")
    passes(lab, "link veth0 type veth", "link veth1 in red", "peer veth0 with veth1 in red")
    state = read_state([], whole=True)
    assert {"veth0", "a\x01b", "c\x1bd"} <= set(state.ns[HOST].links)
    assert {"lo", "veth1", "e\x7f\x02f"} <= set(state.ns["red"].links)
    assert state.ns[HOST].error == state.ns["red"].error == ""
    r = subprocess.run([sys.executable, "-m", "tutor.cli", "verify", "lesson1", "--json"],
                       capture_output=True, text=True, timeout=60, check=False)
    checks = {c["name"]: c for s in json.loads(r.stdout)["steps"] for c in s["checks"]}
    assert checks["link veth0 type veth"]["passed"], checks["link veth0 type veth"]


def test_an_observation_reads_the_namespaces_its_checks_name(lab):
    """Namespaces a lesson never names cost a check nothing (issue 15): their names are listed,
    their links and routes are not read unless asked for the whole lab."""
    client.run("ip netns add red; ip netns add zz1; ip netns add zz2", info=lab)
    state = read_state([parse_check("link lo in red")], info=lab)
    assert set(state.namespaces) == {"red", "zz1", "zz2"} and not state.whole
    assert "lo" in state.ns["red"].links and state.ns[HOST].links
    assert not state.ns["zz1"].links and not state.ns["zz2"].links      # listed, not read
    whole = read_state([parse_check("link lo in red")], info=lab, whole=True)
    assert whole.whole and "lo" in whole.ns["zz1"].links and "lo" in whole.ns["zz2"].links


def test_a_failing_check_in_a_crowded_lab_reads_only_the_namespaces_it_names(lab, monkeypatch):
    """Past WHOLE_READ_MAX namespaces a failing check is not judged again from the whole lab: in
    the app a step's checks fail until it is done, and each reading of 1,000 namespaces took
    seconds. Below it, the failure still reads every namespace (hints may point anywhere)."""
    from tutor.checks import engine, observe
    from tutor.lessons.lesson import find_lesson
    lesson = find_lesson("lesson1")
    reads: list[bool] = []
    real = observe.read_state

    def counted(*args, **kwargs):
        state = real(*args, **kwargs)
        reads.append(state.whole)
        return state

    monkeypatch.setattr(observe, "read_state", counted)
    client.run("ip netns add few", info=lab)
    assert not engine.verify(lesson, 1, lab).passed
    assert reads == [False, True]
    reads.clear()
    batch = "".join(f"netns add x{i}\n" for i in range(engine.WHOLE_READ_MAX + 1))
    client.run(f"ip -batch - <<'EOF'\n{batch}EOF", info=lab, timeout=120)
    result = engine.verify(lesson, 1, lab)
    assert not result.passed and reads == [False]
    hint = next(c.hint for s in result.steps for c in s.checks if not c.passed)
    assert "ip netns add red" in hint, hint      # the hint still says what to do
