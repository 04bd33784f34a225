"""Why a behaviour check failed: walk the packet's path through what was read of the lab.

Pure functions of a LabState. The first broken hop becomes the hint, in a learner's words,
quoting what was found and naming the command that fixes it.
"""

from __future__ import annotations

import ipaddress

from tutor.checks import kinds, packetpath
from tutor.checks.judge import Verdict, ip_cmd, place, who
from tutor.checks.kinds.dnat import dnat_fix, walk_from_lan
from tutor.checks.kinds.forward import forward_verdict
from tutor.checks.kinds.masquerade import masquerade_verdict
from tutor.checks.kinds.resolv import nameservers
from tutor.checks.lang import Check
from tutor.checks.packetpath import UNKNOWN
from tutor.i18n import Msg
from tutor.lab import world
from tutor.lab.state import HOST, LabState, Link, Route, Rule, covers, in_subnet
from tutor.lab.world import DNS_SERVER

# The lab host's own cables to the simulated world are the lab's, not the student's: every
# lesson finds them already there. The LAN machine is the one checks reach the lab host from.
LAN = world.node("lan")
LAN_NODE = f"node:{LAN.name}"      # how observe files the LAN machine's routes


def _best_route(routes: list[Route], ip: str) -> Route | None:
    """The route the kernel would pick for `ip`: the longest matching prefix."""
    best, best_len = None, -1
    for r in routes:
        try:
            net = ipaddress.ip_network("0.0.0.0/0" if r.dest == "default" else r.dest, strict=False)
        except ValueError:
            continue
        if ipaddress.ip_address(ip) in net and net.prefixlen > best_len:
            best, best_len = r, net.prefixlen
    return best


def _host_owns(state: LabState, ip: str) -> bool:
    return any(l.ns == HOST for l in state.owners_of(ip))


def _subnets(state: LabState, ns: str, skip: tuple[str, ...] = ("lo",)) -> list[str]:
    """The networks of the addresses in namespace `ns` (loopback and `skip` left out)."""
    return [str(ipaddress.ip_network(f"{a}/{p}", strict=False))
            for l in state.ns[ns].links.values() if l.name not in skip for a, p in l.addrs]


def _lan_address(state: LabState) -> tuple[str, str] | None:
    """(the lab host's address on the LAN, the LAN's subnet), from its cable to the LAN."""
    link = state.link(LAN.host_dev, HOST)
    if not link or not link.addrs:
        return None
    a, p = link.addrs[0]
    return a, str(ipaddress.ip_network(f"{a}/{p}", strict=False))


def _outside(ip: str, state: LabState) -> bool:
    """True for addresses of the simulated world beyond the lab host (internet, LAN)."""
    if state.owners_of(ip):
        return False
    built = _subnets(state, HOST, skip=("lo", *world.WORLD_LINKS))
    return not any(in_subnet(ip, sub) for sub in built)


def path_problem(state: LabState, src: str, ip: str) -> Verdict | None:
    """The first broken hop from namespace `src` (or the lab host) to `ip`, or None if none seen."""
    if src != HOST and src not in state.namespaces:
        return Verdict(False, Msg("there is no namespace {ns}", ns=src),
                       Msg("Create it: {cmd}", cmd=f"ip netns add {src}"))
    owners = state.owners_of(ip)
    if len(owners) > 1:
        return _duplicate(ip, owners)
    if problem := _source_taken(state, src, ip):
        return problem
    route = _best_route(state.ns[src].routes, ip)
    if route is None:
        return _no_route(state, src, ip)
    if src == HOST and route.dest == "default" and owners and not _host_owns(state, ip):
        return _wrong_way(state, route, owners[0])
    dev = state.ns[src].links.get(route.dev or "")
    if dev and (problem := _link_problem(state, src, dev)):
        return problem
    if route.gateway and src != HOST and not state.owners_of(route.gateway):
        return _gateway_missing(state, src, route, dev)
    if route.gateway and src != HOST and _host_owns(state, route.gateway) and not _host_owns(state, ip):
        return _through_host(state, src, ip)
    if not route.gateway and not owners and not _outside(ip, state):
        return Verdict(False, Msg("no interface in the lab has the address {ip}", ip=ip),
                       Msg("Give it to the interface that should answer: {cmd} (look with {look})",
                           cmd=f"ip -n NS addr add {ip}/24 dev DEV", look="ip -br addr and ip -n NS -br addr"))
    for o in owners:
        if o.ns != src and (problem := _link_problem(state, o.ns, o, ip)):
            return problem
    return None


