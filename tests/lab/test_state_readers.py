"""The lab's readers fill one model alike: what `ip -j` and `iptables-save` print (the form of
the recorded labs the unit tests judge, `observe.state_script`) equals what the checks read
(`observe.read_state`: netlink sockets from the agent's `look`, with the netns ids) and what the
app's watcher reads over netlink (`NetlinkReader`) and with its own `iptables-save` script,
interface by interface and route by route, on a real lab with every kind of cabling the lessons
use."""

from __future__ import annotations

import json
import time

import pytest

from labkit import TOPOLOGY
from tutor.checks.lang import parse_check
from tutor.checks.observe import LOOK_CHUNK, parse_state, read_state, reads, state_script
from tutor.lab import HOST, client, control
from tutor.lab.netlink import NetlinkReader, close_fds
from tutor.lab.state import IP_FORWARD, LabState, Link, NsState
from tutor.lab.watch import read_rules
from tutor.lab.watchfds import open_sockets

pytestmark = pytest.mark.lab

def _netlink(names: list[str]) -> LabState:
    """The watcher's reading: one netlink dump per namespace (the agent calls the host "")."""
    _, fds = control.request_fds("look", len(names), ids=False, namespaces=["" if n == HOST else n for n in names])
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
    checks = [parse_check("forward")]   # `forward`: rules and ip_forward too
    need = reads(checks, for_hints=True)
    seen = parse_state(client.run(state_script(need.sysctls, need.resolv, need.rules, need.lan), info=lab).stdout)
    names = [HOST, "blue", "red"]
    assert seen.namespaces == names[1:]
    watched = _netlink(names)
    live = read_state(checks, info=lab, whole=True)
    assert live.namespaces == seen.namespaces and list(live.ns) == list(seen.ns)
    assert live.ns[HOST].iptables == seen.ns[HOST].iptables and live.sysctls == seen.sysctls
    for name in names:
        ip_j, netlink, checked = seen.ns[name], watched.ns[name], live.ns[name]
        assert list(netlink.links) == list(ip_j.links) == list(checked.links), name   # the same names, in order
        for dev in ip_j.links:
            assert netlink.links[dev] == ip_j.links[dev] == checked.links[dev], (name, dev)
        assert netlink.routes == ip_j.routes == checked.routes, name
        # `ip netns list-id`, by name; and the lab host, which `ip` cannot name
        assert {i: n for i, n in checked.nsids.items() if n != HOST} == ip_j.nsids, name
        assert (HOST in checked.nsids.values()) == (name != HOST), name
        assert not ip_j.error and not netlink.error and not checked.error
    assert set(live.ns[HOST].nsids.values()) == {"red", "blue"}
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
            third = live.peer_of(live.ns[name].links[link.name])
            assert (peer and (peer.ns, peer.name)) == (other and (other.ns, other.name)) == \
                (third and (third.ns, third.name)), link.name
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


def test_a_fifo_among_the_namespaces_holds_up_neither_the_agent_nor_a_reading(lab):
    """`mkfifo /run/netns/trap` in the lab: a blocking open of it would wait for a writer, and
    the agent (one process serving every request) with it. Readings list it, read the rest, and
    the agent answers on."""
    result = client.run("ip netns add red && ip link add v0 type veth peer name v1 netns red "
                        "&& mkfifo /run/netns/trap", info=lab)
    assert result.returncode == 0, result.stdout + result.stderr
    t0 = time.monotonic()
    state = read_state([parse_check("link v1 in red up")], info=lab, whole=True)
    assert time.monotonic() - t0 < 5
    assert state.namespaces == ["red", "trap"]
    assert state.ns["trap"].error and not state.ns["trap"].links
    peer = state.peer_of(state.ns["red"].links["v1"])
    assert peer is not None and (peer.ns, peer.name) == (HOST, "v0")
    assert control.status(lab.name) is not None
    sockets = open_sockets(["trap", "red"])   # the watcher's requests
    close_fds(list(sockets.values()))
    assert list(sockets) == ["red"]


