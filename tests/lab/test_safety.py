"""Whatever is typed in the lab leaves the machine exactly as it was — in every mode.

Each test snapshots the machine (links, addresses, routes, rules, firewall, sysctls, files,
mounts; see `labkit.machine_snapshot`), lets the lab do its worst as the lab's root, and
compares byte for byte. Canaries prove the hostile commands really ran inside the lab.
"""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from labkit import (
    REPO,
    THP,
    TUTOR,
    assert_no_trace,
    cmdline,
    diff,
    lab_identity,
    lab_processes,
    machine_snapshot,
    run_ok,
    running,
    wait_until,
)
from tutor.lab import client, control, lifecycle
from tutor.lab.door import LAB_UIDS

pytestmark = pytest.mark.lab

HOSTILE = [
    "ip link del eth0",
    "ip link add evil type dummy",
    "ip link add evil0 type bridge && ip link set evil0 up",
    "ip addr add 10.66.66.66/24 dev lo",
    "ip route add 10.77.0.0/16 via 127.0.0.1",
    "iptables -F",
    "iptables -P INPUT DROP",
    "iptables -t nat -A POSTROUTING -j MASQUERADE",
    "ip6tables -P INPUT DROP",
    "nft flush ruleset",
    "nft add table inet evil",
    "sysctl -w net.ipv4.ip_forward=1",
    "sysctl -w net.ipv4.conf.all.forwarding=1",
    "sysctl -w vm.swappiness=1",
    "sysctl -w kernel.domainname=evil",
    "echo 1 > /proc/sys/vm/drop_caches",
    "hostname x",
    "rm -rf /etc/hosts",
    "echo bad > /etc/resolv.conf",
    "touch /root/x",
    "touch /x",
    "touch /work/x",
    f"touch {REPO}/x",
    "touch /tmp/x",
    "mkdir /etc/netns/evil",
    "mkdir -p /etc/cni/net.d && echo '{}' > /etc/cni/net.d/evil.conf",
    "mkdir -p /var/lib/cni/networks/evil && touch /var/lib/cni/x /var/lib/x",
    "ip netns add evil",
    "echo x > /dev/shm/x",
    "ipcmk -M 4096",
    "mount -t tmpfs t /mnt",
    "umount -l /etc",
    "mount -o remount,rw /",
]

# Each undoes one of the lab's guards (or tries to), then uses it.
ESCALATIONS = [
    f"mount -o remount,bind,rw /; touch /x /work/x {REPO}/x",
    "mount -o remount,rw /work; touch /work/x",
    "umount -l /etc; rm -f /etc/hosts; echo bad > /etc/resolv.conf; mkdir -p /etc/netns/evil2",
    "mount -o remount,bind,rw /proc/sys; sysctl -w vm.swappiness=1 kernel.domainname=evil",
    "umount -l /proc/sys; sysctl -w vm.swappiness=1; echo 1 > /proc/sys/vm/drop_caches",
    "mount -t proc proc /mnt && echo 1 > /mnt/sys/vm/swappiness",
    "umount -l /sys; mount -t sysfs sysfs /sys; echo {thp} > " + THP,
    "ip netns add e; ip netns exec e sh -c 'echo {thp} > " + THP + "'",
    "umount -l /tmp; touch /tmp/x",
    "umount -l /dev/shm; echo x > /dev/shm/x",
    "umount -l /root; touch /root/x",
    "umount -l /var/lib/cni; umount -l /var/lib; mkdir -p /var/lib/cni; touch /var/lib/cni/x /var/lib/x",
    "umount -l /run; mkdir -p /run/netns; touch /run/netns/x",
    "umount -l /proc; umount -l /proc; ls /proc",
    "unshare -Urm sh -c 'mount -o remount,bind,rw / && touch /x'",
    "kill -9 -1",
]


def _other_thp_value() -> str:
    """A transparent_hugepage mode other than the current one (to try to set it)."""
    text = Path(THP).read_text()
    current = text[text.index("[") + 1:text.index("]")]
    return next(v for v in ("never", "madvise", "always") if v != current and v in text)


