"""Judging: a pure function per check kind, from what was read to a verdict with a hint.

Every verdict says what was found ("veth1 in red is DOWN") and, when it fails, the command
that fixes it. Nothing here touches the lab.
"""

from __future__ import annotations

from dataclasses import dataclass

from tutor.checks.lang import Check
from tutor.lab import world
from tutor.lab.state import HOST, LabState, Link, covers, in_subnet


@dataclass
class Verdict:
    """The outcome of one check."""
    passed: bool
    found: str
    hint: str = ""


def ip_cmd(ns: str, rest: str) -> str:
    """`ip …` for the lab host, `ip -n NS …` for a namespace."""
    return f"ip {rest}" if ns == HOST else f"ip -n {ns} {rest}"


def in_ns(ns: str, cmd: str) -> str:
    """A command as run inside namespace `ns` (or on the host)."""
    return cmd if ns == HOST else f"ip netns exec {ns} {cmd}"


def place(name: str, ns: str) -> str:
    """`veth1 in red`, `veth0 on the lab host`."""
    return f"{name} on the lab host" if ns == HOST else f"{name} in {ns}"


def who(ns: str) -> str:
    """`red`, or `the lab host`."""
    return "the lab host" if ns == HOST else ns


def _create(dev: str, kind: str | None, ns: str = HOST) -> str:
    """The command that creates interface `dev` in `ns`: a bridge, or one end of a veth pair."""
    if kind == "bridge":
        return ip_cmd(ns, f"link add {dev} type bridge")
    return ip_cmd(ns, f"link add {dev} type veth peer name OTHER-END")


def _no_namespace(state: LabState, ns: str) -> Verdict | None:
    if ns == HOST or ns in state.namespaces:
        return None
    have = ", ".join(state.namespaces) or "none"
    return Verdict(False, f"there is no namespace {ns} (the lab has: {have})",
                   f"Create it first: ip netns add {ns}")


def _missing_link(state: LabState, dev: str, ns: str, kind: str | None = None) -> Verdict:
    """Why DEV is not in NS: never made, left on the host, or moved somewhere else."""
    if bad := _no_namespace(state, ns):
        return bad
    elsewhere = state.links_named(dev)
    if elsewhere:
        other = elsewhere[0]
        if other.ns == HOST:
            return Verdict(False, f"{dev} is still on the lab host, not in {ns}",
                           f"Move that end of the cable into the namespace: ip link set {dev} netns {ns}")
        if ns == HOST:
            return Verdict(False, f"{dev} is in namespace {other.ns}, not on the lab host",
                           f"Wrong namespace: move it back with ip -n {other.ns} link set {dev} netns 1, "
                           f"or recreate it on the host")
        return Verdict(False, f"{dev} is in namespace {other.ns}, not in {ns}",
                       f"Wrong namespace: move it with ip -n {other.ns} link set {dev} netns {ns}")
    if kind == "bridge":
        fix = f"Create the bridge: {_create(dev, kind, ns)}"
    else:
        fix = f"Create the {'veth pair' if kind == 'veth' else 'interface (for a veth pair)'}: {_create(dev, kind)}"
        fix += "" if ns == HOST else f", then move this end: ip link set {dev} netns {ns}"
    return Verdict(False, f"there is no interface {dev} anywhere in the lab", fix)


def _find(state: LabState, dev: str, ns: str) -> Link | Verdict:
    link = state.link(dev, ns)
    return link if link else _missing_link(state, dev, ns)


def judge_netns(c: Check, s: LabState) -> Verdict:
    """`netns NAME`: the namespace exists."""
    name = c.args["name"]
    if name in s.namespaces:
        return Verdict(True, f"namespace {name} exists")
    have = ", ".join(s.namespaces) or "none"
    return Verdict(False, f"there is no namespace {name} (the lab has: {have})",
                   f"Create it: ip netns add {name}")


