"""tcpdump captures in every lab, as the lessons use it: on the lab host and in a student's
namespace, in both modes (the machine's tcpdump alone fails there: see tutor.lab.tcpdump_shim)."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import time

import pytest

from labkit import run_ok
from tutor.lab import client

pytestmark = [pytest.mark.lab,
              pytest.mark.skipif(not shutil.which("tcpdump"), reason="tcpdump is not installed")]


def _capture(info, cmdline: str, send: str, netns: str | None = None) -> str:
    """Start `cmdline` (a tcpdump) in the lab, run `send` once it listens; return what it printed."""
    proc = client.popen(cmdline, netns=netns, info=info, stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        said = b""
        deadline = time.monotonic() + 10
        while b"listening on" not in said and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], deadline - time.monotonic())
            chunk = os.read(proc.stderr.fileno(), 4096) if ready else b""
            if ready and not chunk:
                break   # tcpdump exited before it listened
            said += chunk
        assert b"listening on" in said, f"`{cmdline}` never listened:\n{said.decode(errors='replace')}"
        run_ok(send, info)
        out, err = proc.communicate(timeout=10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait()
    assert proc.returncode == 0, (said + err).decode(errors="replace")
    return out.decode(errors="replace")


def test_tcpdump_on_the_lab_host_sees_a_ping(mlab):
    out = _capture(mlab, "tcpdump -ni eth0 -c 1 icmp", "ping -c 1 -W 2 8.8.8.8")
    assert "172.17.0.3 > 8.8.8.8: ICMP echo request" in out


def test_tcpdump_in_a_namespace_sees_a_ping_on_its_veth(mlab):
    run_ok("ip netns add red && ip link add veth0 type veth peer name veth1 netns red"
           " && ip addr add 10.99.0.1/24 dev veth0 && ip link set veth0 up"
           " && ip -n red addr add 10.99.0.2/24 dev veth1 && ip -n red link set veth1 up", mlab)
    out = _capture(mlab, "tcpdump -ni veth1 -c 1 icmp", "ping -c 1 -W 2 10.99.0.2", netns="red")
    assert "10.99.0.1 > 10.99.0.2: ICMP echo request" in out


def test_a_students_own_user_still_wins(mlab):
    """The wrapper's `-Z root` comes first, so the student's -Z is what tcpdump uses."""
    result = client.run("timeout 5 tcpdump -Z nosuchuser -ni eth0 -c 1", info=mlab)
    assert "Couldn't find user 'nosuchuser'" in result.stderr
