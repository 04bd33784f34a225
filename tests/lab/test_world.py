"""The simulated world answers from inside a lab: DNS at 8.8.8.8, the web, the LAN, and NAT.

Every packet here stays in the lab's own namespaces: 8.8.8.8, 203.0.113.x and 192.168.1.3 are
the lab's world nodes, not the outside world (the lab has no link to the machine's network).
"""

from __future__ import annotations

import ipaddress

import pytest

from labkit import run_ok
from tutor.lab import client, world

pytestmark = pytest.mark.lab

DIG = "dig +time=2 +tries=1 +short @8.8.8.8"
DOC_NET = ipaddress.ip_network("203.0.113.0/24")     # RFC 5737: never a real host
DOC_NET6 = ipaddress.ip_network("2001:db8::/32")      # RFC 3849


def records(name: str, rtype: str) -> list[str]:
    return [r.value for r in world.ZONE[name] if r.rtype == rtype]


@pytest.mark.parametrize("name", ["www.naver.com", "google.com", "www.google.com",
                                  "web.mycompany.com", "web.prod.mycompany.com"])
def test_dns_a_and_aaaa(mlab, name):
    a = run_ok(f"{DIG} {name} A", mlab).split()
    aaaa = run_ok(f"{DIG} {name} AAAA", mlab).split()
    assert a == records(name, "A") and a, f"{name} A: {a}"
    assert aaaa == records(name, "AAAA")
    assert all(ipaddress.ip_address(x) in DOC_NET for x in a)
    assert all(ipaddress.ip_address(x) in DOC_NET6 for x in aaaa)


def test_dns_cname_alias_resolves_through(mlab):
    out = run_ok(f"{DIG} www.mycompany.com A", mlab).split()
    assert out == ["web.mycompany.com.", "203.0.113.30"]
    assert run_ok(f"{DIG} www.mycompany.com CNAME", mlab).split() == ["web.mycompany.com."]


def test_dns_unknown_name_is_nxdomain(mlab):
    out = run_ok("dig +time=2 +tries=1 @8.8.8.8 no-such-host.example", mlab)
    assert "status: NXDOMAIN" in out


def test_lab_host_resolver_uses_8_8_8_8(mlab):
    found = {line.split()[0] for line in run_ok("getent ahosts www.naver.com", mlab).splitlines()}
    assert found == {"203.0.113.10", "2001:db8::10"}


NAT_TOPOLOGY = """
set -e
ip netns add c
ip link add br0 type bridge
ip link set br0 up
ip addr add 192.168.15.5/24 dev br0
ip link add veth-c type veth peer name veth-c-br
ip link set veth-c netns c
ip link set veth-c-br master br0
ip link set veth-c-br up
ip -n c link set lo up
ip -n c addr add 192.168.15.1/24 dev veth-c
ip -n c link set veth-c up
ip -n c route add default via 192.168.15.5
sysctl -qw net.ipv4.ip_forward=1
"""
MASQUERADE = "iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE"
PING = "ip netns exec c ping -c1 -W1 8.8.8.8"


def test_nat_is_what_lets_a_namespace_reach_the_internet(mlab):
    run_ok(NAT_TOPOLOGY, mlab)
    # the bridge side works: the namespace reaches the host
    run_ok("ip netns exec c ping -c1 -W1 192.168.15.5", mlab)
    without = client.run(PING, info=mlab)
    assert without.returncode != 0 and " 0 received" in without.stdout, without.stdout
    run_ok(MASQUERADE, mlab)
    assert " 1 received" in run_ok(PING, mlab)


def test_search_domains_in_a_namespace_resolv_conf(mlab):
    run_ok(NAT_TOPOLOGY + MASQUERADE + "\nmkdir -p /etc/netns/c\n"
           "printf 'nameserver 8.8.8.8\\nsearch mycompany.com prod.mycompany.com\\n' "
           "> /etc/netns/c/resolv.conf", mlab)
    assert run_ok("ip netns exec c getent hosts web", mlab).split() == ["203.0.113.30",
                                                                       "web.mycompany.com"]
    assert "search mycompany.com prod.mycompany.com" in run_ok(
        "ip netns exec c cat /etc/resolv.conf", mlab)
    # the lab host keeps its own resolv.conf, without the search line
    assert client.run("getent hosts web", info=mlab).returncode != 0


def test_web_redirects_as_in_the_notes(mlab):
    # (client.run reads text: the \r\n of HTTP arrive as \n)
    naver = run_ok("curl -si --max-time 5 http://www.naver.com/", mlab)
    assert naver.startswith("HTTP/1.1 302 Found\n")
    google = run_ok("curl -si --max-time 5 http://google.com/", mlab)
    assert google.startswith("HTTP/1.1 301 Moved Permanently\n")
    assert "\nLocation: http://www.google.com/\n" in google
    assert "<TITLE>301 Moved</TITLE>" in google
    follow = run_ok("curl -sL --max-time 5 http://google.com/", mlab)
    assert "www.google.com" in follow


def test_lab_host_reaches_the_lan(mlab):
    assert " 1 received" in run_ok("ping -c1 -W1 192.168.1.3", mlab)
    assert " 1 received" in run_ok("ping -c1 -W1 172.17.0.1", mlab)


def test_world_nodes_are_what_the_helpers_enter(mlab):
    lan = run_ok("lan ip -o -4 addr show dev eth0", mlab)
    assert "192.168.1.3/24" in lan
    internet = run_ok("internet ip -o -4 addr", mlab)
    assert "172.17.0.1/16" in internet and "8.8.8.8/32" in internet
    assert run_ok("ip netns", mlab) == ""
