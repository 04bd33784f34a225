"""A lint of the shipped lessons' marks: a command in a `sh look` fence is skipped when `tutor
reset` rebuilds a start state, so one that changed the lab would leave that start wrong. The
mark is the author's word; this test holds it against the words and shell syntax that change
things (an author who marks `ip link set … up` as looking hears it here, not from a student)."""

from __future__ import annotations

import re

import pytest

from tutor.lessons.lesson import BUILTIN_LESSONS, load_lessons

# Words that make a command a change whatever it starts with (`ip -d link add …`), the flags of
# the tools that change with a dash (`iptables -A`, `sysctl -w`), programs that write, and shell
# syntax that can hide a change (`cat > file`, `ping …; ip link del …`).
CHANGING = re.compile(r"[>;&|`$]"
                      r"|\b(?:add|del|delete|set|replace|change|flush|append|insert|up|down|serve)\b"
                      r"|(?:^|\s)-(?:[ADIRFNXPZw]|-(?:append|delete|insert|replace|flush|new-chain|"
                      r"delete-chain|policy|zero|write))(?=\s|$)"
                      r"|\b(?:mkdir|rm|rmdir|touch|tee|echo|printf|mv|cp|ln|chmod|kill|modprobe)\b"
                      r"|\bsed\s+-i\b"
                      r"|\bCNI_COMMAND=(?:ADD|DEL)\b")   # a CNI plugin run as a runtime runs it


# A line of looks stays a look: `tcpdump … & sleep 1; ping … >/dev/null; wait` is judged part by
# part, once output thrown away is taken out (any other redirection still counts as a change).
DISCARDED = re.compile(r"\s\d?>\s?/dev/null\b|\s2>&1")
SEQUENCE = re.compile(r"\s*(?:;|&&|\|\||&|\|)\s*")


# A command that ends in `&` leaves a process running (a server): that changes the lab too.
BACKGROUND = re.compile(r"(?<![&>])&\s*$")


def changes(command: str) -> bool:
    """True when `command` says something that changes the lab."""
    return bool(BACKGROUND.search(command)) or \
        any(CHANGING.search(part) for part in SEQUENCE.split(DISCARDED.sub(" ", command)))


@pytest.mark.parametrize("command", [
    "ip link set dev veth0 up", "ip -n red addr add 10.0.0.1/24 dev veth1", "ip netns del red",
    "iptables -t nat -A POSTROUTING -s 10.0.0.0/24 -j MASQUERADE", "iptables -P FORWARD ACCEPT",
    "iptables -t nat -F", "sysctl -w net.ipv4.ip_forward=1", "lan ip route flush proto static",
    "echo 'nameserver 8.8.8.8' > /etc/netns/red/resolv.conf", "mkdir -p /etc/netns/red",
    "ping -c 1 10.0.0.1; ip link del veth0", "cat /etc/resolv.conf | tee /tmp/x",
    "serve http blue 80 hi", "bridge link set dev brid10 state 0",
    "tcpdump -ni eth0 -w /tmp/x.pcap & sleep 1; ping -c 1 8.8.8.8", "ping -c 1 8.8.8.8 > /tmp/out; wait",
    "tcpdump -ni eth0 -c 2 & sleep 1; ip link del veth0 >/dev/null; wait", "ping -c 1 $(ip link del x)",
    "CNI_COMMAND=ADD CNI_NETNS=/run/netns/pod1 CNI_IFNAME=eth0 /usr/lib/cni/bridge < /etc/cni/net.d/10-mynet.conf",
    "python3 -m http.server 8000 >/dev/null 2>&1 &", "ip netns exec c1 python3 -m http.server 80 &",
])
def test_the_lint_sees_a_change(command):
    assert changes(command)


@pytest.mark.parametrize("command", [
    "ip netns", "ip -br link", "ip netns exec red ip -br addr", "ip -n red route", "bridge link",
    "iptables -t nat -L POSTROUTING -n", "iptables -S", "ping -c 3 10.200.0.3",
    "lan curl -s http://192.168.1.2:8080/", "cat /proc/sys/net/ipv4/ip_forward", "ip a show br0",
    "timeout 5 tcpdump -ni br0 -c 2 icmp & sleep 1; ip netns exec container10 ping -c 1 8.8.8.8 >/dev/null; wait",
])
def test_the_lint_lets_a_look_pass(command):
    assert not changes(command)


def test_commands_marked_as_looking_change_nothing():
    lessons = load_lessons(BUILTIN_LESSONS)
    marked = [(lesson, c) for lesson in lessons for s in lesson.steps for c in s.commands if c.looks_only]
    assert len(marked) >= 30          # every shipped lesson marks its looks (38 when written)
    assert {lesson.id for lesson, _ in marked} == {lesson.id for lesson in lessons}
    wrong = [f"{lesson.path}:{c.line}: {c.text}" for lesson, c in marked if changes(c.text)]
    assert not wrong, "marked `sh look` but changes the lab:\n" + "\n".join(wrong)


def test_setup_lines_are_never_marked():
    for lesson in load_lessons(BUILTIN_LESSONS):
        assert not any(c.looks_only for c in lesson.setup), lesson.id


def test_commands_not_marked_say_a_change():
    """The other way round: a look left unmarked is replayed by every reset (a `ping` in a start
    state costs seconds), so every unmarked step command of a shipped lesson says a change."""
    unmarked = [f"{lesson.path}:{c.line}: {c.text}" for lesson in load_lessons(BUILTIN_LESSONS)
                for s in lesson.steps for c in s.commands if not c.looks_only and not changes(c.text)]
    assert not unmarked, "changes nothing the lint can see, yet is not in a `sh look` fence:\n" + "\n".join(unmarked)
