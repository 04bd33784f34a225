"""A lab cannot take the machine's processes or memory, and root's labs share no per-user
kernel limit (SECURITY.md). Limits are set with `tutor config` (in a temporary config home)."""

from __future__ import annotations

import os
import subprocess

import pytest

from labkit import TUTOR, cmdline, lab_identity, lab_processes, plain_user, run_ok, wait_until
from tutor.lab import client, control, lifecycle, limits
from tutor.lab.control import close_all

pytestmark = pytest.mark.lab


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config"


def tutor(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([TUTOR, *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env=dict(os.environ))


# Sleeps that end by themselves: once the lab is full, nothing more forks in it (not even ps).
# In dash, which gives up at the first fork that fails: bash retries it for 15 s (1+2+4+8).
SPAWN = "exec sh -c 'for i in $(seq {count}); do sleep 60 >/dev/null 2>&1 & done 2>/dev/null; true'"


def sleeps_in(pid_ns: int, kill: bool = False) -> int:
    """Sleeping processes in the lab (PID namespace inode `pid_ns`), counted (and killed) from
    the machine: the lab is full, nothing more runs in it."""
    sleeps = [p for p in lab_processes(pid_ns) if cmdline(p)[:1] == ["sleep"]]
    for pid in sleeps if kill else []:
        os.kill(pid, 9)
    return len(sleeps)


@pytest.mark.serial   # the count is per owner: all its labs'
def test_a_lab_cannot_take_more_processes_than_its_limit(mode, config_home, lab_name):
    """Finding 7: `ulimit -u` in a lab was 96365, above the machine's pid_max."""
    assert tutor("config", "lab-processes", "100").returncode == 0
    info, _ = lifecycle.up(lab_name)
    pid_ns = lab_identity(info.pid)["pid"]
    client.run(SPAWN.format(count=300), info=info, timeout=60)
    running = sleeps_in(pid_ns, kill=True)
    assert 50 < running < 100, running
    assert wait_until(lambda: sleeps_in(pid_ns) == 0)
    assert run_ok("echo in", info).strip() == "in"   # and the lab works again


@pytest.mark.serial   # the count is per owner: all its labs'
def test_a_users_lab_is_capped_too(config_home, lab_name):
    """Rootless as a plain user: no cgroup to write, the kernel's count still holds."""
    found = plain_user()
    if found is None:
        pytest.skip("needs root, to act as a plain user")
    uid, python_as, env = found
    env = dict(env, TUTOR_LAB=lab_name, XDG_CONFIG_HOME=f"/tmp/cfg-{lab_name}")
    as_user = lambda *a: subprocess.run(python_as + ["-m", "tutor.cli", *a], env=env,  # noqa: E731
                                        capture_output=True, text=True, timeout=60)
    try:
        assert as_user("config", "lab-processes", "100").returncode == 0
        up = as_user("lab", "up")
        assert up.returncode == 0, up.stderr
        pid_ns = int(as_user("shell", "-c", "stat -L -c %i /proc/self/ns/pid").stdout)
        as_user("shell", "-c", SPAWN.format(count=300))
        assert 50 < sleeps_in(pid_ns, kill=True) < 100
    finally:
        as_user("lab", "down")
        subprocess.run(["rm", "-rf", f"/tmp/cfg-{lab_name}"])


def test_root_s_lab_commands_and_what_they_start_join_its_cgroups(lab_name):
    """Every way into root's lab joins its cgroups before it enters (the one shell selftest
    keeps, a process a command), and what a command starts stays there. (They join through
    v1's `tasks` now, without the machine-wide lock: issue 15.)"""
    if os.geteuid() != 0:
        pytest.skip("cgroups are for labs root starts")
    info, _ = lifecycle.up(lab_name)
    reply, fds = control.request_fds("enter", len(client.NAMESPACES), lab_name)
    close_all(fds)
    folders = reply.get("cgroups") or []
    if not folders:
        pytest.skip("no cgroup controller here")
    v1 = any(f.startswith(f"{limits.CGROUP}/memory/") for f in folders)
    pattern = "':(memory|pids):'" if v1 else "'^0::'"
    show = f"grep -E {pattern} /proc/self/cgroup; sh -c \"grep -E {pattern} /proc/self/cgroup\""

    def joined(out: str) -> None:
        lines = out.split()
        assert len(lines) == 2 * len(folders), out
        for line in lines:
            assert line.endswith(f"/netns-tutor-{lab_name}"), out

    joined(run_ok(show, info))
    with client.one_shell(info):
        joined(run_ok(show, info))
        joined(run_ok(show, info))


def test_root_caps_a_labs_memory_tmpfs_included(mode, config_home, lab_name):
    """Finding 7: one lab allocated 1 GB and mounted a 2 GB tmpfs."""
    if os.geteuid() != 0:
        pytest.skip("memory is capped for labs root starts (cgroups)")
    doctor = tutor("doctor").stdout
    if "memory per lab: not capped" in doctor:
        pytest.skip("no cgroup controller for memory here")
    assert tutor("config", "lab-memory", "128M").returncode == 0
    info, _ = lifecycle.up(lab_name)
    hog = client.run("python3 -c 'b = bytearray(400 << 20); print(len(b))'", info=info, timeout=60)
    assert hog.returncode != 0 and "419430400" not in hog.stdout
    # the writer is killed or refused once the lab's memory is full; the file shows how far
    client.run("mount -t tmpfs -o size=2G big /mnt && dd if=/dev/zero of=/mnt/fill bs=1M count=400",
               info=info, timeout=60)
    size = os.stat(f"/proc/{info.pid}/root/mnt/fill").st_size
    assert 0 < size < 160 << 20, size


INOTIFY = ("python3 -c 'import ctypes; l = ctypes.CDLL(None); fds = []\n"
           "while len(fds) < 2000:\n"
           "    fd = l.inotify_init()\n"
           "    if fd < 0: break\n"
           "    fds.append(fd)\n"
           "print(len(fds))'")


def test_root_s_labs_share_no_per_user_kernel_limit(lab_name, monkeypatch):
    """Finding 7: root's labs all ran as nobody; lab A took all 128 inotify instances and lab
    B got EMFILE. Each lab's user namespace now has an owner of its own."""
    if os.geteuid() != 0:
        pytest.skip("about labs root starts")
    if not os.path.exists("/usr/bin/python3"):
        pytest.skip("no python3 for the lab to run")
    for mode in ("rootless", "root"):
        monkeypatch.setenv("TUTOR_LAB_MODE", mode)
        a, b = f"{lab_name}-{mode}-a", f"{lab_name}-{mode}-b"
        try:
            one, _ = lifecycle.up(a)
            two, _ = lifecycle.up(b)
            # lab A holds every instance it may have, for as long as the next check runs
            hog = client.popen(INOTIFY.replace("print(len(fds))", "print(len(fds), flush=True); "
                                               "import time; time.sleep(30)"),
                               info=one, stdout=subprocess.PIPE, text=True)
            try:
                assert hog.stdout is not None
                taken = int(hog.stdout.readline())
                assert taken >= 100
                assert int(run_ok(INOTIFY, two)) >= 100, f"{mode}: lab B got no inotify"
            finally:
                hog.kill()
                hog.wait()
        finally:
            lifecycle.down(a)
            lifecycle.down(b)


def test_doctor_says_which_limits_hold(config_home):
    assert tutor("config", "lab-processes", "512").returncode == 0
    out = tutor("doctor").stdout
    assert "limit: processes per lab: 512" in out
    assert "limit: memory per lab:" in out


def test_bad_limits_are_one_sentence(config_home):
    for key, value in (("lab-memory", "lots"), ("lab-memory", "1K"), ("lab-memory", "inf"),
                       ("lab-memory", "nan"), ("lab-processes", "-3"),
                       ("lab-processes", "9999999999")):
        out = tutor("config", key, value)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert tutor("config", "lab-memory").stdout.strip() == "1G"
    assert tutor("config", "lab-processes").stdout.strip() == "1024"
