"""Why a behaviour check failed: walk the packet's path through what was read of the lab.

Pure functions of a LabState. The first broken hop becomes the hint, in a learner's words.
"""

from __future__ import annotations

import ipaddress

from tutor.checks.judge import Verdict, ip_cmd, judge_forward, place
from tutor.checks.lang import Check
from tutor.checks.state import HOST, LabState, Route, in_subnet

INTERNET = ipaddress.ip_network("0.0.0.0/0")
WORLD_LAN = "192.168.1.0/24"
NAMESERVER = "8.8.8.8"


def _best_route(routes: list[Route], ip: str) -> Route | None:
    best, best_len = None, -1
    for r in routes:
        net = "0.0.0.0/0" if r.dest == "default" else r.dest
        try:
            n = ipaddress.ip_network(net, strict=False)
        except ValueError:
            continue
        if ipaddress.ip_address(ip) in n and n.prefixlen > best_len:
            best, best_len = r, n.prefixlen
    return best


def _host_owns(state: LabState, ip: str) -> bool:
    return any(l.ns == HOST for l in state.owners_of(ip))


def _source_subnets(state: LabState, ns: str) -> list[str]:
    return [str(ipaddress.ip_network(f"{a}/{p}", strict=False))
            for l in state.ns[ns].links.values() if l.name != "lo" for a, p in l.addrs]


def _outside(ip: str, state: LabState) -> bool:
    """True for addresses of the simulated world beyond the lab host (internet, LAN)."""
    if state.owners_of(ip):
        return False
    return not any(in_subnet(ip, sub) for sub in _source_subnets(state, HOST)
                   if not sub.startswith(("172.17.", "192.168.1.")))


def path_problem(state: LabState, src: str, ip: str) -> Verdict | None:
    """The first broken hop from namespace `src` (or the lab host) to `ip`, or None if none seen."""
    if src != HOST and src not in state.namespaces:
        return Verdict(False, f"there is no namespace {src}", f"Create it: ip netns add {src}")
    ns = state.ns[src]
    owners = state.owners_of(ip)
    if len(owners) > 1:
        where = " and ".join(place(o.name, o.ns) for o in owners[:2])
        return Verdict(False, f"{ip} is on {where}",
                       "Duplicate address: two interfaces answer for one address, so ARP replies "
                       "race. Remove the wrong one with ip -n NS addr del …")
    route = _best_route(ns.routes, ip)
    who = "the lab host" if src == HOST else src
    if route is None:
        hint = f"Give {who} a route: {ip_cmd(src, f'route add default via GATEWAY')}"
        gw = _gateway_guess(state, src)
        if gw:
            hint = f"Give {who} a default route: {ip_cmd(src, f'route add default via {gw}')}"
        if not any(l.addrs for l in ns.links.values() if l.name != "lo"):
            hint = f"{who} has no address yet: give its interface one with a prefix (like /24)"
        return Verdict(False, f"{who} has no route to {ip}", hint)
    dev = ns.links.get(route.dev or "")
    if dev and not dev.admin_up:
        return Verdict(False, f"{place(dev.name, src)} is DOWN", f"Bring it up: {ip_cmd(src, f'link set dev {dev.name} up')}")
    if dev and dev.kind == "veth":
        peer = state.peer_of(dev)
        if peer and not peer.admin_up:
            return Verdict(False, f"the other end of {place(dev.name, src)}, {place(peer.name, peer.ns)}, is DOWN",
                           f"Bring it up: {ip_cmd(peer.ns, f'link set dev {peer.name} up')}")
        if peer and peer.ns == HOST and peer.master is None and not peer.addrs and _is_bridge_world(state):
            return Verdict(False, f"{place(peer.name, HOST)} is not plugged into a bridge",
                           f"Attach it: ip link set {peer.name} master BRIDGE")
        if peer and peer.master:
            bridge = state.link(peer.master, peer.ns)
            if bridge and not bridge.admin_up:
                return Verdict(False, f"the bridge {bridge.name} is DOWN", f"Bring it up: ip link set {bridge.name} up")
    if route.gateway and src != HOST and _host_owns(state, route.gateway) and not _host_owns(state, ip):
        return _through_host(state, src, ip)
    if not route.gateway and not owners and not _outside(ip, state):
        return Verdict(False, f"no interface in the lab has the address {ip}",
                       f"Check the address: ip -br addr, and in namespaces ip -n NS -br addr")
    for o in owners:
        if not o.admin_up:
            return Verdict(False, f"{place(o.name, o.ns)} (which has {ip}) is DOWN",
                           f"Bring it up: {ip_cmd(o.ns, f'link set dev {o.name} up')}")
    return None


def _is_bridge_world(state: LabState) -> bool:
    return any(l.kind == "bridge" for l in state.ns[HOST].links.values())


