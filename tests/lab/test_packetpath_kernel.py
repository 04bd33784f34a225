"""The packet-path walk agrees with the kernel: for a few hundred generated filter FORWARD rule
sets (seeded, so every run tries the same ones), a real packet crosses a router namespace of the
lab, and whether it arrives is what `walk` says of the same `iptables-save`. Two hand-written
sets pin down `-g` (the goto'd chain's end falls to the built-in chain's policy, or back to the
last `-j`). Then generated nat PREROUTING sets: the address and port a real connection arrives
at is the walk's DNAT target (or the packet's own destination); and replies: a datagram back
from pb is ESTABLISHED to the kernel only when the one it answers went through, and arrives as
the walk of FORWARD for that state says.

The lab holds three namespaces: pa (10.77.1.2 on a0) -- r0 (10.77.1.1) pr r1 (10.77.2.1) --
(10.77.2.2, .3 and .4 on b0) pb. One Python script per batch runs in the lab: for each rule set
it loads it into pr with iptables-restore, sends the packet (a TCP SYN, a UDP datagram or an
echo request, from a fixed source port -- a fresh one per case where conntrack remembers it; a
fresh echo id each time) and watches the far end's interface for it. Only the lab's own
namespaces and addresses take part."""

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
ip -n pb addr add 10.77.2.3/24 dev b0; ip -n pb addr add 10.77.2.4/24 dev b0
for l in "pa a0" "pr r0" "pr r1" "pb b0"; do set -- $l; ip -n $1 link set $2 up; done
ip -n pa route add default via 10.77.1.1; ip -n pb route add default via 10.77.2.1
ip netns exec pr sysctl -qw net.ipv4.ip_forward=1
"""

# Runs in the lab (its own python3), after a line setting CASES to the batch as JSON;
# prints one JSON line per case: did the packet arrive (a "nat" case: at which address and
# port; a "reply" case: did the first datagram and the reply arrive), and what iptables-save
# printed in pr.
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
def where(s, case, wait):
    want = socket.inet_aton(case["src"])
    while select.select([s], [], [], wait)[0]:
        data, addr = s.recvfrom(65535)
        if addr[2] == socket.PACKET_OUTGOING or data[9] != 6 or data[12:16] != want:
            continue
        sport, dport = struct.unpack("!HH", data[(data[0] & 15) * 4:][:4])
        if sport == case["sport"]:
            return [socket.inet_ntoa(data[16:20]), dport]
    return None
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
    saved = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    enter(None)
    kind = case.get("kind", "filter")
    far = watch["b" if case["from"] == "a" else "a"]
    drain(far)
    echo_id = case.get("echo_id", 0)
    s = send(case, echo_id) if case.get("first", True) else None
    if kind == "nat":
        got = {"at": where(far, case, 0.05)}
    else:
        got = {"arrived": s is not None and seen(far, case, echo_id, 0.05)}
    if kind == "reply":
        back = {"from": "b", "proto": "udp", "src": case["dst"], "dst": case["src"],
                "sport": case["dport"], "dport": case["sport"]}
        drain(watch["a"])
        r = send(back, 0)
        got["back"] = seen(watch["a"], back, 0, 0.05)
        r.close()
    if s is not None:
        s.close()
    enter("pr")
    print(json.dumps({**got, "saved": saved}), flush=True)
'''

ADDRESSES = ("10.77.1.2/32", "10.77.1.0/24", "10.77.2.0/24", "10.77.0.0/16", "10.78.0.0/16", "10.77.2.2")
INTERFACES = ("r0", "r1", "r+", "x+", "a0")


def _neg(rng: random.Random) -> str:
    return "! " if rng.random() < 0.3 else ""


def _rule(rng: random.Random, chain: str, below: list[str], ct: float = 0.15,
          states: tuple[str, ...] = ("NEW", "RELATED,ESTABLISHED")) -> str:
    """One random rule of `chain` (which may jump or go only to chains `below` it); `ct` is how
    often it asks for a conntrack state, one of `states`."""
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
    if rng.random() < ct:
        parts.append(f"-m conntrack {_neg(rng)}--ctstate {rng.choice(states)}")
    targets = ["ACCEPT", "DROP", "REJECT", "RETURN", "LOG"] + below * 2
    target = rng.choice(targets)
    how = "-g" if target in below and rng.random() < 0.5 else "-j"
    return " ".join([f"-A {chain}", *parts, how, target])


def rule_set(rng: random.Random, **rule) -> str:
    """A filter table: a FORWARD policy, FORWARD and up to two user chains of random rules
    (`rule`: how `_rule` draws them)."""
    users = [f"U{i}" for i in range(rng.randint(0, 2))]
    chains = ["FORWARD", *users]
    lines = ["*filter", ":INPUT ACCEPT [0:0]", f":FORWARD {rng.choice(('ACCEPT', 'DROP'))} [0:0]",
             ":OUTPUT ACCEPT [0:0]", *(f":{u} - [0:0]" for u in users)]
    for i, chain in enumerate(chains):
        lines += [_rule(rng, chain, chains[i + 1:], **rule) for _ in range(rng.randint(0, 4))]
    return "\n".join([*lines, "COMMIT", ""])


def case(rng: random.Random, n: int) -> dict:
    """A rule set and the packet sent through it."""
    side = rng.choice("ab")
    proto = rng.choice(("tcp", "udp", "icmp"))
    return {"rules": rule_set(rng), "from": side, "src": SIDES[side][0], "dst": SIDES["b" if side == "a" else "a"][0],
            "proto": proto, "sport": rng.choice((5000, 4500, 6001)), "dport": rng.choice((80, 85, 443, 8080)),
            "echo_id": 1000 + n}


def save_filter(policy: str, *lines: str) -> str:
    """A filter table: `policy` like "FORWARD DROP", user chains named alone, then `-A` lines."""
    chain, verdict = policy.split()
    users = [w for w in lines if not w.startswith("-")]
    rules = [w for w in lines if w.startswith("-")]
    return "\n".join(["*filter", ":INPUT ACCEPT [0:0]", f":{chain} {verdict} [0:0]", ":OUTPUT ACCEPT [0:0]",
                      *(f":{u} - [0:0]" for u in users), *rules, "COMMIT", ""])


def packet(c: dict) -> Packet:
    """What pr's FORWARD chain sees of the case's packet."""
    ports = c["proto"] != "icmp"
    return Packet(c["src"], c["dst"], c["proto"], c["sport"] if ports else None, c["dport"] if ports else None,
                  iif=SIDES[c["from"]][1], oif=SIDES["b" if c["from"] == "a" else "a"][1],
                  dst_local=False, state="NEW")


# `-g`: the end of a chain entered by goto returns to where the last `-j` was made -- from the
# built-in chain itself, nowhere: its policy decides (G1 drops the SYN the next rule would accept);
# after `-j U0` then `-g U1`, back to the rule after `-j U0` (G2 accepts it).
GOTO = [save_filter("FORWARD DROP", "U0", "-A FORWARD -p tcp -g U0", "-A FORWARD -j ACCEPT", "-A U0 -p udp -j ACCEPT"),
        save_filter("FORWARD DROP", "U0", "U1", "-A FORWARD -j U0", "-A FORWARD -j ACCEPT", "-A U0 -g U1",
                    "-A U1 -p udp -j DROP")]
GOTO_WALKS = [("DROP", "FORWARD", 0), ("ACCEPT", "FORWARD", 2)]


def _goto_case(n: int) -> dict:
    return {"from": "a", "src": SIDES["a"][0], "dst": SIDES["b"][0], "proto": "tcp", "sport": 5100 + n,
            "dport": 80, "echo_id": 2000 + n}


GOTO_CASES = [_goto_case(n) for n in range(len(GOTO))]


@pytest.mark.slow(10)
def test_the_walk_agrees_with_the_kernel_on_generated_forward_rule_sets(lab):
    setup = client.run(SETUP, info=lab)
    assert setup.returncode == 0, setup.stderr
    rng = random.Random(SEED)
    cases = [case(rng, n) for n in range(CASES)]
    cases += [dict(c, rules=rules) for c, rules in zip(GOTO_CASES, GOTO, strict=True)]
    started, disagree = time.monotonic(), []
    verdicts: dict[str, int] = {}
    for first in range(0, len(cases), BATCH):
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
    assert not disagree, f"{len(disagree)} of {len(cases)} disagree; first:\n" + disagree[0]
    # the generated sets exercise both outcomes and the rules as much as the policies
    assert verdicts.get("ACCEPT", 0) > CASES / 5 and verdicts.get("DROP", 0) + verdicts.get("REJECT", 0) > CASES / 5
    assert time.monotonic() - started < 60
    walked = [walk(parse(rules), "filter", "FORWARD", packet(c)) for c, rules in zip(GOTO_CASES, GOTO, strict=True)]
    assert [(v.action, v.chain, v.position) for v in walked] == GOTO_WALKS


NAT_CASES, REPLY_CASES = 60, 60
LOCAL = ("10.77.1.1", "10.77.2.1")                    # pr's own addresses
TARGETS = ("10.77.2.3", "10.77.2.4:8080", "10.77.2.2:81")
EMPTY_FILTER = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
EMPTY_NAT = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             ":POSTROUTING ACCEPT [0:0]\nCOMMIT\n")


def _nat_rule(rng: random.Random, chain: str, below: list[str]) -> str:
    """One random rule of nat `chain` (reached from PREROUTING, so no `-o`)."""
    parts = []
    for option, values in (("-i", INTERFACES), ("-s", ADDRESSES), ("-d", (*ADDRESSES, *LOCAL))):
        if rng.random() < 0.15:
            parts.append(f"{_neg(rng)}{option} {rng.choice(values)}")
    proto = rng.random() < 0.6
    if proto:
        negated = _neg(rng)
        proto = not negated     # a port in --to-destination needs a protocol
        parts.append(f"{negated}-p {rng.choice(('tcp', 'tcp', 'udp'))}")
        if not negated and rng.random() < 0.5:
            parts.append(f"{_neg(rng)}--dport {rng.choice(('80', '85', '80:90', '8000:9000'))}")
    if rng.random() < 0.3:
        parts.append(f"-m addrtype {_neg(rng)}--dst-type LOCAL")
    target = rng.choice(["ACCEPT", "RETURN", "DNAT", "DNAT", "DNAT", "LOG"] + below * 2)
    if target == "DNAT":
        target = f"DNAT --to-destination {rng.choice(TARGETS if proto else TARGETS[:1])}"
    how = "-g" if target in below and rng.random() < 0.5 else "-j"
    return " ".join([f"-A {chain}", *parts, how, target])


def nat_case(rng: random.Random, n: int) -> dict:
    """A nat PREROUTING rule set (up to two user chains, Docker-like) and a SYN from pa through it,
    to pb or to pr itself, from a source port of its own (conntrack NATs a connection once)."""
    users = [f"N{i}" for i in range(rng.randint(0, 2))]
    chains = ["PREROUTING", *users]
    lines = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
             ":POSTROUTING ACCEPT [0:0]", *(f":{u} - [0:0]" for u in users)]
    for i, chain in enumerate(chains):
        lines += [_nat_rule(rng, chain, chains[i + 1:]) for _ in range(rng.randint(1 if i == 0 else 0, 4))]
    return {"kind": "nat", "rules": EMPTY_FILTER + "\n".join([*lines, "COMMIT", ""]), "from": "a",
            "src": SIDES["a"][0], "dst": rng.choice(("10.77.2.2", *LOCAL)), "proto": "tcp", "sport": 30000 + n,
            "dport": rng.choice((80, 85, 443, 8080))}


def reply_case(rng: random.Random, n: int) -> dict:
    """A FORWARD rule set rich in conntrack states, a UDP datagram from pa (or none) and pb's reply."""
    rules = rule_set(rng, ct=0.6, states=("NEW", "ESTABLISHED", "RELATED,ESTABLISHED", "ESTABLISHED,RELATED"))
    return {"kind": "reply", "rules": rules + EMPTY_NAT, "from": "a", "src": SIDES["a"][0], "dst": SIDES["b"][0],
            "proto": "udp", "sport": 40000 + n, "dport": rng.choice((80, 85, 443, 8080)), "first": rng.random() < 0.7}


