"""`tutor.lab.rtnl` reads the kernel's rtnetlink answers as pyroute2 reads them: the same bytes,
from a real lab's namespaces, taken apart by both, field by field."""

from __future__ import annotations

import socket
import struct
import subprocess
import sys

import pytest
from pyroute2.netlink.rtnl.marshal import MarshalRtnl

from labkit import TOPOLOGY
from tutor.lab import HOST, client, control, rtnl

pytestmark = pytest.mark.lab

DUMPS = [(rtnl.RTM_GETLINK, rtnl.ANY_LINK),
         (rtnl.RTM_GETADDR, struct.pack("=BBBBI", socket.AF_INET, 0, 0, 0, 0)),
         (rtnl.RTM_GETROUTE, struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)),
         (rtnl.RTM_GETNEIGH, struct.pack("=BxxxiHBB", socket.AF_INET, 0, 0, 0, 0)),
         (rtnl.RTM_GETNSID, struct.pack("=Bxxx", socket.AF_UNSPEC))]


def _raw_dump(sock: socket.socket, seq: int, kind: int, payload: bytes) -> list[bytes]:
    """The reads that answer one dump, as the kernel sent them."""
    sock.sendto(rtnl.request(kind, seq, payload), (0, 0))
    reads = []
    while True:
        data = sock.recv(1 << 18)
        reads.append(data)
        if any(k in (rtnl.NLMSG_DONE, rtnl.NLMSG_ERROR) and n == seq for k, n, _ in rtnl.messages(data)):
            return reads


def _theirs(msg, key: str):
    """pyroute2's reading of one field or attribute (None: not there); nested ones as dicts."""
    value = msg.get(key)
    if key == "IFLA_LINKINFO" and value is not None:
        return {"IFLA_INFO_KIND": value.get("IFLA_INFO_KIND")}
    return value


def test_every_field_read_matches_pyroute2(lab):
    result = client.run(TOPOLOGY, info=lab)
    assert result.returncode == 0, result.stdout + result.stderr
    names = [HOST, "red", "blue"]
    _, fds = control.request_fds("look", len(names), ids=False, namespaces=["" if n == HOST else n for n in names])
    assert len(fds) == len(names)
    socks = [socket.socket(fileno=fd) for fd in fds]
    marshal = MarshalRtnl()
    seen: dict[str, int] = {}
    try:
        for name, sock in zip(names, socks, strict=True):
            sock.settimeout(5)
            for seq, (kind, payload) in enumerate(DUMPS, start=1):
                for data in _raw_dump(sock, seq, kind, payload):
                    ours = [(k, body) for k, n, body in rtnl.messages(data) if n == seq]
                    theirs = [m for m in marshal.parse(data) if m["header"]["sequence_number"] == seq]
                    assert [k for k, _ in ours] == [m["header"]["type"] for m in theirs]
                    for (k, body), msg in zip(ours, theirs, strict=True):
                        if k in (rtnl.NLMSG_DONE, rtnl.NLMSG_ERROR):
                            continue
                        for key, value in body.items():
                            assert value == _theirs(msg, key), (name, kind, key, value, _theirs(msg, key))
                        # nothing the lab's model reads is left out of ours
                        for key in ("IFLA_IFNAME", "IFLA_MASTER", "IFLA_LINK", "IFLA_LINK_NETNSID",
                                    "IFLA_OPERSTATE", "IFLA_ADDRESS", "IFA_LOCAL", "RTA_DST",
                                    "RTA_GATEWAY", "RTA_OIF", "NDA_DST", "NDA_LLADDR", "NETNSA_NSID"):
                            assert (key in body) == (_theirs(msg, key) is not None), (name, key)
                        seen[name] = seen.get(name, 0) + 1
    finally:
        for sock in socks:
            sock.close()
    assert all(seen.get(n, 0) > 5 for n in names), seen


def test_reading_a_namespace_imports_no_pyroute2(lab):
    """The watcher's reader takes its dumps apart itself: the app never pays pyroute2's import."""
    code = ("import sys; from tutor.lab import control; from tutor.lab.netlink import NetlinkReader; "
            "_, fds = control.request_fds('look', 1, namespaces=[''], ids=False); r = NetlinkReader(fds[0], 'host'); "
            "state, _ = r.read(); r.close(); "
            "print('lo' in state.links and len(state.links) > 1, "
            "any(m.split('.')[0] == 'pyroute2' for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"], out.stdout + out.stderr