def _duplicate(ip: str, owners: list[Link]) -> Verdict:
    first, second = owners[0], owners[1]
    fixes = [ip_cmd(o.ns, f"addr del {ip}/{dict(o.addrs)[ip]} dev {o.name}") for o in (first, second)]
    return Verdict(False, Msg("{ip} is on {first} and {second}", ip=ip, first=place(first.name, first.ns),
                              second=place(second.name, second.ns)),
                   Msg("Duplicate address: two interfaces answer for one address, so ARP replies race. Remove "
                       "it where it does not belong: {cmd} or {other}", cmd=fixes[0], other=fixes[1]))


def _source_taken(state: LabState, src: str, ip: str) -> Verdict | None:
    """An address of `src` that another namespace has too: the replies go there instead."""
    for link in _cables(state, src):
        for a, _ in link.addrs:
            others = [o for o in state.owners_of(a) if o.ns != src]
            if others and a != ip:
                return _duplicate(a, [link, others[0]])
    return None


def _cables(state: LabState, ns: str) -> list[Link]:
    """The interfaces of `ns` that can carry its traffic: not loopback, not an idle tunnel device."""
    return [l for l in state.ns[ns].links.values()
            if l.name != "lo" and (l.addrs or l.kind in ("veth", "bridge", "vlan", "macvlan"))]


def _host_side(state: LabState, link: Link) -> str:
    """Where the cable of `link` arrives on the lab host: its bridge, or the veth end itself."""
    peer = state.peer_of(link) if link.kind == "veth" else None
    if peer and peer.ns == HOST:
        return peer.master or peer.name
    return "DEV"


def _free_address(state: LabState, subnet: str) -> str:
    """The first address of `subnet` nobody in the lab has (a gateway is usually .1)."""
    for host in ipaddress.ip_network(subnet, strict=False).hosts():
        if not state.owners_of(str(host)):
            return str(host)
    return "ADDRESS"


def _no_route(state: LabState, src: str, ip: str) -> Verdict:
    cables = _cables(state, src)
    if not cables:
        return Verdict(False, Msg("{who} has no route to {ip}: it has no network interface but lo", who=who(src),
                                  ip=ip),
                       Msg("Connect it with a veth pair: {cmd}, then {move}",
                           cmd="ip link add VETH type veth peer name PEER", move=f"ip link set PEER netns {src}"))
    for link in cables:
        for a, p in link.addrs:
            if in_subnet(ip, f"{a}/{p}") and not link.admin_up:
                return Verdict(False, Msg("{who} has no route to {ip}: {where} (which has {addr}) is DOWN",
                                          who=who(src), ip=ip, where=place(link.name, src), addr=f"{a}/{p}"),
                               Msg("Bring it up (the kernel then adds the route): {cmd}",
                                   cmd=ip_cmd(src, f"link set dev {link.name} up")))
    addressed = [l for l in cables if l.addrs]
    if not addressed:
        return Verdict(False, Msg("{who} has no route to {ip}: it has no address yet", who=who(src), ip=ip),
                       Msg("Give its interface an address with a prefix: {cmd}",
                           cmd=ip_cmd(src, f"addr add ADDRESS/24 dev {cables[0].name}")))
    if gw := _gateway_guess(state, src):
        return Verdict(False, Msg("{who} has no route to {ip}", who=who(src), ip=ip),
                       Msg("Give {who} a default route: {cmd}", who=who(src),
                           cmd=ip_cmd(src, f"route add default via {gw}")))
    link = addressed[0]
    sub = str(ipaddress.ip_network(f"{link.addrs[0][0]}/{link.addrs[0][1]}", strict=False))
    free, side = _free_address(state, sub), _host_side(state, link)
    return Verdict(False, Msg("{who} has no route to {ip}, and the lab host has no address in {sub} to be its "
                              "gateway", who=who(src), ip=ip, sub=sub),
                   Msg("Give the host side an address, then route through it: {cmd}, then {route}",
                       cmd=f"ip addr add {free}/{sub.split('/')[1]} dev {side}",
                       route=ip_cmd(src, f"route add default via {free}")))