def judge_link(c: Check, s: LabState) -> Verdict:
    """`link DEV [in NS] [up] [type T]`: the interface is there (UP, of that type)."""
    dev, ns, want = c.args["dev"], c.where.ns, c.args.get("type")
    link = s.link(dev, ns)
    if link is None:
        return _missing_link(s, dev, ns, want)
    if want and link.kind != want:
        return Verdict(False, f"{place(dev, ns)} is a {link.kind or 'plain device'}, not a {want}",
                       f"Delete it ({ip_cmd(ns, f'link del {dev}')}) and create a {want}: "
                       f"{_create(dev, want, ns)}")
    if c.args.get("up") and not link.admin_up:
        return Verdict(False, f"{place(dev, ns)} is DOWN",
                       f"Bring it up: {ip_cmd(ns, f'link set dev {dev} up')}")
    state = "UP" if link.admin_up else "DOWN"
    note = " (its other end is still down)" if link.admin_up and link.oper == "LOWERLAYERDOWN" else ""
    return Verdict(True, f"{place(dev, ns)} exists, {state}{note}")


def judge_peer(c: Check, s: LabState) -> Verdict:
    """`peer DEV [in NS] with DEV2 [in NS2]`: the two are the ends of one veth pair."""
    dev, ns, want, want_ns = c.args["dev"], c.where.ns, c.args["peer"], c.args["peer_ns"]
    link = _find(s, dev, ns)
    if isinstance(link, Verdict):
        return link
    if link.kind != "veth":
        return Verdict(False, f"{place(dev, ns)} is a {link.kind or 'plain device'}, not a veth end",
                       f"Create a pair: ip link add {dev} type veth peer name {want}")
    peer = s.peer_of(link)
    if peer is None:
        return Verdict(False, f"cannot find the other end of {place(dev, ns)}",
                       f"Recreate the pair: ip link add {dev} type veth peer name {want}")
    if peer.name != want:
        return Verdict(False, f"the other end of {place(dev, ns)} is {place(peer.name, peer.ns)}, not {want}",
                       f"Delete the pair ({ip_cmd(ns, f'link del {dev}')}) and recreate it: "
                       f"ip link add {dev} type veth peer name {want}")
    if peer.ns != want_ns:
        if peer.ns == HOST:
            return Verdict(False, f"{want} is still on the lab host, not in {want_ns}",
                           f"Move that end into the namespace: ip link set {want} netns {want_ns}")
        return Verdict(False, f"{want} is in namespace {peer.ns}, not {place('', want_ns).strip()}",
                       f"Wrong namespace: move it with ip -n {peer.ns} link set {want} netns "
                       f"{'1' if want_ns == HOST else want_ns}")
    return Verdict(True, f"{place(dev, ns)} is cabled to {place(want, want_ns)}")


def judge_master(c: Check, s: LabState) -> Verdict:
    """`master DEV [in NS] is BR`: DEV is a port of bridge BR."""
    dev, ns, br = c.args["dev"], c.where.ns, c.args["bridge"]
    link = _find(s, dev, ns)
    if isinstance(link, Verdict):
        return link
    bridge = s.link(br, ns)
    fix = ip_cmd(ns, f"link set {dev} master {br}")
    if bridge is None:
        return Verdict(False, f"{place(dev, ns)} cannot join {br}: there is no bridge {br} there",
                       f"Create the bridge first: {ip_cmd(ns, f'link add {br} type bridge')}, then {fix}")
    if link.master is None:
        return Verdict(False, f"{place(dev, ns)} is not plugged into any bridge",
                       f"Attach the port to the bridge: {fix}")
    if link.master != br:
        return Verdict(False, f"{place(dev, ns)} is a port of {link.master}, not {br}",
                       f"Move it: {fix}")
    return Verdict(True, f"{place(dev, ns)} is a port of {br}")


