"""The lab's two readers fill one model alike: what the checks read with `ip -j` and
`iptables-save` (`observe.read_state`) equals what the app's watcher reads over netlink
(`NetlinkReader`) and with its own `iptables-save` script, interface by interface and route by
route, on a real lab with every kind of cabling the lessons use."""

from __future__ import annotations

import pytest

from labkit import TOPOLOGY
from tutor.checks.lang import parse_check
from tutor.checks.observe import read_state
from tutor.lab import HOST, client, control
from tutor.lab.netlink import NetlinkReader, close_fds
from tutor.lab.state import IP_FORWARD, LabState, Link, NsState
from tutor.lab.watch import read_rules

pytestmark = pytest.mark.lab

def _netlink(names: list[str]) -> LabState:
    """The watcher's reading: one netlink dump per namespace (the agent calls the host "")."""
    _, fds = control.request_fds("netlink", len(names), namespaces=["" if n == HOST else n for n in names])
    assert len(fds) == len(names)
    lab = LabState(names[1:], {})
    try:
        for name, fd in zip(names, fds, strict=True):
            reader = NetlinkReader(fd, name)
            try:
                lab.ns[name], _ = reader.read()
            finally:
                reader.close()
    except BaseException:
        close_fds(fds[len(lab.ns) + 1:])
        raise
    return lab


def test_netlink_and_ip_j_fill_the_same_model(lab):
    result = client.run(TOPOLOGY, info=lab)
    assert result.returncode == 0, result.stdout + result.stderr
    seen = read_state([parse_check("forward")], info=lab, whole=True)   # `forward`: rules and ip_forward too
    names = [HOST, "blue", "red"]
    assert seen.namespaces == names[1:]
    watched = _netlink(names)
    for name in names:
        ip_j, netlink = seen.ns[name], watched.ns[name]
        assert list(netlink.links) == list(ip_j.links), name            # the same names, in order
        for dev in ip_j.links:
            assert netlink.links[dev] == ip_j.links[dev], (name, dev)
        assert netlink.routes == ip_j.routes, name
        assert not ip_j.error and not netlink.error
    # the facts the judges and the map lean on really are there (the comparison saw them)
    def host_link(dev: str) -> Link:
        found = seen.link(dev, HOST)
        assert found is not None, dev
        return found
    assert host_link("brport").master == "br0" and host_link("br0").kind == "bridge"
    assert host_link("same1").peer_index == host_link("same0").ifindex
    assert ("10.9.9.9", 32) in host_link("same0").addrs
    assert any(r.dest == "10.50.0.7/32" and r.scope == "link" for r in seen.ns["red"].routes)
    # one resolver: both readings pair the same veth ends (the netlink one has no netns ids)
    for name in names:
        for link in seen.ns[name].links.values():
            peer = seen.peer_of(link)
            other = watched.peer_of(watched.ns[name].links[link.name])
            assert (peer and (peer.ns, peer.name)) == (other and (other.ns, other.name)), link.name
    peer = seen.peer_of(host_link("veth0"))
    assert peer is not None and peer.ns == "red"
    assert [(n.address, n.lladdr) for n in watched.ns[HOST].neighs
            if n.dev == "veth0"] == [("10.200.0.3", "02:00:00:00:00:03")]
    # the watcher's iptables-save read equals the checks' on the lab host
    read_rules(watched)
    assert watched.ns[HOST].iptables == seen.ns[HOST].iptables
    assert watched.sysctls[(HOST, IP_FORWARD)] == seen.sysctls[(HOST, IP_FORWARD)] == "1"
    assert [r.text for r in seen.nat_rules("POSTROUTING")] == [
        "POSTROUTING -s 10.200.0.0/24 ! -o veth0 -j MASQUERADE"]
    assert watched.ns["red"].iptables is not None and watched.sysctls[("red", IP_FORWARD)] == "0"


def test_the_watcher_reads_the_rules_of_the_namespace_on_screen_only(lab):
    """After each command the watcher reads iptables of the lab host and the namespace on screen,
    not of every namespace (issue 15: a thousand namespaces cost a command nothing more)."""
    client.run("ip netns add red; ip netns add zz; ip netns exec red iptables -A INPUT -j ACCEPT", info=lab)
    state = LabState(["red", "zz"], {HOST: NsState(HOST), "red": NsState("red"), "zz": NsState("zz")})
    read_rules(state, ["red"])
    red = state.ns["red"].iptables
    assert state.ns[HOST].iptables is not None and red is not None
    assert [r.text for r in red.rules] == ["INPUT -j ACCEPT"]
    assert state.ns["zz"].iptables is None and ("zz", IP_FORWARD) not in state.sysctls
    read_rules(state, [])
    read_rules(state)                         # every namespace, as before
    assert state.ns["zz"].iptables is not None