def _wrong_way(state: LabState, route: Route, owner: Link) -> Verdict:
    """The lab host sends a lab address out to the world: it has no route to the owner's subnet."""
    a, p = next((a, p) for a, p in owner.addrs if state.owners_of(a))
    sub = str(ipaddress.ip_network(f"{a}/{p}", strict=False))
    found = Msg("the lab host has no route to {sub}: it sends packets for {ip} out of {dev} to {gateway}", sub=sub,
                ip=a, dev=route.dev, gateway=route.gateway or Msg("the world"))
    for link in _cables(state, HOST):
        short = [x for x, n in link.addrs if n == 32 and in_subnet(x, sub)]
        if short:
            return Verdict(False, Msg("{found}; {where} has {addr}", found=found, where=place(link.name, HOST),
                                       addr=f"{short[0]}/32"),
                           Msg("Write the prefix: {delete} then {cmd}",
                               delete=f"ip addr del {short[0]}/32 dev {link.name}",
                               cmd=f"ip addr add {short[0]}/{p} dev {link.name}"))
    side = _host_side(state, owner)
    return Verdict(False, found, Msg("Give {dev} an address in {dest} (the kernel then adds the route): {cmd}",
                                     dev=side, dest=sub, cmd=f"ip addr add {_free_address(state, sub)}/{p} dev {side}"))


def _link_problem(state: LabState, ns: str, dev: Link, has: str = "") -> Verdict | None:
    """An interface on the path, its cable and the bridge behind it (`has`: the address the
    interface was looked at for, said after its name)."""
    where = Msg("{where} (which has {ip})", where=place(dev.name, ns), ip=has) if has else place(dev.name, ns)
    if not dev.admin_up:
        return Verdict(False, Msg("{where} is DOWN", where=where),
                       Msg("Bring it up: {cmd}", cmd=ip_cmd(ns, f"link set dev {dev.name} up")))
    peer = state.peer_of(dev) if dev.kind == "veth" else None
    if peer is None:
        return None
    if not peer.admin_up:
        return Verdict(False, Msg("the other end of {where}, {other}, is DOWN", where=where,
                                  other=place(peer.name, peer.ns)),
                       Msg("Bring it up: {cmd}", cmd=ip_cmd(peer.ns, f"link set dev {peer.name} up")))
    bridges = [l.name for l in state.ns[peer.ns].links.values() if l.kind == "bridge"]
    if peer.master is None and not peer.addrs and bridges:
        which = bridges[0] if len(bridges) == 1 else "BRIDGE"
        return Verdict(False, Msg("{other}, the other end of {where}, is not plugged into a bridge",
                                  other=place(peer.name, peer.ns), where=where),
                       Msg("Attach it: {cmd}", cmd=ip_cmd(peer.ns, f"link set {peer.name} master {which}")))
    bridge = state.link(peer.master, peer.ns) if peer.master else None
    if bridge and not bridge.admin_up:
        return Verdict(False, Msg("the bridge {where} is DOWN", where=place(bridge.name, peer.ns)),
                       Msg("Bring it up: {cmd}", cmd=ip_cmd(peer.ns, f"link set dev {bridge.name} up")))
    return None


