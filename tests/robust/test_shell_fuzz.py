"""1,000 generated command lines through `tutor shell -c` and the lab's one door.

Every line gets a clear result (an exit status and its output, or one sentence of error), the
lab keeps answering, nothing is left running in it, and memory stays bounded.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tutor.lab import client

TUTOR = str(Path(sys.executable).parent / "tutor")
pytestmark = pytest.mark.lab

ATOMS = ["ip -br link", "echo héllo wörld ✓ 🐧", "printf '\\a\\b\\x1b[31mred\\x1b[0m\\n'", "true", "false",
         "exit 7", "ip netns add x$RANDOM", "ip link add dummy$RANDOM type dummy", "cat /etc/hosts",
         "iptables -S", "echo 'unbalanced", 'echo "unbalanced', "echo $((1/0))", "}", "(", "ls /nope",
         "ip route add 10.9.0.0/24 via 1.2.3.4", "sysctl -w net.ipv4.ip_forward=1", "ip netns",
         "head -c 3000 /dev/zero | tr '\\0' x", "\t\v\f", "echo \x01\x02\x7f", "¡ʇxǝʇ", "rm -rf /etc/hosts"]


def generated(n: int, seed: int = 1234) -> list[str]:
    """Deterministic mix of plain, hostile, unicode, control-character and malformed lines."""
    rnd = random.Random(seed)
    lines = []
    for _ in range(n):
        k = rnd.random()
        if k < 0.6:
            lines.append("; ".join(rnd.choice(ATOMS) for _ in range(rnd.randint(1, 3))))
        elif k < 0.8:
            lines.append("".join(chr(rnd.choice([rnd.randint(1, 31), rnd.randint(32, 126), rnd.randint(0x80, 0x2FFF)]))
                                 for _ in range(rnd.randint(1, 80))))
        elif k < 0.95:
            lines.append("echo " + "".join(rnd.choice("'\"`$\\(){}[];|&<>") for _ in range(rnd.randint(1, 12))))
        else:
            lines.append("echo " + "x" * 100_000)
    return lines


def _lab_processes(info) -> list[str]:
    """What runs in the lab besides the agent (PID 1), its `lab-spare` builder and that one's
    children (the next reset's network), and this look itself."""
    rows = [l.split(None, 2) for l in client.run("ps -eo pid=,ppid=,comm=", info=info).stdout.splitlines()]
    rows = [(int(pid), int(ppid), comm) for pid, ppid, comm in rows]
    agents = {1} | {pid for pid, _, comm in rows if comm == "lab-spare"}
    grown = True
    while grown:
        more = {pid for pid, ppid, _ in rows if ppid in agents and pid not in agents and ppid != 1}
        grown = bool(more)
        agents |= more
    return [f"{pid} {comm}" for pid, _, comm in rows
            if pid not in agents and comm not in ("ps", "bash", "nsenter")]


@pytest.mark.slow(20)
def test_thousand_lines_through_the_one_door(lab):
    rss0 = _rss_kib(os.getpid())
    t0 = time.monotonic()
    for line in generated(1000):
        r = client.run(line.replace("\0", ""), info=lab, timeout=10)
        assert isinstance(r.returncode, int) and r.returncode != 124, (line[:80], r.stderr[-200:])
        assert len(r.stdout) < 2_000_000
    assert time.monotonic() - t0 < 240
    # the lab still answers and nothing the lines started is still running there
    assert client.run("ip -br addr show eth0", info=lab).stdout.split()[2].startswith("172.17.0.3/16")
    assert _lab_processes(lab) == []
    assert _rss_kib(os.getpid()) - rss0 < 50_000


def test_cli_shell_c_passes_status_and_output(lab):
    for line, code in (("exit 7", 7), ("echo 'unbalanced", 2), ("false", 1), ("echo héllo ✓", 0),
                       ("echo " + "x" * 100_000, 0)):
        r = subprocess.run([TUTOR, "shell", "-c", line], capture_output=True, text=True, timeout=30)
        assert r.returncode == code, (line[:40], r.stderr)
        assert "Traceback" not in r.stderr
    r = subprocess.run([TUTOR, "shell", "-c", "echo héllo ✓"], capture_output=True, text=True, timeout=30)
    assert r.stdout == "héllo ✓\n"


@pytest.mark.parametrize("endless", ["ping 192.168.1.3", "yes", "sleep 1000"])
def test_endless_commands_stop_on_ctrl_c(lab, endless):
    # As from a terminal, where Ctrl+C is not ignored: a runner started in the background
    # (`cmd &` in a script) would hand SIGINT down ignored, and `yes` would then never stop.
    proc = subprocess.Popen([TUTOR, "shell", "-c", endless], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout is not None
    got = b""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline and endless != "sleep 1000":
        got += os.read(proc.stdout.fileno(), 65536)
        if len(got) > 1000:
            break
    os.killpg(proc.pid, signal.SIGINT)          # what Ctrl+C in the terminal sends
    try:
        proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"`tutor shell -c '{endless}'` did not stop on SIGINT")
    assert proc.returncode != 0
    if endless != "sleep 1000":
        assert got, "its output streamed while it ran"
    deadline = time.monotonic() + 3
    while _lab_processes(lab) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _lab_processes(lab) == []


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
