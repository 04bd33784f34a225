"""Each common mistake, made by hand in a real lab on top of a lesson's own commands: `tutor
verify` must quote what it found and give the hint that fixes it. Most go through
`tutor.checks.engine.verify`; some through the real CLI in a subprocess."""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path

import pytest
from lessonkit import assert_hint, build, step

from tutor.lab import client
from tutor.lessons.course import reset_lesson
from tutor.lessons.lesson import BUILTIN_LESSONS, load_lessons

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
TUTOR = str(REPO / ".venv" / "bin" / "tutor")
LESSONS = load_lessons(BUILTIN_LESSONS)


def cli_verify(lesson_id: str, *args: str) -> subprocess.CompletedProcess:
    """The real `tutor verify`, as a student runs it (TUTOR_LAB names the test's lab)."""
    return subprocess.run([TUTOR, "verify", lesson_id, *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=60)


# --- lesson 1 ---------------------------------------------------------------------------------

STEP5 = ["ip netns exec red ip a add 10.200.0.3/24 dev veth1", "ip link set dev veth0 up",
         "ip netns exec red ip link set dev veth1 up"]


def test_address_without_prefix(lab):
    lesson = build(lab, "lesson1", 4, "ip a add 10.200.0.2 dev veth0", *STEP5)
    assert_hint(step(lab, lesson, 5), "addr 10.200.0.2/24 on veth0",
                "veth0 on the lab host has 10.200.0.2/32, not /24",
                "Write the prefix: ip addr del 10.200.0.2/32 dev veth0 then ip addr add 10.200.0.2/24 dev veth0 "
                "(without /24 the kernel uses /32")


def test_an_end_left_down(lab, state_home):
    build(lab, "lesson1", 4, "ip a add 10.200.0.2/24 dev veth0",
          "ip netns exec red ip a add 10.200.0.3/24 dev veth1", "ip link set dev veth0 up")
    out = cli_verify("lesson1", "--step", "5")
    assert out.returncode == 1, out.stderr
    assert "✗ link veth1 in red up  — veth1 in red is DOWN" in out.stdout
    assert "hint: Bring it up: ip -n red link set dev veth1 up" in out.stdout
    assert "✗ ping 10.200.0.3 from host  — not tried yet" in out.stdout


def test_a_namespace_the_lesson_never_names_is_read_when_a_hint_needs_it(lab):
    """The first reading looks only at the namespaces the checks name; a failing check is judged
    again from the whole lab, so the hint still finds veth1 in a namespace lesson 1 never names."""
    lesson = build(lab, "lesson1", 3, "ip netns add green", "ip link set veth1 netns green")
    result = step(lab, lesson, 4)
    assert_hint(result, "link veth1 in red", "veth1 is in namespace green, not in red",
                "Wrong namespace: move it with ip -n green link set veth1 netns red")


def test_veth_end_not_moved(lab, state_home):
    build(lab, "lesson1", 3)
    out = cli_verify("lesson1")
    assert out.returncode == 1
    assert "✗ link veth1 in red  — veth1 is still on the lab host, not in red" in out.stdout
    assert "hint: Move that end of the cable into the namespace: ip link set veth1 netns red" in out.stdout
    assert "✓ step 3: Make a veth pair" in out.stdout and out.stdout.endswith("3/5 steps pass\n")


def test_wrong_namespace(lab):
    lesson = build(lab, "lesson1", 3, "ip link set veth1 netns blue")
    result = step(lab, lesson, 4)
    assert_hint(result, "link veth1 in red", "veth1 is in namespace blue, not in red",
                "Wrong namespace: move it with ip -n blue link set veth1 netns red")
    assert_hint(result, "peer veth0 with veth1 in red", "veth1 is in namespace blue, not in red", "")


def follow(info, *commands: str) -> None:
    for cmd in commands:
        result = client.run(cmd, info=info)
        assert result.returncode == 0, f"{cmd}: {result.stderr}"


def test_a_mistyped_peer_name_the_hints_lead_out(lab):
    # the typo, then what the hints said before issue 11: a second pair whose end went into red,
    # the first pair made again, and a move the kernel refuses
    lesson = build(lab, "lesson1", 2, "ip link add veth0 type veth peer name veht1")
    assert_hint(step(lab, lesson, 4), "link veth1 in red",
                "veht1 on the lab host, the other end of veth0, looks like a slip for it",
                "Delete the stray pair (ip link del veth0 removes both ends) and recreate it with the right name: "
                "ip link add veth0 type veth peer name veth1, then move this end: ip link set veth1 netns red")
    follow(lab, "ip link add veth1 type veth peer name OTHER-END", "ip link set veth1 netns red",
           "ip link del veth0", "ip link add veth0 type veth peer name veth1")
    refused = client.run("ip link set veth1 netns red", info=lab)
    assert refused.returncode != 0 and "same name" in refused.stderr, refused.stderr
    assert_hint(step(lab, lesson, 4), "peer veth0 with veth1 in red",
                "red already has a veth1 (the other end of OTHER-END on the lab host)",
                "Delete the stray pair first (ip -n red link del veth1 removes both ends), then move this end: "
                "ip link set veth1 netns red")
    follow(lab, "ip -n red link del veth1", "ip link set veth1 netns red")
    assert step(lab, lesson, 4).passed
    assert [l for l in client.run("ip -br link", info=lab).stdout.split() if l.startswith("OTHER")] == []


# --- lesson 2 ---------------------------------------------------------------------------------

def test_port_not_on_the_bridge(lab):
    lesson = build(lab, "lesson2", 3, "ip link set brid10 master br0", "ip link set dev brid10 up",
                   "ip link set dev brid11 up")
    assert_hint(step(lab, lesson, 4), "master brid11 is br0",
                "brid11 on the lab host is not plugged into any bridge",
                "Attach the port to the bridge: ip link set brid11 master br0")


def test_duplicate_address(lab, state_home):
    # container11 was given container10's address as well (a typo: .4 for .5)
    build(lab, "lesson2", 4, "ip -n container11 addr add 10.201.0.4/24 dev veth11")
    out = cli_verify("lesson2", "--step", "3")
    assert out.returncode == 1
    assert ("✗ addr 10.201.0.4/24 on veth10 in container10  — 10.201.0.4/24 is on veth10 in container10 "
            "and also on veth11 in container11") in out.stdout
    assert ("hint: Duplicate address: two machines answering for 10.201.0.4 confuse ARP. Remove the wrong "
            "one: ip -n container11 addr del 10.201.0.4/24 dev veth11") in out.stdout


# --- lesson 3 ---------------------------------------------------------------------------------

def test_bridge_without_address(lab):
    lesson = next(l for l in LESSONS if l.id == "lesson3")
    reset_lesson(lesson, lab, LESSONS)
    result = step(lab, lesson, 1)
    assert_hint(result, "addr 10.201.0.1/24 on br0", "the bridge br0 on the lab host has no IPv4 address",
                "Give it one: ip addr add 10.201.0.1/24 dev br0 (a bridge needs an address")
    assert_hint(result, "route 10.201.0.0/24 dev br0", "br0 on the lab host has no address in it", "")


def test_bridge_address_without_prefix_is_named_in_the_route_check(lab):
    """`ip addr add 10.201.0.1 dev br0` gives a /32: the route check must not say br0 has no address."""
    lesson = build(lab, "lesson3", 0, "ip addr add 10.201.0.1 dev br0")
    result = step(lab, lesson, 1)
    by_name = {c.name: c for c in result.checks}
    found = by_name["route 10.201.0.0/24 dev br0"].found
    assert found == ("the lab host has no route to 10.201.0.0/24 on br0: br0 on the lab host has 10.201.0.1/32, "
                     "whose prefix covers less than 10.201.0.0/24")
    assert by_name["route 10.201.0.0/24 dev br0"].hint == (
        "Write the prefix: ip addr del 10.201.0.1/32 dev br0 then ip addr add 10.201.0.1/24 dev br0")


def test_missing_default_route(lab, state_home):
    build(lab, "lesson3", 1, "ip netns exec container11 ip route add default via 10.201.0.1")
    out = cli_verify("lesson3", "--step", "2")
    assert out.returncode == 1
    assert "✗ route default via 10.201.0.1 in container10  — container10 has no default route" in out.stdout
    assert "✓ route default via 10.201.0.1 in container11" in out.stdout
    assert "hint: Add it: ip -n container10 route add default via 10.201.0.1" in out.stdout


def test_ip_forward_off(lab):
    lesson = build(lab, "lesson3", 5, "sysctl -w net.ipv4.ip_forward=0")
    assert_hint(step(lab, lesson, 5), "sysctl net.ipv4.ip_forward = 1", "net.ipv4.ip_forward is 0 on the lab host",
                "Set it: sysctl -w net.ipv4.ip_forward=1")


def test_missing_masquerade(lab):
    lesson = build(lab, "lesson3", 3)
    assert_hint(step(lab, lesson, 4), "masquerade 10.201.0.0/24",
                "the nat table's POSTROUTING chain has no MASQUERADE rule",
                "Add one: iptables -t nat -A POSTROUTING -s 10.201.0.0/24 ! -o br0 -j MASQUERADE")


def test_masquerade_of_the_wrong_subnet(lab, state_home):
    build(lab, "lesson3", 3, "iptables -t nat -A POSTROUTING -s 10.200.0.0/24 -j MASQUERADE")
    out = cli_verify("lesson3", "--step", "4")
    assert out.returncode == 1
    assert ("✗ masquerade 10.201.0.0/24  — the nat rules do not cover 10.201.0.0/24: "
            "-A POSTROUTING -s 10.200.0.0/24 -j MASQUERADE") in out.stdout
    assert ("hint: Wrong source subnet: delete the wrong rule (iptables -t nat -D POSTROUTING -s 10.200.0.0/24 "
            "-j MASQUERADE) and add iptables -t nat -A POSTROUTING -s 10.201.0.0/24 ! -o br0 -j MASQUERADE"
            ) in out.stdout


def test_masquerade_in_a_user_chain_and_a_return_before_it(lab):
    lesson = build(lab, "lesson3", 3, "iptables -t nat -N POSTNAT", "iptables -t nat -A POSTROUTING -j POSTNAT",
                   "iptables -t nat -A POSTNAT -s 10.201.0.0/24 ! -o br0 -j MASQUERADE")
    result = step(lab, lesson, 4)
    assert result.passed, [(c.name, c.found) for c in result.checks]
    follow(lab, "iptables -t nat -I POSTROUTING 1 -s 10.201.0.0/24 -j RETURN")
    assert_hint(step(lab, lesson, 4), "masquerade 10.201.0.0/24",
                "`-A POSTROUTING -s 10.201.0.0/24 -j RETURN` (rule 1 of POSTROUTING) catches it first",
                "That rule catches it first: delete it (iptables -t nat -D POSTROUTING 1)")


def test_forward_policy_drop(lab):
    lesson = build(lab, "lesson3", 3, "iptables -F FORWARD")
    assert_hint(step(lab, lesson, 5), "forward", "the FORWARD chain's policy is DROP: forwarded packets are dropped",
                "Accept forwarded packets: iptables -P FORWARD ACCEPT")


def test_forward_accepting_only_the_bridge(lab):
    # lesson 3 as the student has it before step 5: DROP policy, only br0 to br0 accepted
    lesson = build(lab, "lesson3", 4)
    assert_hint(step(lab, lesson, 5), "forward",
                "the FORWARD chain drops packets from br0 to eth0: no rule accepts them, so its policy "
                "`-P FORWARD DROP` does",
                "Accept the way out and back: iptables -A FORWARD -i br0 -o eth0 -j ACCEPT and iptables -A FORWARD "
                "-i eth0 -o br0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")


def test_no_resolv_conf(lab, state_home):
    build(lab, "lesson3", 5)
    out = cli_verify("lesson3", "--step", "6")
    assert out.returncode == 1
    assert ("✗ resolv container10 nameserver 8.8.8.8  — /etc/netns/container10/resolv.conf does not exist"
            in out.stdout)
    assert ("hint: Create it: mkdir -p /etc/netns/container10 && echo 'nameserver 8.8.8.8' > "
            "/etc/netns/container10/resolv.conf") in out.stdout


# --- mistakes only a failing behaviour check shows: the diagnosis walks the path --------------

def test_bridge_down_behind_passing_state_checks(lab):
    lesson = build(lab, "lesson3", 5, "ip link set br0 down")
    result = step(lab, lesson, 5)
    assert all(c.passed for c in result.checks if not c.name.startswith("ping"))
    assert_hint(result, "ping 8.8.8.8 from container10",
                "no reply (100% packet loss) — the bridge br0 on the lab host is DOWN",
                "Bring it up: ip link set dev br0 up")


def test_forward_rule_dropping_the_subnet(lab):
    # under the ACCEPT policy, so that the forward check passes and only the probe can tell
    lesson = build(lab, "lesson3", 5, "iptables -F FORWARD", "iptables -P FORWARD ACCEPT",
                   "iptables -A FORWARD -s 10.201.0.0/24 -j DROP")
    assert_hint(step(lab, lesson, 5), "ping 8.8.8.8 from container11",
                "the FORWARD chain has `-A FORWARD -s 10.201.0.0/24 -j DROP`, which drops these packets",
                "Remove it: iptables -D FORWARD -s 10.201.0.0/24 -j DROP")


def test_lan_machine_without_a_route(lab):
    lesson = build(lab, "lesson5", 0)
    assert_hint(step(lab, lesson, 1), "tcp 192.168.15.2:80 from node lan",
                "the LAN machine has no route to 192.168.15.2",
                "Give it one via the lab host: lan ip route add 192.168.15.0/24 via 192.168.1.2")


def test_lesson4_masquerade_missing_shows_in_the_ping_too(lab):
    lesson = build(lab, "lesson4", 2)
    result = step(lab, lesson, 3)
    assert_hint(result, "masquerade 192.168.15.0/24", "the nat table's POSTROUTING chain has no MASQUERADE rule",
                "iptables -t nat -A POSTROUTING -s 192.168.15.0/24 ! -o v-net-0 -j MASQUERADE")
    # the state check holds the pings back; without it, the ping's own diagnosis says the same
    only_pings = copy.deepcopy(lesson)
    only_pings.steps[2].checks = [c for c in lesson.steps[2].checks if c.kind != "masquerade"]
    assert_hint(step(lab, only_pings, 3), "ping 192.168.1.3 from red",
                "the reply to 192.168.15.1 has no way back: the LAN machine has no route to 192.168.15.0/24",
                "iptables -t nat -A POSTROUTING -s 192.168.15.0/24 ! -o v-net-0 -j MASQUERADE")
    assert_hint(step(lab, only_pings, 3), "ping 8.8.8.8 from red",
                "the reply to 192.168.15.1 has no way back: the internet has no route to 192.168.15.0/24", "")


def test_a_failed_connection_from_the_lan_follows_the_docker_chain(lab):
    # lesson 5's Docker layout works, then forwarding is turned off: the diagnosis must find the
    # DNAT rule in the DOCKER chain (not say there is none) and name the real broken hop
    lesson = build(lab, "lesson5", 3, "sysctl -w net.ipv4.ip_forward=0")
    assert_hint(step(lab, lesson, 3), "tcp 192.168.1.2:8080 from node lan",
                "net.ipv4.ip_forward is 0 on the lab host", "Turn on forwarding: sysctl -w net.ipv4.ip_forward=1")
    # the port published is another one: the fix keeps the chain's ! -i v-net-0
    follow(lab, "sysctl -w net.ipv4.ip_forward=1",
           "iptables -t nat -R DOCKER 1 ! -i v-net-0 -p tcp --dport 9090 -j DNAT --to-destination 192.168.15.2:80")
    assert_hint(step(lab, lesson, 3), "dnat tcp 8080 to 192.168.15.2:80", "do not send tcp 8080",
                "Add it to the DOCKER chain, which PREROUTING sends it into: iptables -t nat -A DOCKER ! -i v-net-0 "
                "-p tcp --dport 8080 -j DNAT --to-destination 192.168.15.2:80")


# --- routing ----------------------------------------------------------------------------------

ROUTING_STEP1 = ["ip -n host2 addr add 192.168.1.11/24 dev eth0"]


def test_routing_address_without_prefix(lab):
    lesson = build(lab, "routing", 0, "ip -n host1 addr add 192.168.1.10 dev eth0", *ROUTING_STEP1)
    assert_hint(step(lab, lesson, 1), "addr 192.168.1.10/24 on eth0 in host1",
                "eth0 in host1 has 192.168.1.10/32, not /24",
                "Write the prefix: ip -n host1 addr del 192.168.1.10/32 dev eth0 then "
                "ip -n host1 addr add 192.168.1.10/24 dev eth0")


def test_routing_no_way_back(lab, state_home):
    """Forwarding on, but host3 was given no default route: the hint names the way back."""
    build(lab, "routing", 3, "ip -n host4 route add default via 192.168.2.1",
          "ip netns exec router sysctl -w net.ipv4.ip_forward=1")
    out = cli_verify("routing", "--step", "5")
    assert out.returncode == 1, out.stderr
    assert "✗ route default via 192.168.2.1 in host3  — host3 has no default route" in out.stdout
    assert "hint: Add it: ip -n host3 route add default via 192.168.2.1" in out.stdout


def test_routing_router_does_not_forward(lab):
    lesson = build(lab, "routing", 4)
    assert_hint(step(lab, lesson, 5), "sysctl net.ipv4.ip_forward = 1 in router",
                "net.ipv4.ip_forward is 0 on router",
                "Set it: ip netns exec router sysctl -w net.ipv4.ip_forward=1")


def test_routing_gateway_on_the_wrong_network(lab):
    """The far leg's address as the gateway: ip refuses it, and the route check says what to add."""
    lesson = build(lab, "routing", 2)
    result = client.run("ip -n host1 route add 192.168.2.0/24 via 192.168.2.1", info=lab)
    assert result.returncode != 0 and "gateway" in result.stderr.lower(), result.stderr
    assert_hint(step(lab, lesson, 3), "route 192.168.2.0/24 via 192.168.1.1 in host1",
                "host1 has no route to 192.168.2.0/24",
                "Add it: ip -n host1 route add 192.168.2.0/24 via 192.168.1.1")


# --- dns --------------------------------------------------------------------------------------

def test_dns_two_servers_on_one_line(lab):
    """The notes' `nameserver 192.168.1.100 8.8.8.8` (the lesson's start) names only the first."""
    lesson = build(lab, "dns", 1)
    assert_hint(step(lab, lesson, 2), "resolv host nameserver 8.8.8.8",
                "has `nameserver 192.168.1.100 8.8.8.8`, which names only 192.168.1.100",
                "Give each server a line of its own (`nameserver 8.8.8.8`): "
                "sed -i 's/^nameserver .*/nameserver 8.8.8.8/' /etc/resolv.conf")


def test_dns_hosts_line_written_name_first(lab, state_home):
    build(lab, "dns", 0, "echo 'db 192.168.1.3' >> /etc/hosts")
    out = cli_verify("dns", "--step", "1")
    assert out.returncode == 1, out.stderr
    assert "✗ hosts db 192.168.1.3  — /etc/hosts has `db 192.168.1.3`: the name comes first" in out.stdout
    assert "hint: Write the address first: sed -i '/^db\\s/d' /etc/hosts && echo '192.168.1.3 db' >> /etc/hosts" \
        in out.stdout


def test_dns_search_domains_swapped(lab):
    lesson = build(lab, "dns", 2, "echo 'search prod.mycompany.com mycompany.com' >> /etc/resolv.conf")
    assert_hint(step(lab, lesson, 3), "resolv host search mycompany.com prod.mycompany.com",
                "in another order: the first domain that has the name wins",
                "Make it `search mycompany.com prod.mycompany.com`")


def test_dns_hint_fixes_what_it_names(lab):
    """The two-servers hint's own command makes step 2 pass."""
    lesson = build(lab, "dns", 1, "sed -i 's/^nameserver .*/nameserver 8.8.8.8/' /etc/resolv.conf")
    assert step(lab, lesson, 2).passed