def judge_addr(c: Check, s: LabState) -> Verdict:
    """`addr A/P on DEV [in NS]`: DEV has that address with that prefix, and nobody else has it."""
    ip, prefix, dev, ns = c.args["ip"], c.args["prefix"], c.args["dev"], c.where.ns
    want = f"{ip}/{prefix}"
    owners = s.owners_of(ip)
    link = s.link(dev, ns)
    add = ip_cmd(ns, f"addr add {want} dev {dev}")
    if link is None:
        verdict = _missing_link(s, dev, ns)
        moved = [l for l in s.links_named(dev) if ip in dict(l.addrs)]
        if moved:   # moving an interface to another namespace wipes its addresses
            verdict.found += f" (it has {ip} there)"
            verdict.hint += f"; moving it clears its addresses, so add {want} again: {add}"
        elif owners:
            o = owners[0]
            verdict.found += f"; {ip} is on {place(o.name, o.ns)}"
        return verdict
    mine = dict(link.addrs)
    others = [o for o in owners if (o.name, o.ns) != (dev, ns)]
    if ip in mine and mine[ip] != prefix:
        return Verdict(False, f"{place(dev, ns)} has {ip}/{mine[ip]}, not /{prefix}",
                       f"Write the prefix: {ip_cmd(ns, f'addr del {ip}/{mine[ip]} dev {dev}')} then {add}"
                       + (f" (without /{prefix} the kernel uses /32: no route to the rest of the subnet)"
                          if mine[ip] == 32 else ""))
    if ip in mine and others:
        o = others[0]
        return Verdict(False, f"{want} is on {place(dev, ns)} and also on {place(o.name, o.ns)}",
                       f"Duplicate address: two machines answering for {ip} confuse ARP. Remove the "
                       f"wrong one: {ip_cmd(o.ns, f'addr del {ip}/{dict(o.addrs)[ip]} dev {o.name}')}")
    if ip in mine:
        return Verdict(True, f"{place(dev, ns)} has {want}")
    if others:
        o = others[0]
        return Verdict(False, f"{ip} is on {place(o.name, o.ns)}, not on {place(dev, ns)}",
                       f"Wrong place: {ip_cmd(o.ns, f'addr del {ip}/{dict(o.addrs)[ip]} dev {o.name}')} then {add}")
    if mine:
        have = ", ".join(f"{a}/{p}" for a, p in link.addrs)
        return Verdict(False, f"{place(dev, ns)} has {have}, not {want}", f"Add it: {add}")
    what = "the bridge " if link.kind == "bridge" else ""
    return Verdict(False, f"{what}{place(dev, ns)} has no IPv4 address",
                   f"Give it one: {add}" + (" (a bridge needs an address to be the gateway of its "
                                              "subnet)" if link.kind == "bridge" else ""))


def judge_route(c: Check, s: LabState) -> Verdict:
    """`route DEST [via GW] [dev DEV] [in NS]`: NS has such a route."""
    dest, via, dev, ns = c.args["dest"], c.args["via"], c.args["dev"], c.where.ns
    if bad := _no_namespace(s, ns):
        return bad
    routes = [r for r in s.ns[ns].routes if r.dest == dest]
    label = "default route" if dest == "default" else f"route to {dest}"
    spec = " ".join(x for x in (dest, f"via {via}" if via else "", f"dev {dev}" if dev else "") if x)
    if not routes:
        if via is None and dev and dest != "default":
            return _missing_link_route(c, s)
        return Verdict(False, f"{who(ns)} has no {label}", f"Add it: {ip_cmd(ns, f'route add {spec}')}")
    for r in routes:
        if (via is None or r.gateway == via) and (dev is None or r.dev == dev):
            return Verdict(True, f"{who(ns)} has a {label} via {r.gateway or 'a direct link'} dev {r.dev}")
    r = routes[0]
    return Verdict(False, f"{who(ns)}'s {label} goes via {r.gateway or 'no gateway'} dev {r.dev}, not {spec}",
                   f"Replace it: {ip_cmd(ns, f'route replace {spec}')}")


