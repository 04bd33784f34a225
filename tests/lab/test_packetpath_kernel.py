"""The packet-path walk agrees with the kernel: for a few hundred generated filter FORWARD rule
sets (seeded, so every run tries the same ones), a real packet crosses a router namespace of the
lab, and whether it arrives is what `walk` says of the same `iptables-save`.

The lab holds three namespaces: pa (10.77.1.2 on a0) -- r0 (10.77.1.1) pr r1 (10.77.2.1) --
(10.77.2.2 on b0) pb. One Python script per batch runs in the lab: for each rule set it loads it
into pr with iptables-restore, sends the packet (a TCP SYN, a UDP datagram or an echo request,
from a fixed source port; a fresh echo id each time) and watches the far end's interface for
it. Only the lab's own namespaces and addresses take part."""

from __future__ import annotations

import json
import random
import time

import pytest

from tutor.checks.packetpath import UNKNOWN, Packet, walk
from tutor.lab import client
from tutor.lab.iptables import parse

pytestmark = pytest.mark.lab

CASES, BATCH, SEED = 240, 80, 11
SIDES = {"a": ("10.77.1.2", "r0"), "b": ("10.77.2.2", "r1")}   # the end's address, pr's interface to it
SETUP = """set -e
for n in pa pr pb; do ip netns add $n; ip -n $n link set lo up; done
ip link add a0 netns pa type veth peer name r0 netns pr
ip link add b0 netns pb type veth peer name r1 netns pr
ip -n pa addr add 10.77.1.2/24 dev a0; ip -n pr addr add 10.77.1.1/24 dev r0
ip -n pb addr add 10.77.2.2/24 dev b0; ip -n pr addr add 10.77.2.1/24 dev r1
for l in "pa a0" "pr r0" "pr r1" "pb b0"; do set -- $l; ip -n $1 link set $2 up; done
ip -n pa route add default via 10.77.1.1; ip -n pb route add default via 10.77.2.1
ip netns exec pr sysctl -qw net.ipv4.ip_forward=1
"""

# Runs in the lab (its own python3), after a line setting CASES to the batch as JSON;
# prints one JSON line per case: did the packet arrive, and what iptables-save printed in pr.
DRIVER = r'''
import ctypes, json, os, select, socket, struct, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
home = os.open("/proc/self/ns/net", os.O_RDONLY)
def enter(ns):
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY) if ns else home
    if libc.setns(fd, 0) != 0:
        raise OSError(ctypes.get_errno(), f"setns {ns}")
def socket_in(ns, *args):
    enter(ns)
    try:
        return socket.socket(*args)
    finally:
        enter(None)
ETH_P_IP = 0x0800
watch = {}
for side, ns, dev in (("a", "pa", "a0"), ("b", "pb", "b0")):
    s = socket_in(ns, socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
    s.bind((dev, ETH_P_IP))
    s.setblocking(False)
    watch[side] = s
def drain(s):
    try:
        while True:
            s.recv(65535)
    except BlockingIOError:
        pass
def checksum(data):
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xffff)
    return ~(total + (total >> 16)) & 0xffff
def seen(s, case, echo_id, wait):
    proto = {"tcp": 6, "udp": 17, "icmp": 1}[case["proto"]]
    want = (socket.inet_aton(case["src"]), socket.inet_aton(case["dst"]))
    while select.select([s], [], [], wait)[0]:
        data, addr = s.recvfrom(65535)
        if addr[2] == socket.PACKET_OUTGOING or data[9] != proto or (data[12:16], data[16:20]) != want:
            continue
        l4 = data[(data[0] & 15) * 4:]
        if proto == 1 and l4[0] == 8 and struct.unpack("!H", l4[4:6])[0] == echo_id:
            return True
        if proto != 1 and struct.unpack("!HH", l4[:4]) == (case["sport"], case["dport"]):
            return True
    return False
def send(case, echo_id):
    ns = "pa" if case["from"] == "a" else "pb"
    if case["proto"] == "icmp":
        s = socket_in(ns, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        head = struct.pack("!BBHHH", 8, 0, 0, echo_id, 1) + b"probe!"
        s.sendto(head[:2] + struct.pack("!H", checksum(head)) + head[4:], (case["dst"], 0))
    else:
        kind = socket.SOCK_STREAM if case["proto"] == "tcp" else socket.SOCK_DGRAM
        s = socket_in(ns, socket.AF_INET, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((case["src"], case["sport"]))
        if kind == socket.SOCK_STREAM:
            s.setblocking(False)
            s.connect_ex((case["dst"], case["dport"]))   # sends the SYN
        else:
            s.sendto(b"probe!", (case["dst"], case["dport"]))
    return s
cases = json.loads(CASES)
enter("pr")
for n, case in enumerate(cases):
    subprocess.run(["iptables-restore"], input=case["rules"], text=True, check=True)
    saved = subprocess.run(["iptables-save", "-t", "filter"], capture_output=True, text=True, check=True).stdout
    enter(None)
    far = watch["b" if case["from"] == "a" else "a"]
    drain(far)
    echo_id = case["echo_id"]
    s = send(case, echo_id)
    arrived = seen(far, case, echo_id, 0.05)
    s.close()
    enter("pr")
    print(json.dumps({"arrived": arrived, "saved": saved}), flush=True)
'''