@pytest.fixture
def machine():
    """The machine's snapshot before the test; a transparent_hugepage change is undone after."""
    before = machine_snapshot()
    yield before
    if Path(THP).read_text() != before[THP]:   # only if the lab escaped: put it back
        chosen = before[THP][before[THP].index("[") + 1:before[THP].index("]")]
        Path(THP).write_text(chosen)


def _assert_unchanged(before: dict[str, str]) -> None:
    changed = diff(before, machine_snapshot())
    assert not changed, "the lab changed the machine:\n" + "\n".join(changed)


@pytest.mark.serial   # compares the whole machine before and after
def test_hostile_commands_change_nothing_on_the_machine(mode, mlab, machine):
    for cmd in HOSTILE:
        client.run(cmd, info=mlab, timeout=10)
    # canaries: the commands did run, in the lab
    assert run_ok("hostname", mlab).strip() == "x"
    assert "eth0" not in run_ok("ip -o link", mlab)
    assert run_ok("cat /proc/sys/net/ipv4/ip_forward", mlab).strip() == "1"
    assert run_ok("ls /root /dev/shm", mlab).split() == ["/dev/shm:", "x", "/root:", "x"]
    assert "evil" in run_ok("ip netns", mlab)
    assert "inet evil" in run_ok("nft list tables", mlab)
    assert run_ok("ls /var/lib/cni", mlab).split() == ["networks", "x"]   # (/etc went with umount)
    _assert_unchanged(machine)
    for path in ("/var/lib/cni/x", "/var/lib/x", "/etc/cni/net.d/evil.conf"):
        assert not os.path.lexists(path), f"the lab wrote {path} on the machine"


@pytest.mark.serial   # compares the whole machine before and after
def test_undoing_the_guards_changes_nothing_on_the_machine(mode, mlab, machine):
    thp = _other_thp_value()
    for cmd in ESCALATIONS:
        client.run(cmd.format(thp=thp), info=mlab, timeout=10)
    _assert_unchanged(machine)
    assert control.status() is not None, "kill -9 -1 inside the lab must not end the lab"


def test_var_lib_cni_is_each_labs_own_and_empty(mode, lab_name):
    """CNI's host-local keeps its leases in /var/lib/cni: in a lab that is an empty tmpfs of its
    own, never the machine's folder (even where the machine has one) nor another lab's."""
    other = lab_name + "-b"
    try:
        one, _ = lifecycle.up(lab_name)
        two, _ = lifecycle.up(other)
        assert run_ok("ls -A /var/lib/cni", one) == run_ok("ls -A /var/lib/cni", two) == ""
        run_ok("mkdir -p /var/lib/cni/networks/mynet && echo pod1 > /var/lib/cni/networks/mynet/10.22.0.2 "
               "&& mkdir -p /etc/cni/net.d && echo '{}' > /etc/cni/net.d/10-mynet.conf", one)
        assert run_ok("cat /var/lib/cni/networks/mynet/10.22.0.2", one) == "pod1\n"
        assert run_ok("ls -A /var/lib/cni; ls -A /etc/cni/net.d 2>/dev/null || true", two) == ""
        assert not os.path.lexists("/var/lib/cni/networks/mynet/10.22.0.2")
        assert not os.path.lexists("/etc/cni/net.d/10-mynet.conf")
        assert "tmpfs" in run_ok("stat -f -c %T /var/lib/cni", one)
        lifecycle.reset(lab_name)
        assert run_ok("ls -A /var/lib/cni; ls -A /etc/cni/net.d 2>/dev/null || true", one) == ""
    finally:
        lifecycle.down(other)