def _gateway_guess(state: LabState, src: str) -> str | None:
    """The lab host's address on the subnet of `src` — the natural default gateway."""
    for sub in _subnets(state, src):
        for link in state.ns[HOST].links.values():
            for a, _ in link.addrs:
                if in_subnet(a, sub):
                    return a
    return None


def _gateway_missing(state: LabState, src: str, route: Route, dev: Link | None) -> Verdict:
    """A route via an address nobody in the lab has (often: the bridge was given no address)."""
    gw = route.gateway
    assert gw is not None   # called for a route via a gateway
    peer = state.peer_of(dev) if dev and dev.kind == "veth" else None
    target = (peer.master or peer.name) if peer else "DEV"
    prefix = next((s.split("/")[1] for s in _subnets(state, src) if in_subnet(gw, s)), "24")
    where = peer.ns if peer else HOST
    return Verdict(False, Msg("{who} sends it via {gw}, but no interface in the lab has {gw}", who=who(src), gw=gw),
                   Msg("Give the gateway its address: {cmd}",
                       cmd=ip_cmd(where, f"addr add {gw}/{prefix} dev {target}")))


def _forwarding_problem(state: LabState, sources: list[str], dest: str) -> Verdict | None:
    """Can the lab host pass packets from `sources` (subnets) on to address `dest`?"""
    forward = state.sysctls.get((HOST, "net.ipv4.ip_forward"))
    if forward is not None and forward.strip() == "0":
        return Verdict(False, Msg("net.ipv4.ip_forward is 0 on the lab host: it drops packets it should pass on"),
                       Msg("Turn on forwarding: {cmd}", cmd="sysctl -w net.ipv4.ip_forward=1"))
    verdict = forward_verdict(state)
    if not verdict.passed:
        return verdict
    if rule := _dropping_rule(state, sources, dest):
        return Verdict(False, Msg("the FORWARD chain has `{rule}`, which drops these packets", rule=f"-A {rule.text}"),
                       Msg("Remove it: {cmd}", cmd=f"iptables -D {rule.text}"))
    return None


def own_port_problem(state: LabState, src: str, ip: str, port: int) -> Verdict | None:
    """The lab host connects to tcp `port` on an address of its own: its connection goes through
    nat OUTPUT, never PREROUTING, so a port forwarded only in PREROUTING is not forwarded for it
    (Docker's second jump, from OUTPUT, is what fixes that)."""
    rules = state.ns[HOST].iptables if HOST in state.ns else None
    if src != HOST or not port or rules is None or not is_ip(ip) or not _host_owns(state, ip):
        return None
    from_lan = walk_from_lan(state, port)
    if from_lan is None or from_lan.action != "DNAT":
        return None
    packet = packetpath.Packet(src=ip, dst=ip, proto="tcp", sport=40000, dport=port, iif="", oif=None,
                               dst_local=True, state="NEW")
    if packetpath.walk(rules, "nat", "OUTPUT", packet).action in ("DNAT", UNKNOWN):
        return None
    if from_lan.chain != "PREROUTING":
        fix = f"iptables -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j {from_lan.chain}"
    else:
        fix = f"iptables -t nat -A OUTPUT -d {ip} -p tcp --dport {port} -j DNAT --to-destination {from_lan.to}"
    return Verdict(False, Msg("nat PREROUTING sends tcp port {port} on to {to}, but the lab host's own connections "
                              "pass through nat OUTPUT instead, and nothing there sends them on", port=port,
                              to=from_lan.to),
                   Msg("Send them the same way: {cmd}", cmd=fix))