def test_netns_ids_are_named_across_many_namespaces(lab):
    """Thirty namespaces, each cabled to the lab host: the host's reading names every id as
    `ip netns list-id` does, and each namespace's names the lab host, so every cable's two ends
    pair up (one of them `peer_of` the other) without guessing."""
    script = "".join(f"ip netns add n{i}; ip link add h{i} type veth peer name c{i} netns n{i}\n" for i in range(30))
    assert client.run(script, info=lab).returncode == 0
    state = read_state([parse_check("link c0 in n0 up")], info=lab, whole=True)
    listed = json.loads(client.run("ip -j netns list-id", info=lab).stdout or "[]")   # (ids given by now)
    assert state.ns[HOST].nsids == {i["nsid"]: i["name"] for i in listed if "name" in i}
    assert len(state.ns[HOST].nsids) == 30
    for i in range(30):
        assert set(state.ns[f"n{i}"].nsids.values()) == {HOST}
        peer = state.peer_of(state.ns[HOST].links[f"h{i}"])
        assert peer is not None and (peer.ns, peer.name) == (f"n{i}", f"c{i}")
        back = state.peer_of(state.ns[f"n{i}"].links[f"c{i}"])
        assert back is not None and (back.ns, back.name) == (HOST, f"h{i}")


def test_a_whole_reading_asks_once_when_the_lab_fits_and_reads_every_namespace_once(lab, monkeypatch):
    """A reading of the whole lab (selftest's, a hint's) learns the names and reads them in one
    `look` when they fit in one (a round trip to the agent less per look, issue 15); past that,
    the rest in more. A namespace a student called `host` is listed, never taken for the lab host."""
    made = client.run("ip link add onhost type bridge && ip netns add host && ip -n host link add inside type bridge"
                      + "".join(f" && ip netns add n{i}" for i in range(4)), info=lab)
    assert made.returncode == 0, made.stdout + made.stderr
    looks: list[tuple] = []
    real = control.request_fds

    def spy(op, count, name=None, **args):
        looks.append((op, args.get("namespaces"), args.get("more")))
        return real(op, count, name, **args)

    monkeypatch.setattr(control, "request_fds", spy)
    checks = [parse_check("link onhost up")]

    def read() -> LabState:
        looks.clear()
        state = read_state(checks, info=lab, whole=True)
        assert "onhost" in state.ns[HOST].links and "inside" not in state.ns[HOST].links
        assert list(state.ns) == [HOST, *(n for n in state.namespaces if n != HOST)]
        for name in state.namespaces:
            if name != HOST:
                assert not state.ns[name].error and "lo" in state.ns[name].links, name
        return state

    state = read()
    assert sorted(state.namespaces) == sorted(["host", "n0", "n1", "n2", "n3"])
    assert [op for op, *_ in looks] == ["look"]
    more = client.run("".join(f"ip netns add m{i}\n" for i in range(LOOK_CHUNK + 20)), info=lab)
    assert more.returncode == 0, more.stderr
    state = read()
    assert len(state.namespaces) == LOOK_CHUNK + 25
    assert [op for op, *_ in looks] == ["look", "look"]
    asked = [n for _, names, _ in looks[1:] for n in names]
    assert len(asked) == len(set(asked)) == 26   # the rest, each once: 125 listed, 99 read first


def test_netns_ids_are_read_for_the_checks_that_need_them_or_for_hints(lab, monkeypatch):
    """A reading that only needs verdicts (selftest's: `hint_ids=False`) leaves the namespaces'
    ids for each other out, ~1 ms of each look (issue 15), unless one of its checks needs them
    to pass (`peer`, `no`, `masquerade`); a reading for hints has them, as every other one."""
    made = client.run("ip netns add red && ip link add v0 type veth peer name v1 netns red", info=lab)
    assert made.returncode == 0, made.stdout + made.stderr
    asked: list[bool] = []
    real = control.request_fds

    def spy(op, count, name=None, **args):
        asked.append(args.get("ids", True))
        return real(op, count, name, **args)

    monkeypatch.setattr(control, "request_fds", spy)
    peer = [parse_check("peer v0 with v1 in red")]
    link = [parse_check("link v1 in red")]
    for checks, hint_ids, named in ((link, False, False), (peer, False, True), (link, True, True),
                                    ([parse_check("no veth in red")], False, True),
                                    ([parse_check("masquerade 10.200.0.0/24")], False, True)):
        asked.clear()
        state = read_state(checks, info=lab, whole=True, hint_ids=hint_ids)
        assert asked == [named], (checks[0].text, hint_ids)
        assert bool(state.ns["red"].nsids) == bool(state.ns[HOST].nsids) == named, checks[0].text
        # without the ids a cable's ends still pair up where only they point at each other
        found = state.peer_of(state.ns[HOST].links["v0"])
        assert found is not None and (found.ns, found.name) == ("red", "v1"), checks[0].text
    assert reads(peer).ids and not reads(link).ids
    # the verdicts selftest needs are the same either way
    from tutor.checks.engine import judge_state
    for hint_ids in (False, True):
        state = read_state(peer + link, info=lab, whole=True, hint_ids=hint_ids)
        assert [judge_state(c, state).passed for c in peer + link] == [True, True]