def test_lab_root_is_not_the_machines_root(mlab):
    """Outside its own namespaces the lab's root is an unprivileged id: one of its own when
    root starts the lab, else the user who did — never uid 0. So are the processes it runs."""
    shell = client.popen("sleep 30", stdin=subprocess.DEVNULL)
    try:
        pid_ns = lab_identity(mlab.pid)["pid"]
        assert wait_until(lambda: any(cmdline(p) == ["sleep", "30"] for p in lab_processes(pid_ns)))
        agent_uid = Path(f"/proc/{mlab.pid}/status").read_text().split("Uid:")[1].split()[0]
        if os.geteuid() == 0:
            assert int(agent_uid) in LAB_UIDS
        expected = agent_uid if os.geteuid() == 0 else str(os.getuid())
        checked = []
        for pid in lab_processes(pid_ns):
            try:   # a short-lived lab process (the spare network's builder) may end meanwhile
                status = Path(f"/proc/{pid}/status").read_text().splitlines()
                checked.append(cmdline(pid))
            except (FileNotFoundError, ProcessLookupError):
                continue
            for key in ("Uid:", "Gid:"):
                ids = next(line for line in status if line.startswith(key)).split()[1:]
                assert ids == [expected] * 4, f"{cmdline(pid)} {key} {ids}"
            groups = next(line for line in status if line.startswith("Groups:")).split()[1:]
            assert "0" not in groups, f"{cmdline(pid)} keeps group root"
        assert ["sleep", "30"] in checked
    finally:
        shell.kill()
        shell.wait()
    assert run_ok("id -u", mlab).strip() == "0"


@pytest.mark.serial   # compares the whole machine before and after
def test_sigkill_of_the_agent_leaves_nothing(mode, lab_name, machine):
    info, _ = lifecycle.up(lab_name)
    run_ok("ip netns add red && ip link add br0 type bridge && ip link set br0 up "
           "&& iptables -t nat -A POSTROUTING -j MASQUERADE && mkdir /etc/netns/red", info)
    identity = lab_identity(info.pid)
    os.kill(info.pid, 9)
    assert_no_trace(lab_name, info.pid, identity)
    _assert_unchanged(machine)
    again, started = lifecycle.up(lab_name)
    assert started and again.pid != info.pid
    assert run_ok("ip netns", again) == ""


def _start_sleeper(lab_name: str) -> tuple[subprocess.Popen, int]:
    """`tutor shell -c 'sleep 1000'` from another process; returns it and the sleep's PID."""
    shell = subprocess.Popen([TUTOR, "shell", "-c", "sleep 1000"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid_ns = lab_identity(running(lab_name).pid)["pid"]
    found: list[int] = []

    def sleeping() -> bool:
        found[:] = [p for p in lab_processes(pid_ns) if cmdline(p) == ["sleep", "1000"]]
        return bool(found)

    assert wait_until(sleeping), "the sleep never started in the lab"
    return shell, found[0]


@pytest.mark.parametrize("how", ["sigkill", "down"])
def test_ending_the_lab_ends_what_runs_in_it(mode, lab_name, how):
    info, _ = lifecycle.up(lab_name)
    identity = lab_identity(info.pid)
    shell, sleeper = _start_sleeper(lab_name)
    try:
        if how == "sigkill":
            os.kill(info.pid, 9)
        else:
            assert lifecycle.down(lab_name)
        assert wait_until(lambda: not os.path.exists(f"/proc/{sleeper}")
                          or cmdline(sleeper) != ["sleep", "1000"]
                          or Path(f"/proc/{sleeper}/stat").read_text().split(") ")[1][0] == "Z")
        assert shell.wait(timeout=5) != 0
        assert_no_trace(lab_name, info.pid, identity)
        assert lab_processes(identity["pid"]) == []
    finally:
        if shell.poll() is None:
            shell.kill()
            shell.wait()


# Push a line into every terminal the lab process can reach: its controlling terminal and its
# standard descriptors (TIOCSTI); on the user's terminal the user's shell would run it next.
INJECT = """python3 -c '
import fcntl, os, termios
fds = [0, 1, 2]
try:
    fds.append(os.open("/dev/tty", os.O_RDWR))
except OSError:
    pass
for fd in fds:
    try:
        for c in b"echo PWNED\\n":
            fcntl.ioctl(fd, termios.TIOCSTI, bytes([c]))
    except OSError:
        pass
'"""


def _typed_into_terminal(args: list[str], stdin_is_tty: bool) -> bytes:
    """Run `tutor ARGS` on a fresh terminal (its controlling one); return what was left in that
    terminal's input queue once it ended, which is what the user's shell would read next."""
    master, slave = os.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[3] &= ~(termios.ICANON | termios.ECHO)    # read whatever is queued, line or not
    termios.tcsetattr(slave, termios.TCSANOW, attrs)

    def on_the_terminal() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        if not stdin_is_tty:
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)

    proc = subprocess.Popen([TUTOR, *args], stdin=slave if stdin_is_tty else None,
                            stdout=slave, stderr=slave, preexec_fn=on_the_terminal)
    try:
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                os.read(master, 65536)      # drain the output so nothing blocks
        assert proc.poll() is not None, "tutor did not finish"
        os.set_blocking(slave, False)
        try:
            return os.read(slave, 65536)
        except BlockingIOError:
            return b""
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)
        os.close(slave)