def test_the_walk_agrees_with_the_kernel_on_nat_prerouting_and_on_replies(lab):
    setup = client.run(SETUP, info=lab)
    assert setup.returncode == 0, setup.stderr
    rng = random.Random(SEED)
    cases = [nat_case(rng, n) for n in range(NAT_CASES)] + [reply_case(rng, n) for n in range(REPLY_CASES)]
    ran = client.run("python3 -", info=lab, timeout=60, input=f"CASES = {json.dumps(cases)!r}\n" + DRIVER)
    assert ran.returncode == 0, ran.stderr
    results = [json.loads(line) for line in ran.stdout.splitlines()]
    assert len(results) == len(cases), ran.stderr
    disagree, seen = [], {"DNAT": 0, "ESTABLISHED": 0, "NEW": 0, "back": 0}
    for c, got in zip(cases, results, strict=True):
        rules = parse(got["saved"])
        if c["kind"] == "nat":
            local = c["dst"] in LOCAL
            v = walk(rules, "nat", "PREROUTING", Packet(c["src"], c["dst"], "tcp", c["sport"], c["dport"], iif="r0",
                                                        dst_local=local, state="NEW"))
            if v.action == "DNAT":
                ip, _, port = v.to.partition(":")
                want: list | None = [ip, int(port) if port else c["dport"]]
                seen["DNAT"] += 1
            else:
                want = None if local else [c["dst"], c["dport"]]
            if v.action == UNKNOWN or want != got["at"]:
                disagree.append(f"tcp to {c['dst']}:{c['dport']}: the kernel sent it to {got['at']}, the walk says "
                                f"{want} ({v.action} by {v.quote} via {v.path})\n{got['saved']}")
            continue
        there = Packet(c["src"], c["dst"], "udp", c["sport"], c["dport"], iif="r0", oif="r1", dst_local=False)
        out = walk(rules, "filter", "FORWARD", there)
        state = "ESTABLISHED" if c["first"] and out.action == "ACCEPT" else "NEW"
        back = walk(rules, "filter", "FORWARD", Packet(c["dst"], c["src"], "udp", c["dport"], c["sport"], iif="r1",
                                                       oif="r0", dst_local=False, state=state))
        seen[state] += 1
        seen["back"] += got["back"]
        if UNKNOWN in (out.action, back.action) or (c["first"] and (out.action == "ACCEPT") != got["arrived"]) \
                or (back.action == "ACCEPT") != got["back"]:
            disagree.append(f"udp {c['sport']} -> {c['dport']} {'and back' if c['first'] else 'unasked, back'}: "
                            f"kernel {got.get('arrived')}/{got['back']}, walk {out.action}/{back.action} "
                            f"({state}; by {back.quote})\n{got['saved']}")
    assert not disagree, f"{len(disagree)} of {len(cases)} disagree; first:\n" + disagree[0]
    # both ways out of the nat table, and both conntrack states, are exercised
    assert seen["DNAT"] > NAT_CASES / 5 and seen["ESTABLISHED"] > REPLY_CASES / 5 and seen["NEW"] > REPLY_CASES / 5
    assert 0 < seen["back"] < REPLY_CASES
