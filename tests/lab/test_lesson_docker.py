"""Lesson `docker`: each common mistake, made by hand in a real lab on top of the lesson's own
commands, gets a hint that names its fix; and `tutor trace` follows a published port through
Docker's chains."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import lessonkit
import pytest

from labkit import wait_until
from tutor.checks.engine import StepResult
from tutor.lab import client
from tutor.lessons.lesson import BUILTIN_LESSONS, Lesson, load_lessons

pytestmark = pytest.mark.lab

TUTOR = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "tutor")
LESSONS = load_lessons(BUILTIN_LESSONS)
LESSON = next(l for l in LESSONS if l.id == "docker")


def build(info, steps_done: int, *typed: str) -> Lesson:
    """The lab at the lesson's start, its first `steps_done` steps solved, then `typed` by hand;
    from step 5 on, once c1's web server (which step 5 starts in the background, as a student
    does) listens: a check may fetch from it at once (it failed once under load when the
    fetch came first)."""
    lesson = lessonkit.build(info, "docker", steps_done, *typed)
    if steps_done >= 5:
        assert wait_until(lambda: client.run("ip netns exec c1 ss -Hltn 'sport = :80'", info=info).stdout.strip()), \
            "c1's web server never listened on port 80"
    return lesson


def step(info, number: int) -> StepResult:
    return lessonkit.step(info, LESSON, number)


def assert_hint(result: StepResult, check: str, found: str, hint: str) -> None:
    """`check` fails quoting `found`, and the step's hint is `hint`."""
    lessonkit.assert_hint(result, check, found, hint, exact=True)


def test_a_none_container_with_a_cable_in_it(lab):
    build(lab, 0, "ip netns add c0", "ip -n c0 link set lo up", "ip -n c0 link add eth0 type veth peer name x")
    assert_hint(step(lab, 1), "links in c0 are lo", "c0 also has x, eth0, besides lo",
                "Take it out: ip -n c0 link del x")


def test_a_none_container_with_loopback_down(lab):
    build(lab, 0, "ip netns add c0")
    assert_hint(step(lab, 1), "link lo in c0 up", "lo in c0 is DOWN", "Bring it up: ip -n c0 link set dev lo up")


def test_no_server_on_the_host_network(lab):
    build(lab, 1)
    assert_hint(step(lab, 2), "fetch http://192.168.1.2:8000/ from node lan status 200",
                "no DNAT rule for tcp port 8000: nothing on the lab host answers 192.168.1.2:8000",
                "Start a server on the lab host's port 8000 (python3 -m http.server 8000), or forward the port "
                "to one: iptables -t nat -A PREROUTING -p tcp --dport 8000 -j DNAT --to-destination SERVER-IP:PORT")


def test_the_containers_end_made_on_the_host_and_moved_without_its_name(lab):
    # `peer name eth0` on the host fails (the host has eth0), so the end gets another name
    build(lab, 2, "ip link add docker0 type bridge", "ip addr add 172.18.0.1/16 dev docker0",
          "ip link set docker0 up", "ip netns add c1", "ip link add veth-c1 type veth peer name ceth0",
          "ip link set veth-c1 master docker0", "ip link set veth-c1 up", "ip link set ceth0 netns c1")
    assert_hint(step(lab, 3), "addr 172.18.0.2/16 on eth0 in c1",
                "there is no eth0 in c1 (the lab host's eth0 is its own cable to the internet, not c1's)",
                "Create the container's end inside c1: ip link add veth-c1 type veth peer name eth0 netns c1")


DOCKER_FORWARD = [c.text for c in LESSON.steps[3].commands if c.text.startswith("iptables -") and "nat" not in c.text]


def test_dockers_forward_chain_without_the_way_out(lab):
    way_out = "iptables -A FORWARD -i docker0 ! -o docker0 -j ACCEPT"
    assert way_out in DOCKER_FORWARD
    build(lab, 3, "sysctl -w net.ipv4.ip_forward=1",
          "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE",
          *[c for c in DOCKER_FORWARD if c != way_out])
    assert_hint(step(lab, 4), "forward",
                "the FORWARD chain drops packets from docker0 to eth0: no rule accepts them, so its policy "
                "`-P FORWARD DROP` does",
                "Accept the way out and back: iptables -A FORWARD -i docker0 -o eth0 -j ACCEPT and iptables -A "
                "FORWARD -i eth0 -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")


def test_no_masquerade_for_docker0(lab):
    build(lab, 3, "sysctl -w net.ipv4.ip_forward=1", *DOCKER_FORWARD)
    result = step(lab, 4)
    assert_hint(result, "masquerade 172.18.0.0/16", "no MASQUERADE rule",
                next(c.hint for c in result.checks if c.name == "masquerade 172.18.0.0/16"))
    assert "iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE" in result.hint


def test_a_port_forwarded_by_nat_but_not_let_through_filter(lab):
    build(lab, 5, "iptables -D DOCKER 1")
    assert_hint(step(lab, 5), "fetch http://192.168.1.2:8080/ from node lan status 200",
                "the FORWARD chain drops new connections from eth1 to 172.18.0.2:80 on docker0: no rule accepts "
                "them, so its policy `-P FORWARD DROP` does",
                "Let the published port through: iptables -A DOCKER -d 172.18.0.2/32 ! -i docker0 -o docker0 "
                "-p tcp -m tcp --dport 80 -j ACCEPT")


def test_a_port_published_without_the_output_jump_fails_from_the_host_only(lab):
    build(lab, 5, "iptables -t nat -D OUTPUT 1")
    result = step(lab, 5)
    assert {c.name for c in result.checks if not c.passed} == {"fetch http://192.168.1.2:8080/ from host status 200"}
    assert_hint(result, "fetch http://192.168.1.2:8080/ from host status 200",
                "nat PREROUTING sends tcp port 8080 on to 172.18.0.2:80, but the lab host's own connections pass "
                "through nat OUTPUT instead",
                "Send them the same way: iptables -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL "
                "-j DOCKER")


def test_trace_follows_the_published_port_through_dockers_chains(lab):
    build(lab, 5)
    result = subprocess.run([TUTOR, "trace", "fetch http://192.168.1.2:8080/ from node lan", "--json"],
                            capture_output=True, text=True, timeout=60)
    found = json.loads(result.stdout)
    assert result.returncode == 0 and found["result"] == "HTTP 200", result.stdout
    firewall = [h["what"] for h in found["hops"] if h["where"] == "firewall"]
    # the DNAT'd packet is judged with its new port: the filter DOCKER chain's ACCEPT for port 80
    assert firewall[0].startswith("filter FORWARD: rule 1 of DOCKER (`-A DOCKER -d 172.18.0.2/32 ! -i docker0 "
                                  "-o docker0 -p tcp -m tcp --dport 80 -j ACCEPT`) lets it through"), firewall
    # without it, trace stops at FORWARD's policy and names Docker's ACCEPT for that port alone
    client.run("iptables -D DOCKER 1", info=lab)
    result = subprocess.run([TUTOR, "trace", "fetch http://192.168.1.2:8080/ from node lan", "--json"],
                            capture_output=True, text=True, timeout=60)
    found = json.loads(result.stdout)
    assert result.returncode == 1 and "`-P FORWARD DROP` drops packets from eth1 to docker0" in found["dies"]
    assert found["hint"] == ("Let the published port through: iptables -A DOCKER -d 172.18.0.2/32 ! -i docker0 "
                             "-o docker0 -p tcp -m tcp --dport 80 -j ACCEPT")