@pytest.mark.skipif(not os.path.exists("/usr/bin/python3"), reason="needs python3 in the lab")
@pytest.mark.parametrize("stdin_is_tty", [True, False], ids=["on-terminal", "stdin-redirected"])
def test_lab_cannot_type_into_the_users_terminal(mode, lab, stdin_is_tty):
    typed = _typed_into_terminal(["shell", "-c", INJECT], stdin_is_tty)
    assert b"PWNED" not in typed, f"the lab typed {typed!r} into the user's terminal"


def test_lab_commands_have_no_controlling_terminal(mlab):
    """client.run and client.popen, called from a process on a terminal, start the lab's
    command in a new session: the user's terminal is not its controlling terminal."""
    code = ("import subprocess; from tutor.lab import client\n"
            "probe = '(: </dev/tty) 2>/dev/null && echo has-tty || echo no-tty; ps -o tty= -p $$'\n"
            "print(client.run(probe).stdout)\n"
            "p = client.popen(probe, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)\n"
            "print(p.communicate()[0])\n")
    master, slave = os.openpty()

    def on_the_terminal() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             stdin=slave, preexec_fn=on_the_terminal, timeout=30)
    finally:
        os.close(master)
        os.close(slave)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split()
    assert lines.count("?") == 2, out.stdout          # ps: no terminal, twice
    assert lines.count("no-tty") == 2, out.stdout


def test_the_dns_lesson_edits_only_the_labs_own_files(mode, mlab):
    """The dns lesson writes the lab host's /etc/hosts and /etc/resolv.conf: the lab's private
    copies (its /etc overlay). The machine's files stay as they were, and a reset brings the
    lesson's start back."""
    from tutor.lessons.course import reset_lesson, run_script
    from tutor.lessons.lesson import BUILTIN_LESSONS, find_lesson, load_lessons

    machine_files = {p: Path(p).read_bytes() for p in ("/etc/hosts", "/etc/resolv.conf")}
    lessons = load_lessons(BUILTIN_LESSONS)
    lesson = find_lesson("dns", lessons=lessons)
    reset_lesson(lesson, mlab, lessons)
    start = run_ok("cat /etc/resolv.conf", mlab)
    assert start.startswith("nameserver 192.168.1.100 8.8.8.8\n")
    run_script([c for s in lesson.steps for c in s.commands if not c.looks_only], mlab, "dns")
    assert "192.168.1.3 db" in run_ok("cat /etc/hosts", mlab)
    assert "search mycompany.com prod.mycompany.com" in run_ok("cat /etc/resolv.conf", mlab)
    assert {p: Path(p).read_bytes() for p in machine_files} == machine_files
    reset_lesson(lesson, mlab, lessons)
    assert run_ok("cat /etc/resolv.conf", mlab) == start
    assert " db" not in run_ok("cat /etc/hosts", mlab)
    assert {p: Path(p).read_bytes() for p in machine_files} == machine_files