def _missing_link_route(c: Check, s: LabState) -> Verdict:
    """No `DEST dev DEV` route: the kernel adds it once DEV is UP with an address in DEST."""
    dest, dev, ns = c.args["dest"], c.args["dev"], c.where.ns
    link = s.link(dev, ns)
    if link is None:
        return _missing_link(s, dev, ns)
    inside = [f"{a}/{p}" for a, p in link.addrs if in_subnet(a, dest)]
    if inside and not link.admin_up:
        return Verdict(False, f"{who(ns)} has no route to {dest}: {place(dev, ns)} has {inside[0]} but is DOWN",
                       f"Bring it up (the kernel then adds the route): {ip_cmd(ns, f'link set dev {dev} up')}")
    prefix = dest.split("/")[1]
    return Verdict(False, f"{who(ns)} has no route to {dest} on {dev}: {place(dev, ns)} has no address in it",
                   f"Give {dev} an address in {dest} (the kernel then adds the route): "
                   f"{ip_cmd(ns, f'addr add ADDRESS/{prefix} dev {dev}')}")


def judge_sysctl(c: Check, s: LabState) -> Verdict:
    """`sysctl KEY = VALUE [in NS]`: the sysctl reads VALUE."""
    key, want, ns = c.args["key"], c.args["value"], c.where.ns
    if bad := _no_namespace(s, ns):
        return bad
    value = (s.sysctls.get((ns, key)) or "").strip()
    if value != want and not value.lstrip("-").isdigit():
        return Verdict(False, f"could not read {key} in {who(ns)} ({value or 'no answer'})",
                       f"Check the name: {in_ns(ns, f'sysctl {key}')}")
    if value != want:
        extra = " (it does not route packets between its interfaces)" if key.endswith("ip_forward") else ""
        return Verdict(False, f"{key} is {value} on {who(ns)}{extra}",
                       f"Set it: {in_ns(ns, f'sysctl -w {key}={want}')}")
    return Verdict(True, f"{key} is {want} on {who(ns)}")


def judge_forward(c: Check, s: LabState) -> Verdict:
    """`forward`: see forward_verdict."""
    return forward_verdict(s)


def forward_verdict(s: LabState) -> Verdict:
    """Does the lab host's filter FORWARD chain let forwarded packets through?"""
    policy = s.policies.get(("filter", "FORWARD"), "ACCEPT")
    rules = [r for r in s.rules if r.table == "filter" and r.chain == "FORWARD"]
    for r in rules:   # the first rule that matches every packet decides
        if not r.matches:
            target = r.opts.get("-j", "")
            if target in ("DROP", "REJECT"):
                return Verdict(False, f"the FORWARD chain has `-A {r.text}` before any ACCEPT",
                               f"Remove it: iptables -D {r.text}")
            if target == "ACCEPT":
                return Verdict(True, "the FORWARD chain accepts everything (rule ACCEPT)")
    if policy in ("DROP", "REJECT"):
        accepts = [r for r in rules if r.opts.get("-j") == "ACCEPT"]
        if accepts:
            return Verdict(True, f"the FORWARD policy is {policy}, with {len(accepts)} ACCEPT rule(s)")
        return Verdict(False, f"the FORWARD chain's policy is {policy}: forwarded packets are dropped",
                       "Accept forwarded packets: iptables -P FORWARD ACCEPT")
    return Verdict(True, f"the FORWARD chain's policy is {policy}")


def _nat_covers(rule_opts: dict[str, str], subnet: str) -> bool:
    src = rule_opts.get("-s")
    if "!-s" in rule_opts or "-p" in rule_opts:
        return False
    out = rule_opts.get("-o")
    if out and not any(dev == out or (out.endswith("+") and dev.startswith(out[:-1]))
                       for dev in world.WORLD_LINKS):
        return False
    return src is None or covers(src, subnet)