ADDRESSES = ("10.77.1.2/32", "10.77.1.0/24", "10.77.2.0/24", "10.77.0.0/16", "10.78.0.0/16", "10.77.2.2")
INTERFACES = ("r0", "r1", "r+", "x+", "a0")


def _neg(rng: random.Random) -> str:
    return "! " if rng.random() < 0.3 else ""


def _rule(rng: random.Random, chain: str, below: list[str]) -> str:
    """One random rule of `chain` (which may jump or go only to chains `below` it)."""
    parts = []
    for option, values in (("-i", INTERFACES), ("-o", INTERFACES), ("-s", ADDRESSES), ("-d", ADDRESSES)):
        if rng.random() < 0.3:
            parts.append(f"{_neg(rng)}{option} {rng.choice(values)}")
    if rng.random() < 0.6:
        proto = rng.choice(("tcp", "udp", "icmp"))
        negated = _neg(rng)
        parts.append(f"{negated}-p {proto}")
        if proto != "icmp" and not negated:
            ports: tuple[tuple[str, tuple[str, ...]], ...] = (
                ("--dport", ("80", "81", "80:90", "8000:9000", ":100")), ("--sport", ("5000", "4000:4999", "6000:")))
            for option, choices in ports:
                if rng.random() < 0.4:
                    parts.append(f"{_neg(rng)}{option} {rng.choice(choices)}")
    if rng.random() < 0.15:
        parts.append(f"-m conntrack {_neg(rng)}--ctstate {rng.choice(('NEW', 'RELATED,ESTABLISHED'))}")
    targets = ["ACCEPT", "DROP", "REJECT", "RETURN", "LOG"] + below * 2
    target = rng.choice(targets)
    how = "-g" if target in below and rng.random() < 0.5 else "-j"
    return " ".join([f"-A {chain}", *parts, how, target])


def rule_set(rng: random.Random) -> str:
    """A filter table: a FORWARD policy, FORWARD and up to two user chains of random rules."""
    users = [f"U{i}" for i in range(rng.randint(0, 2))]
    chains = ["FORWARD", *users]
    lines = ["*filter", ":INPUT ACCEPT [0:0]", f":FORWARD {rng.choice(('ACCEPT', 'DROP'))} [0:0]",
             ":OUTPUT ACCEPT [0:0]", *(f":{u} - [0:0]" for u in users)]
    for i, chain in enumerate(chains):
        lines += [_rule(rng, chain, chains[i + 1:]) for _ in range(rng.randint(0, 4))]
    return "\n".join([*lines, "COMMIT", ""])


def case(rng: random.Random, n: int) -> dict:
    """A rule set and the packet sent through it."""
    side = rng.choice("ab")
    proto = rng.choice(("tcp", "udp", "icmp"))
    return {"rules": rule_set(rng), "from": side, "src": SIDES[side][0], "dst": SIDES["b" if side == "a" else "a"][0],
            "proto": proto, "sport": rng.choice((5000, 4500, 6001)), "dport": rng.choice((80, 85, 443, 8080)),
            "echo_id": 1000 + n}


def packet(c: dict) -> Packet:
    """What pr's FORWARD chain sees of the case's packet."""
    ports = c["proto"] != "icmp"
    return Packet(c["src"], c["dst"], c["proto"], c["sport"] if ports else None, c["dport"] if ports else None,
                  iif=SIDES[c["from"]][1], oif=SIDES["b" if c["from"] == "a" else "a"][1],
                  dst_local=False, state="NEW")


def test_the_walk_agrees_with_the_kernel_on_generated_forward_rule_sets(lab):
    setup = client.run(SETUP, info=lab)
    assert setup.returncode == 0, setup.stderr
    rng = random.Random(SEED)
    cases = [case(rng, n) for n in range(CASES)]
    started, disagree = time.monotonic(), []
    verdicts: dict[str, int] = {}
    for first in range(0, CASES, BATCH):
        batch = cases[first:first + BATCH]
        ran = client.run("python3 -", info=lab, timeout=60,
                         input=f"CASES = {json.dumps(batch)!r}\n" + DRIVER)
        assert ran.returncode == 0, ran.stderr
        results = [json.loads(line) for line in ran.stdout.splitlines()]
        assert len(results) == len(batch), ran.stderr
        for c, got in zip(batch, results, strict=True):
            v = walk(parse(got["saved"]), "filter", "FORWARD", packet(c))
            verdicts[v.action] = verdicts.get(v.action, 0) + 1
            if v.action == UNKNOWN or (v.action == "ACCEPT") != got["arrived"]:
                disagree.append(f"{c['proto']} {c['src']}:{c['sport']} -> {c['dst']}:{c['dport']}: "
                                f"kernel {'delivered' if got['arrived'] else 'stopped'} it, walk says "
                                f"{v.action} by {v.quote} via {v.path}\n{got['saved']}")
    assert not disagree, f"{len(disagree)} of {CASES} disagree; first:\n" + disagree[0]
    # the generated sets exercise both outcomes and the rules as much as the policies
    assert verdicts.get("ACCEPT", 0) > CASES / 5 and verdicts.get("DROP", 0) + verdicts.get("REJECT", 0) > CASES / 5
    assert time.monotonic() - started < 60