def _published_problem(state: LabState, target: str, port: int) -> Verdict | None:
    """A new connection from the LAN machine, sent on to `target`:`port` by DNAT: does the lab
    host's filter FORWARD let it through (Docker's DROP policy: only a published port's ACCEPT
    in the filter DOCKER chain does)? Walked as the kernel walks it, with the rewritten
    destination."""
    rules = state.ns[HOST].iptables if HOST in state.ns else None
    out = next((l.name for l in state.ns[HOST].links.values() if any(in_subnet(target, f"{a}/{p}")
                for a, p in l.addrs)), None) if HOST in state.ns else None
    if rules is None or out is None:
        return None
    packet = packetpath.Packet(src=LAN.ip, dst=target, proto="tcp", sport=40000, dport=port,
                               iif=LAN.host_dev, oif=out, dst_local=False, state="NEW")
    walked = packetpath.walk(rules, "filter", "FORWARD", packet)
    if walked.action in (UNKNOWN, "ACCEPT"):
        return None
    way = Msg("new connections from {iif} to {target} on {oif}", iif=LAN.host_dev, target=f"{target}:{port}", oif=out)
    if not walked.by_policy:
        return Verdict(False, Msg("the FORWARD chain drops {way}: `{rule}` (rule {position} of {chain})", way=way,
                                  rule=walked.quote, position=walked.position, chain=walked.chain),
                       Msg("Delete it: {cmd}", cmd=f"iptables -D {walked.chain} {walked.position}"))
    return Verdict(False, Msg("the FORWARD chain drops {way}: no rule accepts them, so its policy `{policy}` does "
                              "(the port is forwarded by nat, but not let through)", way=way, policy=walked.quote),
                   published_fix(walked, LAN.host_dev, out, target, port))


def published_fix(walked: packetpath.Verdict, iif: str, out: str, target: str, port: int) -> str:
    """The hint for a port forwarded by DNAT to `target`:`port` whose new connections FORWARD's
    policy drops: Docker's ACCEPT in the filter DOCKER chain when the walk went through one,
    else one ACCEPT in FORWARD; either for that port alone."""
    if "DOCKER" in walked.path:
        fix = f"iptables -A DOCKER -d {target}/32 ! -i {out} -o {out} -p tcp -m tcp --dport {port} -j ACCEPT"
    else:
        fix = f"iptables -A FORWARD -i {iif} -o {out} -d {target} -p tcp --dport {port} -j ACCEPT"
    return Msg("Let the published port through: {cmd}", cmd=fix)


def _dropping_rule(state: LabState, sources: list[str], dest: str) -> Rule | None:
    """The first FORWARD rule matching only on -s/-d that drops packets from `sources` to `dest`."""
    for r in state.rules:
        if r.table != "filter" or r.chain != "FORWARD" or set(r.matches) - {"-s", "-d"}:
            continue
        src, dst = r.opts.get("-s"), r.opts.get("-d")
        if src and not any(covers(src, sub) or covers(sub, src) for sub in sources):
            continue
        if dst and not in_subnet(dest, dst):
            continue
        if r.opts.get("-j") == "ACCEPT":
            return None
        if r.opts.get("-j") in ("DROP", "REJECT"):
            return r
    return None


def _through_host(state: LabState, src: str, ip: str) -> Verdict | None:
    """The packet leaves `src` via the lab host: forwarding, filter and NAT must all allow it."""
    if problem := _forwarding_problem(state, _subnets(state, src), ip):
        return problem
    if not _outside(ip, state):
        return path_problem(state, HOST, ip)
    lan = _lan_address(state)
    side = Msg("the LAN machine") if lan and in_subnet(ip, lan[1]) else Msg("the internet")
    for link in _cables(state, src):
        for a, p in link.addrs:
            sub = str(ipaddress.ip_network(f"{a}/{p}", strict=False))
            verdict = masquerade_verdict(state, sub)
            if not verdict.passed:
                # as `tutor trace` finds it; the hint is the masquerade check's own: the rule the
                # lessons teach, or the one in its way
                return Verdict(False, Msg("the reply to {ip} has no way back: {side} has no route to {sub}, and "
                                          "{found}", ip=a, side=side, sub=sub, found=verdict.found), verdict.hint)
    return None


