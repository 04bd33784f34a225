"""The check language: every kind parses to the data the judges expect; bad lines are refused
with a sentence (which the lesson parser prefixes with file:line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tutor.checks import kinds
from tutor.checks.lang import Check, CheckSyntaxError, Where, parse_check

BEHAVIOUR = {"ping", "resolve", "fetch", "tcp"}
KIND_TESTS = Path(__file__).resolve().parent / "kinds"   # a kind added later brings its own test there

GOOD = [
    ("netns red", "netns", {"name": "red"}, Where()),
    ("link lo in red up", "link", {"dev": "lo", "type": None, "up": True}, Where("red")),
    ("link br0 up type bridge", "link", {"dev": "br0", "type": "bridge", "up": True}, Where()),
    ("link veth0 type veth", "link", {"dev": "veth0", "type": "veth", "up": False}, Where()),
    ("no veth in pod2", "no", {"what": "veth"}, Where("pod2")),
    ("link veth-red-br", "link", {"dev": "veth-red-br", "type": None, "up": False}, Where()),
    ("peer veth0 with veth1 in red", "peer", {"dev": "veth0", "peer": "veth1", "peer_ns": "red"}, Where()),
    ("peer veth1 in red with veth0", "peer", {"dev": "veth1", "peer": "veth0", "peer_ns": "host"}, Where("red")),
    ("master brid10 is br0", "master", {"dev": "brid10", "bridge": "br0"}, Where()),
    ("master p in red is b", "master", {"dev": "p", "bridge": "b"}, Where("red")),
    ("addr 10.200.0.3/24 on veth1 in red", "addr", {"ip": "10.200.0.3", "prefix": 24, "dev": "veth1"}, Where("red")),
    ("addr 10.201.0.1/24 on br0", "addr", {"ip": "10.201.0.1", "prefix": 24, "dev": "br0"}, Where()),
    ("route default via 10.201.0.1 in container10", "route",
     {"dest": "default", "via": "10.201.0.1", "dev": None}, Where("container10")),
    ("route 0.0.0.0/0 via 10.0.0.1", "route", {"dest": "default", "via": "10.0.0.1", "dev": None}, Where()),
    ("route 10.201.0.0/24 dev br0", "route", {"dest": "10.201.0.0/24", "via": None, "dev": "br0"}, Where()),
    ("route 10.0.0.5/32 dev eth0", "route", {"dest": "10.0.0.5/32", "via": None, "dev": "eth0"}, Where()),
    ("sysctl net.ipv4.ip_forward = 1", "sysctl", {"key": "net.ipv4.ip_forward", "value": "1"}, Where()),
    ("sysctl net.ipv4.ip_forward=1 in red", "sysctl", {"key": "net.ipv4.ip_forward", "value": "1"}, Where("red")),
    ("sysctl net/ipv4/ip_forward = 0", "sysctl", {"key": "net.ipv4.ip_forward", "value": "0"}, Where()),
    ("forward", "forward", {}, Where()),
    ("masquerade 10.201.0.0/24", "masquerade", {"subnet": "10.201.0.0/24"}, Where()),
    ("dnat tcp 80 to 192.168.15.2:80", "dnat", {"port": 80, "to_ip": "192.168.15.2", "to_port": 80}, Where()),
    ("dnat tcp 8080 to 192.168.15.2", "dnat", {"port": 8080, "to_ip": "192.168.15.2", "to_port": 8080}, Where()),
    ("resolv container10 nameserver 8.8.8.8", "resolv", {"ns": "container10", "nameserver": "8.8.8.8"}, Where()),
    ("ping 10.200.0.3 from host", "ping", {"ip": "10.200.0.3"}, Where()),
    ("ping 8.8.8.8 from container10", "ping", {"ip": "8.8.8.8"}, Where("container10")),
    ("resolve www.naver.com from container10", "resolve", {"name": "www.naver.com", "is": None}, Where("container10")),
    ("resolve google.com from red is 203.0.113.20", "resolve", {"name": "google.com", "is": "203.0.113.20"},
     Where("red")),
    ("fetch http://www.naver.com/ from container10 status 302", "fetch",
     {"url": "http://www.naver.com/", "status": 302}, Where("container10")),
    ("fetch http://192.168.1.2:8080/ from node lan", "fetch",
     {"url": "http://192.168.1.2:8080/", "status": None}, Where("lan", node=True)),
    ("tcp 192.168.1.2:80 from node lan", "tcp", {"ip": "192.168.1.2", "port": 80}, Where("lan", node=True)),
    ("tcp 172.17.0.3:22 from node internet", "tcp", {"ip": "172.17.0.3", "port": 22}, Where("internet", node=True)),
]


@pytest.mark.parametrize("line,kind,args,where", GOOD, ids=[g[0] for g in GOOD])
def test_good_lines(line, kind, args, where):
    check = parse_check(line)
    assert (check.kind, check.args, check.where) == (kind, args, where)
    assert check.text == line
    assert check.behaviour == (kind in BEHAVIOUR)


def test_every_kind_has_a_good_example():
    have = {g[1] for g in GOOD} | {p.stem.removeprefix("test_") for p in KIND_TESTS.glob("test_*.py")}
    assert have == set(kinds.names())


def test_spacing_is_normalised_into_the_text():
    assert parse_check("  netns    red ").text == "netns red"


def test_options_may_come_in_any_order():
    a = parse_check("link br0 up type bridge")
    b = parse_check("link br0 type bridge up")
    assert a.args == b.args
    c = parse_check("route default in red via 10.0.0.1")
    assert c.args["via"] == "10.0.0.1" and c.where == Where("red")


def test_layers_put_state_below_behaviour():
    order = ["netns", "link", "addr", "route", "sysctl", "masquerade", "resolv", "ping"]
    layers = [parse_check(line).layer for line in
              ["netns a", "link x", "addr 1.2.3.4/24 on x", "route default via 1.1.1.1",
               "sysctl net.ipv4.ip_forward = 1", "masquerade 10.0.0.0/24",
               "resolv a nameserver 8.8.8.8", "ping 1.1.1.1 from a"]]
    assert layers == sorted(layers) and len(set(layers)) == len(order)


def test_where_prints_like_the_check_language():
    assert str(Where()) == "host" and str(Where("red")) == "red"
    assert str(Where("lan", node=True)) == "node lan"


def test_checks_compare_by_their_text_and_place():
    assert parse_check("netns red") == parse_check("netns  red")
    assert isinstance(parse_check("forward"), Check)


BAD = [
    ("", "missing a check"),
    ("pingg 1.1.1.1 from red", "unknown check 'pingg'"),
    ("netns", "missing a namespace name"),
    ("netns red blue", "unexpected 'blue'"),
    ("no bridge in pod2", "`no` takes `veth`, not 'bridge'"),
    ("no veth in pod2 up", "unexpected 'up'"),
    ("netns ../etc", "is not a namespace name"),
    ("link", "missing an interface"),
    ("link veth0 in", "`in` needs a namespace"),
    ("link a/b", "is not an interface name"),
    ("link averyveryverylongname", "is not an interface name"),
    ("link eth0 in node lan", "`node` is only for behaviour checks"),
    ("peer veth0 veth1", "needs `with`"),
    ("peer veth0 with veth1 in node lan", "`node` is only for behaviour checks"),
    ("master brid10 br0", "missing `is BRIDGE`"),
    ("addr 10.200.0.3 on veth1", "needs its prefix, like 10.200.0.3/24"),
    ("addr 10.200.0.300/24 on veth1", "is not an IP address"),
    ("addr 10.200.0.3/abc on veth1", "has no valid prefix length"),
    ("addr 10.200.0.3/33 on veth1", "has no valid prefix length"),
    ("addr 10.200.0.3/24", "missing `on DEV`"),
    ("addr 10.200.0.3/24 on", "`on` needs an interface"),
    ("route 10.201.0.1/24 dev br0", "is not a network like"),
    ("route default via gateway", "gateway 'gateway' is not an IP address"),
    ("sysctl net.ipv4.ip_forward 1", "write `sysctl KEY = VALUE`"),
    ("sysctl net.ipv4.ip_forward =", "missing a value"),
    ("sysctl ../../etc/passwd = 1", "is not a sysctl name"),
    ("forward now", "unexpected 'now'"),
    ("masquerade 10.201.0.1/24", "is not a network like 10.201.0.0/24"),
    ("masquerade everything", "is not a network"),
    ("dnat udp 53 to 1.1.1.1:53", "write `dnat tcp PORT to IP:PORT`"),
    ("dnat tcp 80 192.168.15.2:80", "missing `to IP:PORT`"),
    ("dnat tcp 99999 to 1.1.1.1:80", "is not a port number"),
    ("dnat tcp 80 to 1.1.1.1:0", "is not a port number"),
    ("resolv container10 8.8.8.8", "missing `nameserver IP`"),
    ("resolv container10 nameserver dns.google", "is not an IP address"),
    ("ping 10.0.0.1", "`ping` needs `from X`"),
    ("ping 10.0.0.1 from", "`from` needs a namespace"),
    ("ping 10.0.0.1 from node moon", "`node` must be followed by `internet` or `lan`"),
    ("ping example.com from red", "ping target 'example.com' is not an IP address"),
    ("resolve www.naver.com", "`resolve` needs `from X`"),
    ("resolve www.naver.com from red is nowhere", "is not an IP address"),
    ("fetch www.naver.com from red", "is not an http:// URL"),
    ("fetch http://x/ from red status ok", "status 'ok' is not a number"),
    ("fetch http://x/ status 200", "`fetch` needs `from X`"),
    ("tcp 192.168.1.2 from node lan", "needs a port: write `tcp IP:PORT`, like 192.168.1.2:80"),
    ("tcp 192.168.1.2:http from node lan", "is not a port number"),
]


@pytest.mark.parametrize("line,message", BAD, ids=[b[0] or "empty" for b in BAD])
def test_bad_lines_are_refused_with_a_sentence(line, message):
    with pytest.raises(CheckSyntaxError) as err:
        parse_check(line)
    assert message in str(err.value)
