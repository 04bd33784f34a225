"""`tutor lab up|status|down`, `tutor shell` and `tutor doctor` as a user runs them (real process,
real lab). The lab is the test's own ($TUTOR_LAB from the `lab_name` fixture)."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from labkit import (
    TUTOR,
    alive,
    assert_no_trace,
    lab_identity,
    lab_socket,
    listening_sockets,
    machine_snapshot,
    plain_user,
    run_ok,
    running,
)

pytestmark = pytest.mark.lab


def tutor(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([TUTOR, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def _pid(text: str) -> int:
    match = re.search(r"\bpid (\d+)\b", text)
    assert match, f"no `pid NNN` in {text!r}"
    return int(match.group(1))


def test_lab_up_status_down(mode, lab_name):
    links = machine_snapshot()["ip -d link"]
    first = tutor("lab", "up")
    assert first.returncode == 0, first.stderr
    assert f"mode {mode}" in first.stdout and "started" in first.stdout
    second = tutor("lab", "up")
    assert second.returncode == 0 and "already running" in second.stdout
    pid = _pid(first.stdout)
    assert _pid(second.stdout) == pid
    status = tutor("lab", "status")
    assert status.returncode == 0 and _pid(status.stdout) == pid
    assert f"mode {mode}" in status.stdout
    identity = lab_identity(pid)
    assert lab_socket(lab_name) in listening_sockets()

    down = tutor("lab", "down")
    assert down.returncode == 0 and "stopped" in down.stdout
    assert_no_trace(lab_name, pid, identity)
    stopped = tutor("lab", "status")
    assert stopped.returncode == 1 and "not running" in stopped.stdout
    again = tutor("lab", "down")
    assert again.returncode == 0 and "was not running" in again.stdout
    assert machine_snapshot()["ip -d link"] == links


def test_shell_passes_output_and_exit_code(mode, lab_name):
    # starts the lab when none runs
    done = tutor("shell", "-c", "echo out; echo err >&2; hostname; exit 7")
    assert done.returncode == 7
    assert done.stdout == "out\nlab\n"
    assert done.stderr == "err\n"
    assert running(lab_name).mode == mode
    assert tutor("shell", "-c", "true").returncode == 0
    # death by a signal passes through too (nsenter re-raises it: a shell shows 137)
    assert tutor("shell", "-c", "kill -9 $$").returncode in (-9, 137)


def test_shell_loads_no_ui_or_netlink(lab):
    """`tutor shell -c` runs often (scripts, the lessons' own checks by hand): the whole path,
    up to exec into the lab, imports no Textual, Rich or pyroute2. Python's import profile
    (PYTHONPROFILEIMPORTTIME) names each module on stderr as it is imported."""
    done = subprocess.run([TUTOR, "shell", "-c", "true"], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL, env=dict(os.environ, PYTHONPROFILEIMPORTTIME="1"))
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0]
                for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "tutor" in imported                                  # the profile was read
    assert imported & {"textual", "rich", "pyroute2"} == set()


def test_shell_in_a_namespace_sees_its_resolv_conf(mode, lab):
    run_ok("ip netns add red && mkdir -p /etc/netns/red "
           "&& echo 'nameserver 192.168.15.53' > /etc/netns/red/resolv.conf", lab)
    inside = tutor("shell", "-n", "red", "-c", "cat /etc/resolv.conf; ip -o link | wc -l")
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.splitlines() == ["nameserver 192.168.15.53", "1"]
    # the lab host keeps its own
    assert tutor("shell", "-c", "cat /etc/resolv.conf").stdout == "nameserver 8.8.8.8\n"


def test_shell_in_a_missing_namespace_is_one_sentence(mode, lab):
    missing = tutor("shell", "-n", "blue", "-c", "true")
    assert missing.returncode == 2
    assert missing.stderr.startswith("tutor: there is no namespace 'blue'")
    assert "Traceback" not in missing.stderr and len(missing.stderr.splitlines()) == 1


@pytest.mark.parametrize("node, address", [("lan", "192.168.1.3/24"),
                                           ("internet", "172.17.0.1/16")])
def test_shell_on_a_world_node(mode, lab, node, address):
    out = tutor("shell", "--node", node, "-c", "ip -o -4 addr show dev eth0; ip netns")
    assert out.returncode == 0, out.stderr
    assert address in out.stdout
    assert run_ok("ip netns", lab) == ""


def test_lab_status_without_a_lab(lab_name):
    out = tutor("lab", "status")
    assert out.returncode == 1 and f"lab {lab_name} is not running" in out.stdout


def test_doctor(mode):
    out = tutor("doctor")
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(rf"lab mode: {mode}\b", out.stdout), out.stdout
    assert re.search(r"iptables backend: (nf_tables|legacy)", out.stdout), out.stdout
    assert out.stdout.rstrip().endswith("A lab can run here.")


def test_as_a_plain_user(lab_name):
    """Rootless as it is meant to be: started, entered and stopped by an unprivileged user."""
    found = plain_user()
    if found is None:
        pytest.skip("needs root (to become a plain user) and a Python a plain user can run")
    uid, python_as, env = found
    tutor_as = python_as + ["-m", "tutor.cli"]
    env["TUTOR_LAB"] = lab_name

    def as_user(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(tutor_as + list(args), env=env, capture_output=True, text=True,
                              timeout=30, stdin=subprocess.DEVNULL)

    up = as_user("lab", "up")
    pid = _pid(up.stdout) if up.returncode == 0 else None
    try:
        assert up.returncode == 0 and "mode rootless" in up.stdout, up.stdout + up.stderr
        assert pid is not None
        owner = [line for line in open(f"/proc/{pid}/status") if line.startswith("Uid:")][0]
        assert owner.split()[1:] == [str(uid)] * 4
        identity = lab_identity(pid)
        inside = as_user("shell", "-c", "id -u; touch /work/x 2>/dev/null || echo read-only; "
                         "ip netns add red && ip netns && sysctl -qw net.ipv4.ip_forward=1 "
                         "&& iptables -t nat -A POSTROUTING -j MASQUERADE && echo nat; exit 3")
        assert inside.returncode == 3, inside.stderr
        assert inside.stdout.split() == ["0", "read-only", "red", "nat"]
        netns = as_user("shell", "-n", "red", "-c", "ip -o link | wc -l")
        assert netns.returncode == 0 and netns.stdout.strip() == "1", netns.stderr
        down = as_user("lab", "down")
        assert down.returncode == 0 and "stopped" in down.stdout
        assert_no_trace(lab_name, pid, identity, uid)
        assert not os.path.exists("/work/x")
    finally:
        if pid and alive(pid):
            as_user("lab", "down")
            if alive(pid):
                os.kill(pid, 9)
