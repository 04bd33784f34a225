"""What the lab tests read from the *machine*: namespaces in use, listening sockets, a snapshot.

Everything here looks at the machine from outside the lab (the test process lives in the
machine's namespaces) and only reads: no packet is sent, nothing is written.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path

from accounts import plain_user  # noqa: F401  (the lab tests' second account)

REPO = Path(__file__).resolve().parents[2]
TUTOR = str(REPO / ".venv" / "bin" / "tutor")
SYSCTLS = ("net.ipv4.ip_forward", "vm.swappiness", "kernel.hostname",
           "net.ipv4.conf.all.forwarding", "kernel.domainname", "net.ipv6.conf.all.forwarding")
THP = "/sys/kernel/mm/transparent_hugepage/enabled"


def ns_inode(pid: int, kind: str) -> int:
    """Inode of /proc/PID/ns/KIND (the identity of that namespace)."""
    return os.stat(f"/proc/{pid}/ns/{kind}").st_ino


# (kind, inode) -> a descriptor of this process that keeps that namespace (see `lab_identity`)
_PINS: dict[tuple[str, int], int] = {}


def holders(kind: str, inode: int, started_before: int | None = None) -> list[str]:
    """Every process on the machine in namespace `kind:[inode]`, and every open descriptor of one
    (but the one `lab_identity` holds to keep that number the lab's).

    Zombies do not count: they have ended, even if a lazy init has not reaped them yet (a
    zombie still names its PID namespace). With `started_before` (see `boot_ticks`), neither do
    processes started later: the kernel reuses a freed namespace's inode number, and on a busy
    machine a new process can be in a new namespace that has the old one's number. (A process
    started earlier can enter one too: `lab_identity` pins the namespace, so no other can have
    its number.)
    """
    found = []
    target = f"{kind}:[{inode}]"
    pin = str(_PINS.get((kind, inode)))
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or not alive(int(pid)):
            continue
        if started_before is not None and _start_ticks(int(pid)) > started_before:
            continue
        try:
            if os.readlink(f"/proc/{pid}/ns/{kind}") == target:
                found.append(f"pid {pid}")
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target and (int(pid), fd) != (os.getpid(), pin):
                    found.append(f"pid {pid} fd {fd}")
        except OSError:
            continue
    return found


def boot_ticks() -> int:
    """Now, in the clock ticks since boot that /proc/PID/stat counts a start time in."""
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * os.sysconf("SC_CLK_TCK"))


def _start_ticks(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_until(predicate, timeout: float = 5.0, step: float = 0.01) -> bool:
    """Poll `predicate` until it is true or `timeout` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return bool(value)
        time.sleep(step)


def listening_sockets() -> list[str]:
    """Paths of the listening Unix sockets in the machine's network namespace."""
    names = []
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        # Flags 00010000: __SO_ACCEPTCON, a socket that listens
        if len(fields) >= 8 and int(fields[3], 16) & 0x10000:
            names.append(fields[7])
    return names


def run_ok(cmdline: str, info, **kw) -> str:
    """Run a command line in the lab; fail the test (showing its output) unless it exits 0."""
    from tutor.lab import client
    result = client.run(cmdline, info=info, **kw)
    assert result.returncode == 0, (
        f"`{cmdline}` exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result.stdout


def running(name: str | None = None):
    """The lab `name` (default: $TUTOR_LAB's) as `control.status` reads it; it must be running."""
    from tutor.lab import control
    info = control.status(name)
    assert info is not None, f"the lab {name or control.lab_name()!r} is not running"
    return info


def lab_socket(name: str, uid: int | None = None) -> str:
    """The control socket of lab `name` started by `uid` (default: this process's)."""
    from tutor.lab import door
    return door.socket_path(name, door.folder(uid))


KINDS = ("pid", "net", "mnt", "user", "uts", "ipc")


def lab_identity(pid: int, name: str | None = None) -> dict[str, int]:
    """The lab's namespaces, by inode, read while it runs (`name`: the lab if not $TUTOR_LAB).

    Each is kept open until `release_pins` (the lab's conftest calls it after each test): a
    namespace kept cannot end, so no new one gets its number while the test looks for what
    holds it — other tests make namespaces all the time. Root opens them off the agent. Its
    owner cannot (the agent is not dumpable): the agent hands them over, as it does to every
    command that enters the lab (`enter`)."""
    try:
        fds = [os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC) for kind in KINDS]
    except PermissionError:
        from tutor.lab import control, door
        _, given = control.request_fds("enter", len(door.NAMESPACES), name)
        if len(given) != len(door.NAMESPACES) or set(door.NAMESPACES) != set(KINDS):
            control.close_all(given)
            raise AssertionError(f"the lab {name!r} did not hand over its namespaces") from None
        by_kind = dict(zip(door.NAMESPACES, given, strict=True))
        fds = [by_kind[kind] for kind in KINDS]
    identity = {}
    for kind, fd in zip(KINDS, fds, strict=True):
        identity[kind] = os.fstat(fd).st_ino
        if (kind, identity[kind]) in _PINS:
            os.close(fd)
        else:
            _PINS[kind, identity[kind]] = fd
    return identity


def release_pins() -> None:
    """Let go of the namespaces `lab_identity` kept."""
    while _PINS:
        os.close(_PINS.popitem()[1])


