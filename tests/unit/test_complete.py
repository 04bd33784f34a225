"""Tab completion in the console's prompt (`tutor.lab.complete`): a pure function of the line,
the lab's names and a folder lister, tested on a built LabState and a fake file tree."""

from __future__ import annotations

import pytest

from tutor.lab import HOST
from tutor.lab.complete import complete, lab_commands
from tutor.lab.state import LabState, Link, NsState

COMMANDS = ["curl", "dig", "ip", "iptables", "iptables-save", "ping", "tcpdump", "lan", "echo"]
TREE = {"/": ["etc/", "proc/", "root/"], "/etc/": ["hosts", "hostname", "netns/", ".hidden", "my notes"],
        "/etc/netns/": []}


def _state() -> LabState:
    def ns(name: str, *links: str) -> NsState:
        return NsState(name, {l: Link(l, name, i) for i, l in enumerate(links, 1)})
    return LabState(namespaces=["blue", "red"],
                    ns={HOST: ns(HOST, "lo", "eth0", "v-net-0"), "red": ns("red", "lo", "veth-red"),
                        "blue": ns("blue", "lo", "veth-blue")})


def _complete(line: str, cursor: int | None = None):
    return complete(line, len(line) if cursor is None else cursor, _state(), COMMANDS,
                    lambda folder: TREE.get("/" + folder.lstrip("/"), []))   # relative to /, as list_folder


@pytest.mark.parametrize("line, expected", [
    ("pi", "ping "),                                    # one command: put in whole, a space after
    ("ip net", "ip netns "),                            # ip's objects
    ("ip netns e", "ip netns exec "),
    ("ip netns exec r", "ip netns exec red "),          # a namespace of the lab
    ("ip netns exec red pi", "ip netns exec red ping "),  # then a command again
    ("ip netns del b", "ip netns del blue "),
    ("ip -n r", "ip -n red "),
    ("ip -n red link set v", "ip -n red link set veth-red "),   # the interfaces of that namespace
    ("ip netns exec blue ip link set dev v", "ip netns exec blue ip link set dev veth-blue "),
    ("ip link set v", "ip link set v-net-0 "),          # no namespace named: the lab host's
    ("ip link set veth-red netns b", "ip link set veth-red netns blue "),
    ("ip addr add 10.0.0.1/24 dev e", "ip addr add 10.0.0.1/24 dev eth0 "),
    ("iptables -t nat -A POSTROUTING -o e", "iptables -t nat -A POSTROUTING -o eth0 "),
    ("tcpdump -i v", "tcpdump -i v-net-0 "),
    ("cat /e", "cat /etc/"),                            # a folder: no space, the next Tab goes in
    ("cat /etc/n", "cat /etc/netns/"),
    ("cat etc/hostn", "cat etc/hostname "),             # relative to /, where commands start
    ("lan pi", "lan ping "),                            # a world machine runs a command
])
def test_one_candidate_is_put_in_whole(line, expected):
    result = _complete(line)
    assert (result.line, result.cursor) == (expected, len(expected))


@pytest.mark.parametrize("line, expected, choices", [
    ("ipt", "iptables", ("iptables", "iptables-save")),     # as far as they agree
    ("ip netns exec ", "ip netns exec ", ("blue", "red")),   # nothing in common: nothing put in
    ("ip link set dev ", "ip link set dev ", ("eth0", "lo", "v-net-0")),
    ("cat /etc/ho", "cat /etc/host", ("/etc/hostname", "/etc/hosts")),
])
def test_several_candidates_complete_their_common_part(line, expected, choices):
    result = _complete(line)
    assert (result.line, result.cursor, result.choices) == (expected, len(expected), choices)


@pytest.mark.parametrize("line", ["zz", "ip netns exec nosuch ip link set x", "ping 10.0.0.", "cat /nope/",
                                  "ip -n nosuch link set v", "echo hello w"])
def test_no_candidate_changes_nothing(line):
    result = _complete(line)
    assert (result.line, result.cursor, result.choices) == (line, len(line), ())


@pytest.mark.parametrize("line, expected", [
    ('cat "/etc/hosts', 'cat "/etc/hosts" '),           # an open quote is kept, and closed after it
    ("cat '/etc/net", "cat '/etc/netns/"),              # a folder: left open, for the next Tab
    ('cat "/etc/"ho', "cat /etc/host"),                 # closed quotes: the word is read whole
    ("cat /etc/my", "cat /etc/my\\ notes "),              # a space in a name is escaped
    ("cat '/etc/my", "cat '/etc/my notes' "),           # (not inside quotes)
    ("cat /etc/my\\ n", "cat /etc/my\\ notes "),          # an escaped space is part of the word
    ("ip netns add red && ip netns exec r", "ip netns add red && ip netns exec red "),
    ("ip netns add red; pi", "ip netns add red; ping "),   # a new command after ; | && …
    ("ip -br link | tcpdump -i v", "ip -br link | tcpdump -i v-net-0 "),
    ("echo $(ip netns exec b", "echo $(ip netns exec blue "),
    ("lan ip link set dev e", "lan ip link set dev eth0 "),   # a world machine's own interfaces
])
def test_quotes_escapes_and_command_breaks_are_read_as_bash_reads_them(line, expected):
    result = _complete(line)
    assert (result.line, result.cursor) == (expected, len(expected)), result


def test_a_world_machine_has_its_own_interfaces_not_the_lab_hosts():
    assert _complete("lan ip addr show dev ").choices == ("eth0", "lo")
    assert _complete("internet tcpdump -i v").choices == ()     # v-net-0 is the lab host's


def test_a_word_in_the_middle_of_the_line_is_completed_where_the_cursor_is():
    line = "ip netns exec r ping 10.0.0.2"
    result = _complete(line, cursor=len("ip netns exec r"))
    assert result.line == "ip netns exec red ping 10.0.0.2"
    assert result.cursor == len("ip netns exec red ")       # past the space that was there


def test_hidden_files_only_when_asked_for():
    assert _complete("cat /etc/.").line == "cat /etc/.hidden "
    assert "/etc/.hidden" not in _complete("cat /etc/").choices


def test_the_lab_commands_are_found_on_the_path(tmp_path):
    (tmp_path / "mytool").write_text("#!/bin/sh\n")
    (tmp_path / "mytool").chmod(0o755)
    (tmp_path / "notes.txt").write_text("")
    found = lab_commands(f"/run/tutor/bin:{tmp_path}:/nonexistent")
    assert "mytool" in found and "notes.txt" not in found
    assert {"lan", "internet", "tcpdump", "echo"} <= set(found)