def explain(check: Check, state: LabState, seen: str) -> Verdict:
    """A failed behaviour check -> verdict whose hint names the broken hop, if one is visible.

    From a world node the way into the lab is walked here, for every kind alike; from a
    namespace or the lab host the check's kind says what to walk (a path to an address, or the
    way to a name's DNS server)."""
    found = summary(seen)
    kind = kinds.probe(check.kind)
    if check.where.node:
        problem = _node_problem(state, check.where.ns, *kind.target(check))
    else:
        problem = kind.explain(check, state)
    if problem:
        return Verdict(False, Msg("{seen} — {found}", seen=found, found=problem.found), problem.hint)
    return Verdict(False, found, _generic_hint(check))


def is_ip(text: str) -> bool:
    """Is `text` an IP address (not a name)?"""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def name_problem(state: LabState, src: str, host: str) -> Verdict | None:
    """Reaching `host` (a name or an address) from namespace `src` or the lab host: the path
    to the DNS server and the namespace's resolv.conf, or the path to the address."""
    if is_ip(host):
        return path_problem(state, src, host)
    if src == HOST:
        return _host_resolv_problem(state) or path_problem(state, src, DNS_SERVER)
    path = f"/etc/netns/{src}/resolv.conf"
    fix = f"mkdir -p /etc/netns/{src} && echo 'nameserver {DNS_SERVER}' > {path}"
    text = state.resolv.get(src)
    servers = nameservers(text or "")
    if text is not None and not servers:
        return Verdict(False, Msg("{path} names no nameserver", path=path), Msg("Name one: {cmd}", cmd=fix))
    # Without its own file a namespace reads the lab host's /etc/resolv.conf, which names the
    # lab's DNS server: then the way there is what matters first.
    server = servers[0] if servers else DNS_SERVER
    if problem := path_problem(state, src, server):
        return problem
    if server != DNS_SERVER:
        return Verdict(False, Msg("{path} names {servers}, which answers no DNS in this lab", path=path,
                                  servers=server),
                       Msg("Use the lab's DNS server: {cmd}", cmd=fix))
    if src in state.resolv and text is None:
        return Verdict(False, Msg("{ns} has no {path}", ns=src, path=path), Msg("Give it a DNS server: {cmd}", cmd=fix))
    return None


def _dnat_target(state: LabState, port: int) -> str | None:
    """Where the lab host's nat PREROUTING sends a new connection from the LAN machine to tcp
    `port`, walked as the `dnat` check walks it (user chains such as Docker's included); by the
    rules' text when the walk cannot tell. None: no DNAT rule takes it."""
    walked = walk_from_lan(state, port)
    if walked is not None and walked.action != UNKNOWN:
        return walked.to if walked.action == "DNAT" else None
    dnat = [r for r in state.nat_rules("PREROUTING")
            if r.opts.get("-j") == "DNAT" and r.opts.get("--dport") == str(port)]
    return dnat[0].opts.get("--to-destination", "") if dnat else None


def _host_resolv_problem(state: LabState) -> Verdict | None:
    """The lab host's /etc/resolv.conf (when it was read) names no server that answers."""
    if HOST not in state.resolv:
        return None
    path, text = "/etc/resolv.conf", state.resolv[HOST] or ""
    servers = nameservers(text)
    if DNS_SERVER in servers:
        return None
    fix = f"echo 'nameserver {DNS_SERVER}' >> {path}"
    if not servers:
        return Verdict(False, Msg("{path} names no nameserver", path=path), Msg("Name one: {cmd}", cmd=fix))
    crowded = next((l.strip() for l in text.splitlines()
                    if l.split()[:1] == ["nameserver"] and len(l.split()) > 2), None)
    if crowded:
        return Verdict(False, Msg("{path} has `{line}`, which names only {server}, and nothing answers DNS there",
                                  path=path, line=crowded, server=crowded.split()[1]),
                       Msg("Give each server a line of its own: {cmd}",
                           cmd=f"sed -i 's/^nameserver .*/nameserver {DNS_SERVER}/' {path}"))
    return Verdict(False, Msg("{path} names {servers}, which answers no DNS in this lab", path=path,
                              servers=", ".join(servers)),
                   Msg("Use the lab's DNS server: {cmd}", cmd=fix))