def assert_no_trace(name: str, pid: int, identity: dict[str, int], uid: int | None = None) -> None:
    """Nothing of the lab left on the machine: process, control socket, any of its namespaces.

    `uid`: the user who started the lab (default: this process's)."""
    now = boot_ticks()
    assert wait_until(lambda: not alive(pid)), f"agent {pid} still runs"
    assert lab_socket(name, uid) not in listening_sockets()
    for kind, inode in identity.items():
        left = holders(kind, inode, started_before=now)
        assert not left, f"the lab's {kind} namespace is still held by {left}"


def lab_processes(pid_ns: int) -> list[int]:
    """Live processes on the machine inside the PID namespace with inode `pid_ns`."""
    return [int(h.split()[1]) for h in holders("pid", pid_ns) if "fd" not in h]


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().split("\0")[:-1]
    except OSError:
        return []


def _run(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except FileNotFoundError:
        return f"({argv[0]} not installed)"
    return f"rc={proc.returncode}\n{proc.stdout}{proc.stderr}"


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        return f"({exc.__class__.__name__}: {exc.strerror})"


def _listing(path: str) -> str:
    try:
        return "\n".join(sorted(os.listdir(path)))
    except OSError as exc:
        return f"({exc.__class__.__name__}: {exc.strerror})"


_COUNTERS = re.compile(r"\[\d+:\d+\]|packets \d+ bytes \d+")


def machine_snapshot(extra_paths: tuple[str, ...] = ()) -> dict[str, str]:
    """The machine state the lab must never change, as text, keyed by what it is.

    Traffic counters are blanked (the machine's own traffic moves them); everything else is
    compared byte for byte.
    """
    snap = {
        "ip -d link": _run(["ip", "-d", "link"]),
        "ip -d addr": _run(["ip", "-d", "addr"]),
        "ip route show table all": _run(["ip", "route", "show", "table", "all"]),
        "ip -6 route show table all": _run(["ip", "-6", "route", "show", "table", "all"]),
        "ip rule": _run(["ip", "rule"]),
        "ip netns": _run(["ip", "netns"]),
        "iptables-save": _COUNTERS.sub("", _strip_comments(_run(["iptables-save"]))),
        "ip6tables-save": _COUNTERS.sub("", _strip_comments(_run(["ip6tables-save"]))),
        "nft list ruleset": _COUNTERS.sub("", _run(["nft", "list", "ruleset"])),
        "ipcs": _run(["ipcs"]),
        "/etc/hosts": _read("/etc/hosts"),
        "/etc/resolv.conf": _read("/etc/resolv.conf"),
        "/etc/hostname": _read("/etc/hostname"),
        "ls -la /run/netns": _run(["ls", "-la", "/run/netns"]),
        "hostname": socket.gethostname(),
        "/etc": _listing("/etc"),
        "/etc/netns": _listing("/etc/netns"),
        "/tmp": _listing("/tmp"),
        "/dev/shm": _listing("/dev/shm"),
        "/": _listing("/"),
        "/root": _listing("/root"),
        "/work": _listing("/work"),
        "/mnt": _listing("/mnt"),
        "repo": _listing(str(REPO)),
        "mounts": _mounts(),
        THP: _read(THP),
    }
    for name in SYSCTLS:
        snap[f"sysctl {name}"] = _read("/proc/sys/" + name.replace(".", "/"))
    for path in extra_paths:
        snap[path] = _read(path) if os.path.isfile(path) else _listing(path)
    return snap


def _strip_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def _mounts() -> str:
    """The machine's mount table as this process sees it (mount IDs are stable; no counters)."""
    return _read("/proc/self/mountinfo")


def diff(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Keys whose value changed, with both values, for an assertion message."""
    return [f"{key}:\n--- before\n{before[key]}\n--- after\n{after.get(key)}"
            for key in before if before[key] != after.get(key)]


# veths across namespaces and within one, a bridge and its ports, /24 and /32
# addresses, connected, default, host and gatewayed routes, an ARP entry, NAT and filter rules
TOPOLOGY = """
set -e
ip netns add red
ip netns add blue
ip link add veth0 type veth peer name veth1
ip link set veth1 netns red
ip link add br0 type bridge
ip link add brport type veth peer name blue0
ip link set brport master br0
ip link set blue0 netns blue
ip link add same0 type veth peer name same1
ip addr add 10.200.0.2/24 dev veth0
ip addr add 10.201.0.1/24 dev br0
ip addr add 10.9.9.9/32 dev same0
ip -n red addr add 10.200.0.3/24 dev veth1
ip -n blue addr add 10.201.0.5/24 dev blue0
ip link set veth0 up; ip link set br0 up; ip link set brport up; ip link set same0 up
ip -n red link set veth1 up; ip -n red link set lo up; ip -n blue link set blue0 up
ip -n red route add default via 10.200.0.2
ip -n red route add 10.50.0.7 dev veth1
ip route add 10.60.0.0/16 via 10.200.0.3
ip neigh replace 10.200.0.3 lladdr 02:00:00:00:00:03 dev veth0
sysctl -qw net.ipv4.ip_forward=1
iptables -t nat -A POSTROUTING -s 10.200.0.0/24 ! -o veth0 -j MASQUERADE
iptables -N EXTRA
iptables -A FORWARD -i br0 -m comment --comment "a comment" -j ACCEPT
"""
