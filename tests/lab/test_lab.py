"""The lab's life cycle and what its host looks like, on real namespaces, in every mode.

Up/down leave nothing behind (no process, socket or namespace); the lab host matches the
notes' container (`lab`, eth0 172.17.0.3/16, default via 172.17.0.1, resolv.conf 8.8.8.8).
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from labkit import (
    alive,
    assert_no_trace,
    cmdline,
    holders,
    lab_identity,
    lab_processes,
    lab_socket,
    listening_sockets,
    machine_snapshot,
    ns_inode,
    run_ok,
    running,
    wait_until,
)
from tutor.lab import client, control, door, lifecycle, sandbox, world

pytestmark = pytest.mark.lab

def test_up_is_idempotent_and_down_leaves_nothing(mode, lab_name):
    before = machine_snapshot()["ip -d link"]
    info, started = lifecycle.up(lab_name)
    again, started_again = lifecycle.up(lab_name)
    assert started and not started_again
    assert (again.pid, again.mode) == (info.pid, mode)
    assert control.status(lab_name) == info
    assert lab_socket(lab_name) in listening_sockets()
    identity = lab_identity(info.pid)
    # the lab is really elsewhere: none of its namespaces is the test's own
    for kind in ("pid", "net", "mnt", "uts", "ipc"):
        assert identity[kind] != ns_inode(os.getpid(), kind)
    assert lifecycle.down(lab_name) is True
    assert control.status(lab_name) is None
    assert lifecycle.down(lab_name) is False
    assert_no_trace(lab_name, info.pid, identity)
    assert machine_snapshot()["ip -d link"] == before


@pytest.mark.serial   # times `down` against 1 s: the other workers' load would count in it
def test_down_does_not_wait_for_the_machines_init(mode, lab_name):
    """A process orphaned in the lab (its nsenter was killed, as the console's Ctrl-C does) is
    reparented to the machine's init, which the lab's PID 1 must wait for as it exits; down
    returns as soon as nothing of the lab is alive, however lazily that init reaps."""
    info, _ = lifecycle.up(lab_name)
    identity = lab_identity(info.pid)
    outside = client.popen("sleep 1000", info=info, stdin=subprocess.DEVNULL)
    assert wait_until(lambda: any(cmdline(p) == ["sleep", "1000"]
                                  for p in lab_processes(identity["pid"])))
    sleeper = next(p for p in lab_processes(identity["pid"]) if cmdline(p) == ["sleep", "1000"])
    outside.kill()
    outside.wait()
    start = time.monotonic()
    assert lifecycle.down(lab_name)
    took = time.monotonic() - start
    assert not alive(sleeper)
    assert lab_processes(identity["pid"]) in ([], [info.pid])   # at most the exiting agent
    assert lab_socket(lab_name) not in listening_sockets()
    assert not holders("net", identity["net"]) and not holders("mnt", identity["mnt"])
    assert took < 1.0, f"down took {took:.2f} s"


def test_kill_then_up_again(mode, lab_name):
    info, _ = lifecycle.up(lab_name)
    identity = lab_identity(info.pid)
    lifecycle.kill(lab_name)
    assert_no_trace(lab_name, info.pid, identity)
    fresh, started = lifecycle.up(lab_name)
    assert started and fresh.pid != info.pid
    assert run_ok("hostname", fresh).strip() == "lab"


def test_two_labs_are_separate(mode, lab_name):
    other = lab_name + "-b"
    try:
        one, _ = lifecycle.up(lab_name)
        two, _ = lifecycle.up(other)
        assert one.pid != two.pid
        run_ok("ip netns add only-in-one", one)
        assert running(lab_name).namespaces == ("only-in-one",)
        assert running(other).namespaces == ()
        assert lab_identity(one.pid, lab_name)["net"] != lab_identity(two.pid, other)["net"]
    finally:
        lifecycle.down(other)


def test_lab_host_looks_like_the_notes(mlab):
    assert run_ok("hostname", mlab).strip() == world.LAB_HOSTNAME == "lab"
    lo = run_ok("ip -o link show lo", mlab)
    assert "<LOOPBACK,UP,LOWER_UP>" in lo
    eth0 = run_ok("ip -o -4 addr show dev eth0", mlab)
    assert "inet 172.17.0.3/16" in eth0
    assert "inet 192.168.1.2/24" in run_ok("ip -o -4 addr show dev eth1", mlab)
    assert run_ok("ip route show default", mlab).split()[:5] == ["default", "via", "172.17.0.1",
                                                                "dev", "eth0"]
    assert run_ok("ip netns", mlab) == ""
    assert run_ok("ls -A /run/netns", mlab) == ""
    assert run_ok("cat /etc/resolv.conf", mlab) == "nameserver 8.8.8.8\n"
    assert run_ok("cat /etc/hosts", mlab) == sandbox.HOSTS
    assert run_ok("cat /proc/sys/net/ipv4/ip_forward", mlab).strip() == "0"
    assert run_ok("id -u", mlab).strip() == "0"


def test_etc_netns_exists_empty_and_writable(mlab):
    assert run_ok("test -d /etc/netns && ls -A /etc/netns", mlab) == ""
    run_ok("mkdir -p /etc/netns/red && echo 'nameserver 9.9.9.9' > /etc/netns/red/resolv.conf",
           mlab)
    assert run_ok("cat /etc/netns/red/resolv.conf", mlab) == "nameserver 9.9.9.9\n"


def test_student_can_do_the_exercises_as_root_of_the_lab(mlab):
    """The powers the lessons need: namespaces, veth, bridge, sysctl, iptables NAT."""
    run_ok("ip netns add red && ip link add veth-red type veth peer name veth-red-br "
           "&& ip link set veth-red netns red && ip link add v-net-0 type bridge "
           "&& ip link set veth-red-br master v-net-0 && ip -n red addr add 192.168.15.1/24 "
           "dev veth-red && ip -n red link set veth-red up", mlab)
    assert "192.168.15.1/24" in run_ok("ip netns exec red ip -o addr", mlab)
    run_ok("sysctl -w net.ipv4.ip_forward=1", mlab)
    assert run_ok("cat /proc/sys/net/ipv4/ip_forward", mlab).strip() == "1"
    run_ok("iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE", mlab)
    assert "MASQUERADE" in run_ok("iptables -t nat -S POSTROUTING", mlab)
    assert running().namespaces == ("red",)


def test_reset_gives_a_fresh_lab(mlab):
    run_ok("ip netns add red && mkdir /etc/netns/red && echo junk > /etc/hosts "
           "&& ip link add junk0 type bridge && sysctl -w net.ipv4.ip_forward=1", mlab)
    lifecycle.reset()
    info = running()
    assert info.pid == mlab.pid and info.namespaces == ()
    assert run_ok("cat /etc/hosts", info) == sandbox.HOSTS
    assert run_ok("ls -A /etc/netns", info) == ""
    assert "junk0" not in run_ok("ip -o link", info)
    assert run_ok("cat /proc/sys/net/ipv4/ip_forward", info).strip() == "0"
    assert "inet 172.17.0.3/16" in run_ok("ip -o -4 addr show dev eth0", info)
    assert run_ok("dig +short +time=2 +tries=1 @8.8.8.8 google.com", info).strip()


def _world_answers(info) -> None:
    out = run_ok("ping -c 1 -W 1 172.17.0.1 >/dev/null && dig +short +time=2 +tries=1 @8.8.8.8 "
                 "www.naver.com && curl -sS -o /dev/null -w '%{http_code}\\n' http://www.naver.com/ "
                 "&& lan ping -c 1 -W 1 192.168.1.2 >/dev/null && echo lan-ok", info)
    assert out.split()[-2:] == ["302", "lan-ok"], out


def test_resets_back_to_back_and_after_a_pause_each_give_a_working_world(mlab):
    """A reset switches to the network the agent built ahead while idle (or builds one when
    it comes too soon): either way the world answers and nothing of before is left."""
    for pause in (0.3, 0.0, 0.0, 0.3):
        run_ok("ip link add junk0 type bridge && lan ip route add 10.9.0.0/24 via 192.168.1.2", mlab)
        time.sleep(pause)
        lifecycle.reset()
        info = control.status()
        assert "junk0" not in run_ok("ip -o link", info)
        assert "10.9.0.0" not in run_ok("lan ip route", info)
        _world_answers(info)
    assert run_ok("ls /run/tutor/world", info).split() == ["internet", "lan"]


def _spare_ready(info) -> bool:
    mounts = run_ok("cut -d' ' -f5 /proc/self/mountinfo", info).split()
    return {"/run/tutor/spare/internet", "/run/tutor/spare/lan"} <= set(mounts)


def test_the_agent_builds_the_next_reset_ahead_and_a_reset_uses_it(mlab):
    """Once the lab is quiet the next reset's world stands ready (held under /run/tutor/spare);
    a reset takes it, and the agent builds another."""
    assert wait_until(lambda: _spare_ready(mlab), 10)
    lifecycle.reset()
    info = control.status()
    assert wait_until(lambda: _spare_ready(info), 10)
    _world_answers(info)


def test_a_throwaway_lab_builds_no_spare_until_its_first_reset(mode):
    """selftest's lab (tethered to it) does not build the next reset's world at start, which
    would take a core from the steps selftest runs; once reset, it builds one as any lab does."""
    starting = lifecycle.start_throwaway("test-spare")
    try:
        info = starting.wait()
        time.sleep(0.6)   # a lab that builds one starts 50 ms after it is up
        assert not _spare_ready(info)
        lifecycle.reset(info.name)
        assert wait_until(lambda: _spare_ready(info), 10)
    finally:
        starting.stop()
    assert control.status(info.name) is None


@pytest.mark.parametrize("end", ["stop", "died"])
def test_a_throwaway_lab_stops_when_let_go_and_leaves_nothing(mode, monkeypatch, end):
    """selftest's lab stops when it lets go of the tether, asking the agent nothing (three round
    trips fewer than `down`, issue 15), and waits, as `down` does, until nothing of the lab is
    left. If the agent died first, nothing is left either."""
    starting = lifecycle.start_throwaway(f"test-letgo-{end}")
    try:
        info = starting.wait()
        identity = lab_identity(info.pid, info.name)
        where = door.checked_folder()
        assert where and f"{info.name}.sock" in os.listdir(where)
        asked: list[str] = []
        real = control.request

        def spy(op, *args, **kwargs):   # what an agent answered
            reply = real(op, *args, **kwargs)
            asked.append(op)
            return reply

        monkeypatch.setattr(control, "request", spy)
        monkeypatch.setattr(lifecycle, "request", spy)
        if end == "died":
            os.kill(info.pid, 9)
            assert wait_until(lambda: not alive(info.pid))
        starting.stop()
        assert asked == []
        assert control.status(info.name) is None
        assert not [e for e in os.listdir(where) if e.startswith(info.name + ".")]
        # (the agent may still be exiting, waiting for the machine's init: as after `down`)
        assert_no_trace(info.name, info.pid, identity)
    finally:
        starting.stop()
        lifecycle.down(starting.name)


def test_commands_entering_while_the_agent_builds_ahead_land_on_the_lab_host(mlab):
    """The agent builds the next reset's network in a child: a command joining the lab at
    that moment must still find the lab host (eth0, eth1), never a half-built spare."""
    for _ in range(2):
        deadline = time.monotonic() + 0.4
        while time.monotonic() < deadline:
            links = run_ok("ip -o link show", mlab)
            assert "eth0@" in links and "eth1@" in links, links
        lifecycle.reset()


def test_kill_all_inside_the_lab_spares_the_agent(mlab):
    client.run("kill -9 -1", info=mlab)
    assert control.status() is not None
    assert run_ok("hostname", mlab).strip() == "lab"


def test_lab_sees_only_its_own_processes(mlab):
    """The machine's processes (this test's among them) are invisible from inside."""
    out = run_ok("ps -eo pid=,args=", mlab)
    pids = [int(line.split()[0]) for line in out.splitlines()]
    assert 1 in pids and len(pids) < 10, out
    assert "pytest" not in out
    assert "tutor.lab.agent" in run_ok("tr '\\0' ' ' < /proc/1/cmdline", mlab)


def test_what_a_killed_lab_left_goes_when_the_next_starts(mode, lab_name):
    """A lab killed outright (or tethered to a selftest that died) cannot clean up after
    itself: its socket file, reset lock and cgroups go when the next lab of the user starts."""
    info, _ = lifecycle.up(lab_name)
    run_ok("true", info)                         # (root: its commands made its cgroups)
    # Under the folder's start lock, so that a lab another test starts meanwhile does not
    # sweep the leftovers before they are seen (if one does after, it shows the same thing).
    where = os.path.dirname(lab_socket(lab_name))
    lock = lifecycle._start_lock(where)
    try:
        os.kill(info.pid, 9)
        assert wait_until(lambda: not alive(info.pid))
        assert os.path.exists(lab_socket(lab_name))
    finally:
        os.close(lock)
    other = lab_name + "-next"
    try:
        lifecycle.up(other)
        assert not os.path.exists(lab_socket(lab_name))
        from tutor.lab.limits import _own_cgroup
        bases = [b for b in (_own_cgroup(c) for c in ("", "memory", "pids")) if b]
        assert not [b for b in bases if os.path.exists(f"{b}/netns-tutor-{lab_name}")]
    finally:
        lifecycle.down(other)