def judge_masquerade(c: Check, s: LabState) -> Verdict:
    """`masquerade SUBNET`: see masquerade_verdict."""
    return masquerade_verdict(s, c.args["subnet"])


def masquerade_verdict(s: LabState, subnet: str) -> Verdict:
    """Does a nat POSTROUTING rule masquerade (or SNAT) packets from `subnet`?"""
    nat = [r for r in s.nat_rules("POSTROUTING") if r.opts.get("-j") in ("MASQUERADE", "SNAT")]
    fix = f"iptables -t nat -A POSTROUTING -s {subnet} -j MASQUERADE"
    for r in nat:
        if _nat_covers(r.opts, subnet):
            return Verdict(True, f"POSTROUTING masquerades {subnet} (`-A {r.text}`)")
    if nat:
        have = "; ".join(f"-A {r.text}" for r in nat)
        wrong = [r for r in nat if r.opts.get("-s") and not covers(r.opts["-s"], subnet)]
        drop = f"delete the wrong rule (iptables -t nat -D {wrong[0].text}) and " if wrong else ""
        return Verdict(False, f"the nat rules do not cover {subnet}: {have}",
                       f"Wrong source subnet: {drop}add {fix}")
    return Verdict(False, "the nat table's POSTROUTING chain has no MASQUERADE rule",
                   f"Add one: {fix}")


def judge_dnat(c: Check, s: LabState) -> Verdict:
    """`dnat tcp PORT to IP:PORT`: a PREROUTING rule sends tcp PORT there."""
    port, ip, to_port = c.args["port"], c.args["to_ip"], c.args["to_port"]
    fix = f"iptables -t nat -A PREROUTING -p tcp --dport {port} -j DNAT --to-destination {ip}:{to_port}"
    rules = [r for r in s.nat_rules("PREROUTING") if r.opts.get("-j") == "DNAT"]
    for r in rules:
        dest = r.opts.get("--to-destination", "")
        target_ip, _, target_port = dest.partition(":")
        if (r.opts.get("-p") == "tcp" and r.opts.get("--dport") == str(port) and target_ip == ip
                and (target_port or str(port)) == str(to_port)):
            return Verdict(True, f"PREROUTING forwards tcp port {port} to {ip}:{to_port}")
    if rules:
        have = "; ".join(f"-A {r.text}" for r in rules)
        return Verdict(False, f"the DNAT rules do not send tcp {port} to {ip}:{to_port}: {have}", f"Add: {fix}")
    return Verdict(False, "the nat table's PREROUTING chain has no DNAT rule",
                   f"Forward the port: {fix} (`--dport` needs `-p tcp` before it)")


def judge_resolv(c: Check, s: LabState) -> Verdict:
    """`resolv NS nameserver IP`: /etc/netns/NS/resolv.conf names IP."""
    ns, want = c.args["ns"], c.args["nameserver"]
    path = f"/etc/netns/{ns}/resolv.conf"
    text = s.resolv.get(ns)
    fix = f"mkdir -p /etc/netns/{ns} && echo 'nameserver {want}' > {path}"
    if text is None:
        return Verdict(False, f"{path} does not exist", f"Create it: {fix}")
    servers = [l.split()[1] for l in text.splitlines() if l.split()[:1] == ["nameserver"] and len(l.split()) > 1]
    if want in servers:
        return Verdict(True, f"{path} names nameserver {want}")
    found = ", ".join(servers) or "no nameserver line"
    return Verdict(False, f"{path} has {found}", f"Write it: {fix}")


STATE_JUDGES = {
    "netns": judge_netns, "link": judge_link, "peer": judge_peer, "master": judge_master,
    "addr": judge_addr, "route": judge_route, "sysctl": judge_sysctl, "forward": judge_forward,
    "masquerade": judge_masquerade, "dnat": judge_dnat, "resolv": judge_resolv,
}