def _gateway_guess(state: LabState, src: str) -> str | None:
    """The lab host's address on the subnet of `src` — the natural default gateway."""
    for sub in _source_subnets(state, src):
        for link in state.ns[HOST].links.values():
            for a, _ in link.addrs:
                if in_subnet(a, sub):
                    return a
    return None


def _through_host(state: LabState, src: str, ip: str) -> Verdict | None:
    """The packet leaves `src` via the lab host: forwarding, filter and NAT must all allow it."""
    forward = state.sysctls.get((HOST, "net.ipv4.ip_forward"))
    if forward is not None and forward.strip() == "0":
        return Verdict(False, "net.ipv4.ip_forward is 0 on the lab host: it drops packets it should pass on",
                       "Turn on forwarding: sysctl -w net.ipv4.ip_forward=1")
    blocked = judge_forward(None, state)  # type: ignore[arg-type]
    if not blocked.passed:
        return blocked
    if _outside(ip, state):
        subnets = [s for s in _source_subnets(state, src)]
        from tutor.checks.judge import judge_masquerade
        from tutor.checks.lang import Check as _C, Where
        for sub in subnets:
            verdict = judge_masquerade(_C(f"masquerade {sub}", "masquerade", {"subnet": sub}, Where()), state)
            if not verdict.passed:
                side = "the LAN machine" if in_subnet(ip, WORLD_LAN) else "the internet"
                return Verdict(False, f"{verdict.found}; {side} has no route back to {sub}",
                               f"Masquerade the namespaces behind the host: "
                               f"iptables -t nat -A POSTROUTING -s {sub} -j MASQUERADE")
    return None


def explain(check: Check, state: LabState, seen: str) -> Verdict:
    """A failed behaviour check -> verdict whose hint names the broken hop, if one is visible."""
    found = _summary(seen)
    src = check.where.ns
    problem = None
    if check.where.node:
        problem = _node_problem(check, state)
    elif check.kind == "ping":
        problem = path_problem(state, src, check.args["ip"])
    elif check.kind == "tcp":
        problem = path_problem(state, src, check.args["ip"])
    elif check.kind in ("resolve", "fetch"):
        problem = _name_problem(check, state)
    if problem:
        return Verdict(False, f"{found} — {problem.found}", problem.hint)
    return Verdict(False, found, _generic_hint(check))


def _name_problem(check: Check, state: LabState) -> Verdict | None:
    src = check.where.ns
    text = check.args.get("url") or check.args.get("name") or ""
    host = text.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    try:
        ipaddress.ip_address(host)
        return path_problem(state, src, host)
    except ValueError:
        pass
    resolv = state.resolv.get(src) if src != HOST else None
    if src != HOST and src in state.resolv and resolv is None:
        return Verdict(False, f"{src} has no /etc/netns/{src}/resolv.conf",
                       f"Give it a DNS server: mkdir -p /etc/netns/{src} && "
                       f"echo 'nameserver {NAMESERVER}' > /etc/netns/{src}/resolv.conf")
    return path_problem(state, src, NAMESERVER)


def _node_problem(check: Check, state: LabState) -> Verdict | None:
    ip = check.args.get("ip") or check.args.get("url", "").split("://", 1)[-1].split("/")[0].split(":")[0]
    if check.where.ns != "lan" or not ip:
        return None
    if _host_owns(state, ip):
        port = check.args.get("port") or 80
        dnat = [r for r in state.nat_rules("PREROUTING") if r.opts.get("-j") == "DNAT"]
        if not dnat:
            return Verdict(False, f"nothing answers on {ip}:{port} on the lab host",
                           f"Forward the port to the web server: iptables -t nat -A PREROUTING -p tcp "
                           f"--dport {port} -j DNAT --to-destination 192.168.15.2:80")
        return None
    if not in_subnet(ip, WORLD_LAN):
        lan_routes = state.ns.get("node:lan")
        if lan_routes is not None and _best_route(lan_routes.routes, ip) is None:
            return Verdict(False, f"the LAN machine has no route to {ip}",
                           f"Give it one via the lab host: lan ip route add "
                           f"{ipaddress.ip_network(ip + '/24', strict=False)} via 192.168.1.2")
    return None


def _summary(seen: str) -> str:
    lines = [l.strip() for l in seen.strip().splitlines() if l.strip()]
    for l in lines:
        if "packet loss" in l:
            return "no reply (" + l.split(",")[2].strip() + ")" if l.count(",") >= 2 else l
    return lines[-1][:160] if lines else "no answer"


def _generic_hint(check: Check) -> str:
    where = str(check.where)
    return (f"Look at the path step by step: the addresses (ip -br addr), the routes (ip route) "
            f"and the firewall (iptables -S; iptables -t nat -S) on {where} and the lab host")
