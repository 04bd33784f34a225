"""`tutor trace CHECK` on real labs: lessons 3, 4 and 5 finished, then with one rule taken away
or added by hand. The trace must follow the packet the kernel really sends (its route
decisions, the rule that decides, the NAT the conntrack entry records) and name where it dies;
its exit status is the probe's answer."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import lessonkit
import pytest

from tutor.lab import client, lifecycle
from tutor.lessons.lesson import BUILTIN_LESSONS, load_lessons

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
TUTOR = str(REPO / ".venv" / "bin" / "tutor")
LESSONS = load_lessons(BUILTIN_LESSONS)


def finished(info, lesson_id: str, *typed: str) -> None:
    """The lab with `lesson_id` solved, then `typed` by hand."""
    lessonkit.build(info, lesson_id, 1000, *typed)


def trace(check: str) -> tuple[int, dict]:
    result = subprocess.run([TUTOR, "trace", check, "--json"], capture_output=True, text=True, timeout=60)
    assert result.returncode in (0, 1), (result.stdout, result.stderr)
    return result.returncode, json.loads(result.stdout)


def hop(found: dict, where: str) -> list[str]:
    return [h["what"] for h in found["hops"] if h["where"] == where]


def test_lesson3_finished_the_ping_is_masqueraded_and_comes_back(lab):
    finished(lab, "lesson3")
    code, found = trace("ping 8.8.8.8 from container10")
    assert code == 0 and found["reached"] and found["dies"] == ""
    assert hop(found, "container10")[0] == "ip route get 8.8.8.8: via 10.201.0.1 dev eth0 src 10.201.0.4" or \
        "via 10.201.0.1" in hop(found, "container10")[0]
    assert any("a port of bridge br0" in h for h in hop(found, "cable"))
    assert any("iif br0" in h and "dev eth0" in h for h in hop(found, "lab host"))
    nat = hop(found, "NAT")[0]
    assert "MASQUERADE" in nat and "10.201.0.4 → 172.17.0.3" in nat and "its counter: +1" in nat
    # the kernel's own record of the rewrite
    assert hop(found, "conntrack") == ["the kernel tracks 10.201.0.4 → 8.8.8.8; replies are expected as "
                                       "8.8.8.8 → 172.17.0.3"]
    assert any("-i br0 -o eth0 -j ACCEPT" in h for h in hop(found, "firewall"))


def test_lesson3_without_masquerade_dies_on_the_way_back(lab):
    finished(lab, "lesson3", "iptables -t nat -F POSTROUTING")
    code, found = trace("ping 8.8.8.8 from container10")
    assert code == 1 and not found["reached"]
    assert "it leaves as 10.201.0.4" in hop(found, "NAT")[0]
    assert found["dies"].startswith("way back: the reply to 10.201.0.4 has no way back: the internet machine "
                                    "has no route to 10.201.0.0/24")
    assert found["hint"].endswith("iptables -t nat -A POSTROUTING -s 10.201.0.0/24 ! -o br0 -j MASQUERADE")


def test_lesson3_a_drop_rule_before_the_accept_is_named_with_its_counter(lab):
    finished(lab, "lesson3", "iptables -I FORWARD 2 -i br0 -j DROP")
    code, found = trace("ping 8.8.8.8 from container10")
    assert code == 1
    assert found["dies"] == ("firewall: filter FORWARD: rule 2 of FORWARD (`-A FORWARD -i br0 -j DROP`) drops "
                             "packets from br0 to eth0 (its counter: +1)")
    assert found["hint"] == "That rule matches first: delete it (iptables -D FORWARD 2)"


@pytest.mark.slow(15)
def test_lesson3_the_drop_policy_with_no_way_out_is_named(lab):
    finished(lab, "lesson3", "iptables -D FORWARD -i br0 -o eth0 -j ACCEPT")
    code, found = trace("fetch http://www.naver.com/ from container10")
    assert code == 1
    assert hop(found, "container10")[0].startswith("cannot look up www.naver.com (")
    assert "its DNS query to the nameserver 8.8.8.8, udp port 53" in hop(found, "container10")[0]
    assert "the policy `-P FORWARD DROP` drops packets from br0 to eth0" in found["dies"]
    assert "iptables -A FORWARD -i br0 -o eth0 -j ACCEPT" in found["hint"]


def test_lesson4_the_lan_sees_the_host_and_without_nat_cannot_answer(lab):
    finished(lab, "lesson4")
    code, found = trace("ping 192.168.1.3 from blue")
    assert code == 0
    assert "192.168.15.2 → 192.168.1.2" in hop(found, "NAT")[0]
    client.run("iptables -t nat -F POSTROUTING", info=lab)
    code, found = trace("ping 192.168.1.3 from blue")
    assert code == 1
    assert "the LAN machine has no route to 192.168.15.0/24" in found["dies"]
    assert "! -o v-net-0 -j MASQUERADE" in found["hint"]


def test_lesson5_the_lan_follows_dockers_chain_and_dies_without_it(lab):
    finished(lab, "lesson5")
    code, found = trace("fetch http://192.168.1.2:8080/ from node lan")
    assert code == 0 and found["result"] == "HTTP 200"
    dnat = hop(found, "lab host")[0]
    assert dnat.startswith("nat PREROUTING → DOCKER: `-A DOCKER ! -i v-net-0 -p tcp -m tcp --dport 8080 -j DNAT "
                           "--to-destination 192.168.15.2:80`") and "its counter: +1" in dnat
    assert hop(found, "blue")[0] == "192.168.15.2 is veth-blue in blue"
    code, found = trace("fetch http://192.168.1.2:8080/ from host")
    assert code == 0 and hop(found, "lab host")[1].startswith("nat OUTPUT → DOCKER: ")
    client.run("iptables -t nat -F DOCKER", info=lab)
    code, found = trace("fetch http://192.168.1.2:8080/ from node lan")
    assert code == 1
    assert "192.168.1.2 is the lab host's own address" in hop(found, "lab host")[0]
    assert "8080" in found["dies"]


def test_the_text_output_marks_each_hop_and_the_end(lab):
    finished(lab, "lesson3", "iptables -t nat -F POSTROUTING")
    result = subprocess.run([TUTOR, "trace", "ping 8.8.8.8 from container10"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "trace: ping 8.8.8.8 from container10"
    assert any(l.startswith("  ✗ way back") for l in lines)
    assert lines[-1].startswith("  hint: Hide the lab's addresses behind the host's: ")


@pytest.mark.parametrize("check, words", [
    ("addr 10.0.0.1/24 on br0", "trace follows a packet"),
    ("ping 8.8.8.8", "needs `from X`"),
    ("ping nowhere from red", "not a check"),
])
def test_what_cannot_be_traced_is_one_sentence_and_exit_2(lab, check, words):
    result = subprocess.run([TUTOR, "trace", check], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and words in result.stderr and "Traceback" not in result.stderr


def test_no_lab_is_exit_2(lab_name):
    lifecycle.down(lab_name)
    result = subprocess.run([TUTOR, "trace", "ping 8.8.8.8 from host"], capture_output=True, text=True,
                            timeout=60, env={**os.environ})
    assert result.returncode == 2 and "not running" in result.stderr


def test_routing_the_router_namespace_is_a_hop_and_its_switch_is_named(lab):
    finished(lab, "routing")
    code, found = trace("ping 192.168.2.10 from host1")
    assert code == 0
    assert hop(found, "router")[0].startswith(
        "ip route get 192.168.2.10 from 192.168.1.10 iif eth0: on the link dev eth1")
    assert hop(found, "host3") == ["192.168.2.10 is eth0 in host3"]
    client.run("ip netns exec router sysctl -qw net.ipv4.ip_forward=0", info=lab)
    code, found = trace("ping 192.168.2.10 from host1")
    assert code == 1 and found["dies"] == "router: net.ipv4.ip_forward is 0 in router: it passes no packet on"
    assert found["hint"] == "Turn on forwarding: ip netns exec router sysctl -w net.ipv4.ip_forward=1"
    client.run("ip netns exec router sysctl -qw net.ipv4.ip_forward=1; ip -n host3 route del default", info=lab)
    code, found = trace("ping 192.168.2.10 from host1")
    assert code == 1 and "host3 has no route to 192.168.1.0/24" in found["dies"]
    assert found["hint"] == ("Route it back through router: ip -n host3 route add 192.168.1.0/24 via 192.168.2.1 "
                             "(or a default route via 192.168.2.1)")