def _node_problem(state: LabState, node: str, ip: str, port: int) -> Verdict | None:
    """A check from world node `node` to `ip` (tcp `port`, or 0) into the lab, when that node is
    the LAN machine: a route on the LAN machine, or a DNAT rule."""
    lan = _lan_address(state)
    if node != LAN.name or not is_ip(ip) or lan is None:
        return None
    host_ip, lan_net = lan
    if _host_owns(state, ip):
        if not port:
            return None
        to = _dnat_target(state, port)
        if to is None:
            _, fix = dnat_fix(state, walk_from_lan(state, port), port, "SERVER-IP:PORT")
            if not any(r.opts.get("-j") == "DNAT" for r in state.rules if r.table == "nat"):
                # no port is forwarded at all: a server on the host itself (host networking) is as good
                return Verdict(False, Msg("no DNAT rule for tcp port {port}: nothing on the lab host answers "
                                          "{target}", port=port, target=f"{ip}:{port}"),
                               Msg("Start a server on the lab host's port {port} ({server}), or forward the port "
                                   "to one: {cmd}", port=port, server=f"python3 -m http.server {port}", cmd=fix))
            return Verdict(False, Msg("no DNAT rule for tcp port {port}: nothing on the lab host answers {target}",
                                      port=port, target=f"{ip}:{port}"),
                           Msg("Forward the port to the server: {cmd}", cmd=fix))
        target, _, to_port = to.partition(":")
        if not is_ip(target):
            return None
        first = to_port.split("-")[0]
        return (_forwarding_problem(state, [lan_net], target)
                or _published_problem(state, target, int(first) if first.isdigit() else port)
                or path_problem(state, HOST, target))
    if in_subnet(ip, lan_net):
        return None
    lan_routes = state.ns.get(LAN_NODE)
    if lan_routes is not None and _best_route(lan_routes.routes, ip) is None:
        net = next((s for s in _subnets(state, HOST) if in_subnet(ip, s)),
                   str(ipaddress.ip_network(ip + "/24", strict=False)))
        return Verdict(False, Msg("the LAN machine has no route to {ip}", ip=ip),
                       Msg("Give it one via the lab host: {cmd}", cmd=f"lan ip route add {net} via {host_ip}"))
    if problem := _forwarding_problem(state, [lan_net], ip) or path_problem(state, HOST, ip):
        return problem
    owner = next((o for o in state.owners_of(ip) if o.ns != HOST), None)
    if owner and _best_route(state.ns[owner.ns].routes, host_ip) is None:
        gw = _gateway_guess(state, owner.ns) or "GATEWAY"
        return Verdict(False, Msg("{ns} has no route back to the LAN {net}", ns=owner.ns, net=lan_net),
                       Msg("Route the LAN through the host: {cmd}",
                           cmd=ip_cmd(owner.ns, f"route add {lan_net} via {gw}")))
    return None


def summary(seen: str) -> str:
    """One line of what a probe printed: ping's loss figure, or curl's / getent's last words."""
    lines = [l.strip() for l in seen.strip().splitlines() if l.strip()]
    for l in lines:
        if "packet loss" in l:
            return Msg("no reply ({loss})", loss=l.split(",")[2].strip()) if l.count(",") >= 2 else l
    return lines[-1][:160] if lines else Msg("no answer")


def _generic_hint(check: Check) -> str:
    return Msg("Look at the path step by step: the addresses ({addrs}), the routes ({routes}) and the firewall "
               "({rules}) on {where} and the lab host", addrs="ip -br addr", routes="ip route",
               rules="iptables -S; iptables -t nat -S", where=str(check.where))
