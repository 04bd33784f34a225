"""`tutor trace CHECK`: the way one probe's packet goes through the lab, hop by hop, and where
it dies.

Two trips into the lab. The first reads the lab (`observe.read_state`, hints included) and, in
the same process, asks the source where its packet goes (`ip route get`, after a name lookup
when the check names a host). The second reads the lab host's iptables counters and conntrack
table, runs the check's own probe, reads them again, and asks every place the packet may reach
how it would route on (the lab host, forwarding) and back (the reply).

`build` then tells the story from that data alone (pure): each namespace's route decision, the
cable it crosses, the NAT it gets (the rule, and the conntrack entry's reply tuple), the filter
rule or policy that decides (the packet-path walk, with the rule's counter before and after),
and the reply's way back. The probe has the last word: the packet got there and back or not,
whatever the walk expected. Where the walk sees no broken hop, the check's own hint explains.
"""

from __future__ import annotations

import ipaddress
import json
import shlex
from dataclasses import dataclass, field

from tutor.checks import kinds, observe, packetpath
from tutor.checks.diagnose import explain, is_ip, published_fix, summary
from tutor.checks.judge import ip_cmd, place
from tutor.checks.kinds.masquerade import masquerade_fix
from tutor.checks.lang import Check, CheckSyntaxError, parse_check
from tutor.i18n import Msg, cause, in_lang, lang
from tutor.lab import client, control, world
from tutor.lab.iptables import Iptables, parse
from tutor.lab.state import HOST, LabState, Link, in_subnet

MARK = "@@trace@@"
CONNTRACK = "/proc/net/nf_conntrack"

# where a hop is, when it is not a namespace or a world machine
CABLE, LAB_HOST, FIREWALL, NAT = Msg("cable"), Msg("lab host"), Msg("firewall"), Msg("NAT")
CONNTRACKED, WAY_BACK, RESULT, LAB = Msg("conntrack"), Msg("way back"), Msg("result"), Msg("lab")
NOT_ASKED = Msg("not asked")


class TraceError(ValueError):
    """A check `tutor trace` cannot follow (one sentence)."""


@dataclass
class Hop:
    """One thing the packet meets: where, what happens there, and whether it goes on (None:
    the walk cannot tell). `where` and `what` are Msgs where they are words: str() is English."""
    where: str
    what: str
    ok: bool | None = True


@dataclass
class Trace:
    """The whole way, and its end."""
    check: str
    reached: bool                       # the probe got there and back (the kernel's answer)
    result: str                         # what the probe printed, in one line
    hops: list[Hop] = field(default_factory=list)
    dies: str = ""                      # where and why it dies ("" when it got there and back)
    hint: str = ""
    counters: list[str] = field(default_factory=list)   # rules whose counters the probe moved

    def as_json(self) -> dict:
        """`tutor trace --json`: {"check", "reached", "result", "hops": [{"where", "what", "ok"}],
        "dies", "hint", "counters"}, in English; when the course speaks another language, each
        hop also has "where_local" and "what_local", and the trace "dies_local" and "hint_local"."""
        code = lang()
        hops = [{"where": str(h.where), "what": str(h.what), "ok": h.ok} for h in self.hops]
        out = {"check": self.check, "reached": self.reached, "result": str(self.result), "hops": hops,
               "dies": str(self.dies), "hint": str(self.hint), "counters": [str(c) for c in self.counters]}
        if code != "en":
            for hop, h in zip(hops, self.hops, strict=True):
                hop.update(where_local=in_lang(h.where, code), what_local=in_lang(h.what, code))
            out.update(dies_local=in_lang(self.dies, code), hint_local=in_lang(self.hint, code))
        return out

    def shown(self, code: str | None = None) -> Trace:
        """This trace in language `code` (the course's by default), for people to read."""
        code = code or lang()
        return Trace(self.check, self.reached, in_lang(self.result, code),
                     [Hop(in_lang(h.where, code), in_lang(h.what, code), h.ok) for h in self.hops],
                     in_lang(self.dies, code), in_lang(self.hint, code), [in_lang(c, code) for c in self.counters])


@dataclass
class Facts:
    """What the two trips brought back."""
    address: str = ""                   # the destination address (after a name lookup)
    lookup_error: str = ""
    route: dict | str = ""              # the source's `ip route get`: the route, or ip's error
    routes: dict[str, dict | str] = field(default_factory=dict)   # query key -> route or error
    before: dict[tuple[str, str, int], int] = field(default_factory=dict)   # rule counters
    after: dict[tuple[str, str, int], int] = field(default_factory=dict)
    conntrack: list[str] = field(default_factory=list)   # entries the probe made
    neighbours: list[dict] = field(default_factory=list)  # the source's ARP table after the probe
    probe: tuple[bool, str] = (False, "")
    rules: str = ""                     # `iptables-save` before the probe (counters left out)
    forwarding: str = ""                # a router namespace's net.ipv4.ip_forward
    proto: str = ""                     # what is followed: the probe's packet, or (when the name
    port: int | None = None             # lookup failed) its DNS query, udp 53


def check_of(text: str) -> Check:
    """The check `tutor trace` follows; TraceError for one it cannot."""
    try:
        check = parse_check(text)
    except CheckSyntaxError as exc:
        raise TraceError(Msg("{text!r} is not a check: {problem}", text=text, problem=cause(exc))) from None
    if not traced(check):
        names = [k.name for k in kinds.all_kinds() if getattr(k, "protocol", "")]
        raise TraceError(Msg("trace follows a packet: write a {kinds} or {last} check, such as {example}, "
                             "not {kind}", kinds=", ".join(names[:-1]), last=names[-1],
                             example=f"'ping {world.DNS_SERVER} from container10'", kind=check.kind))
    return check


def traced(check: Check) -> bool:
    """Does `check` send a packet `tutor trace` can follow?"""
    return check.behaviour and bool(kinds.probe(check.kind).protocol)


def trace(text: str, info: control.LabInfo) -> Trace:
    """Follow the packet of check `text` through the running lab."""
    check = check_of(text)
    host, port = kinds.probe(check.kind).target(check)
    at = observe.prefix(check.where.ns, check.where.node)
    state = observe.read_state([check], info, prelude=_lookup_script(at, host), for_hints=True)
    facts = Facts(proto=kinds.probe(check.kind).protocol, port=port or None)
    _read_lookup(state.prelude[1] if state.prelude else "", facts)
    if facts.address:
        result = client.run(_probe_script(check, state, facts), info=info, timeout=30)
        _read_probe(result.stdout, facts)
    return build(check, state, facts)


def _lookup_script(at: str, host: str) -> str:
    """Where the source sends a packet for `host` (looked up first if it is a name)."""
    if is_ip(host):
        lookup = f"d={shlex.quote(host)}"
    else:   # a failed lookup: follow its query to the nameserver instead
        lookup = (f"d=$({at}getent ahostsv4 {shlex.quote(host)} 2>&1 | head -n 1); d=${{d%% *}}\n"
                  f"case $d in *.*.*.*) ;; *) echo '{MARK} lookup-failed'; echo \"$d\"; "
                  f"d=$({at}awk '$1==\"nameserver\" {{print $2; exit}}' /etc/resolv.conf 2>&1);; esac")
    return (f"{lookup}\necho '{MARK} address'; echo \"$d\"\n"
            f"echo '{MARK} route'; {at}ip -j route get \"$d\" 2>&1\n")


def _sections(text: str) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith(MARK + " "):
            key = line[len(MARK) + 1:].strip()
            out[key] = []
        elif key:
            out[key].append(line)
    return {k: "\n".join(v).strip() for k, v in out.items()}


def _route(text: str) -> dict | str:
    """`ip -j route get` output -> the route, or ip's error sentence."""
    try:
        data = json.loads(text.splitlines()[0] if text else "", strict=False)
    except (ValueError, IndexError):
        return text.strip().splitlines()[-1] if text.strip() else Msg("no answer")
    return data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else Msg("no answer")


def _read_lookup(text: str, facts: Facts) -> None:
    parts = _sections(text)
    address = parts.get("address", "")
    if "lookup-failed" in parts:
        facts.lookup_error = parts["lookup-failed"] or Msg("getent found no address")
        facts.proto, facts.port = "udp", 53
    if is_ip(address):
        facts.address = address
        facts.route = _route(parts.get("route", ""))
    elif not facts.lookup_error:
        facts.lookup_error = address or Msg("no answer")


# --- the second trip ------------------------------------------------------------------------

def _queries(check: Check, state: LabState, facts: Facts) -> dict[str, tuple[str, str]]:
    """Route questions for the places the packet may reach: key -> (where prefix, args)."""
    q: dict[str, tuple[str, str]] = {}
    route = facts.route if isinstance(facts.route, dict) else {}
    src = route.get("prefsrc") or route.get("from") or ""
    iif = _host_entry(check, state, route)
    destinations = _destinations(check, state, facts)   # (two nat walks: once per trace)
    for dst in destinations:
        q[f"host {dst}"] = ("", f"{dst} from {src} iif {iif}" if iif and src else dst)
    answers = {src, *(a for l in state.ns[HOST].links.values() if l.name != "lo" for a, _ in l.addrs)}
    # where the packet may end: the world's machines, the namespaces that have a destination
    # (not every namespace: a lab with hundreds costs no more), a router namespace, the lab host
    places = [(f"node {n.name}", observe.prefix(n.name, True)) for n in world.NODES]
    owners = {o.ns for dst in destinations for o in state.owners_of(dst)}
    router = _router(check, state, facts)
    if router is not None:
        owners.add(router.ns)
        q[f"router {router.ns} {facts.address}"] = (observe.prefix(router.ns, False),
                                                     f"{facts.address} from {src} iif {router.name}")
    places += [(ns, observe.prefix(ns, False)) for ns in sorted(owners) if ns != HOST and ns in state.ns]
    places.append((HOST, ""))
    for name, at in places:
        for a in sorted(x for x in answers if x):
            q[f"back {name} {a}"] = (at, a)
    for n in world.NODES:   # a world machine handed a packet it does not own: where does it send it?
        for dst in destinations:
            q[f"on node {n.name} {dst}"] = (observe.prefix(n.name, True), dst)
    return q


def _destinations(check: Check, state: LabState, facts: Facts) -> list[str]:
    """The address asked for, and where a DNAT rule would send it instead."""
    out = [facts.address]
    for hook in ("PREROUTING", "OUTPUT"):
        verdict = _nat_walk(check, state, facts, hook, iif=_host_entry(check, state, facts.route)
                            if hook == "PREROUTING" else "")
        if verdict and verdict.action == "DNAT" and verdict.to:
            out.append(_address_of(verdict.to))
    return list(dict.fromkeys(out))


def _probe_script(check: Check, state: LabState, facts: Facts) -> str:
    at = observe.prefix(check.where.ns, check.where.node)
    probe = observe.probe_command(check)
    lines = [f"t() {{ echo '{MARK}' \"$*\"; }}",
             "t rules-before; iptables-save -c 2>&1",
             f"t conntrack-before; cat {CONNTRACK} 2>/dev/null",
             f"t probe; o=$({probe} 2>&1); echo \"$?\"; printf '%s\\n' \"${{o:0:{observe.PROBE_CAP}}}\"",
             "t rules-after; iptables-save -c 2>&1",
             f"t conntrack-after; cat {CONNTRACK} 2>/dev/null",
             f"t neighbours; {at}ip -j -4 neigh show 2>&1"]
    for key, (where, args) in _queries(check, state, facts).items():
        lines.append(f"t route {key}; {where}ip -j route get {args} 2>&1")
    router = _router(check, state, facts)
    if router is not None:
        lines.append(f"t forwarding; {observe.prefix(router.ns, False)}cat /proc/sys/net/ipv4/ip_forward 2>&1")
    return "\n".join(lines) + "\n"


def counters(text: str) -> dict[tuple[str, str, int], int]:
    """`iptables-save -c` -> packets per (table, chain, rule number); number 0 is the policy."""
    out: dict[tuple[str, str, int], int] = {}
    seen: dict[tuple[str, str], int] = {}
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith(":") and line.rstrip().endswith("]"):
            chain = line[1:].split()[0]
            out[(table, chain, 0)] = _packets(line[line.rindex("["):])
        elif line.startswith("[") and "] -A " in line:
            chain = line.split("] -A ", 1)[1].split()[0]
            seen[(table, chain)] = n = seen.get((table, chain), 0) + 1
            out[(table, chain, n)] = _packets(line)
    return out


def _packets(text: str) -> int:
    head = text[1:text.index("]")] if "]" in text else ""
    number = head.split(":")[0]
    return int(number) if number.isdigit() else 0


def _uncounted(text: str) -> str:
    """`iptables-save -c` text as plain `iptables-save` prints it."""
    return "\n".join(line.split("] ", 1)[1] if line.startswith("[") and "] -A " in line else line
                     for line in text.splitlines())


def _read_probe(text: str, facts: Facts) -> None:
    parts = _sections(text)
    facts.before = counters(parts.get("rules-before", ""))
    facts.after = counters(parts.get("rules-after", ""))
    # the probe's entries: new ones, or old ones whose countdown it started again
    old = {_conn_key(l): _countdown(l) for l in parts.get("conntrack-before", "").splitlines()}
    facts.conntrack = [l for l in parts.get("conntrack-after", "").splitlines()
                       if l.strip() and _countdown(l) > old.get(_conn_key(l), -1)]
    code, _, seen = parts.get("probe", "1").partition("\n")
    facts.probe = (code.strip() == "0", seen.strip())
    try:
        facts.neighbours = [n for n in json.loads(parts.get("neighbours") or "[]") if isinstance(n, dict)]
    except ValueError:
        facts.neighbours = []
    for key, body in parts.items():
        if key.startswith("route "):
            facts.routes[key[len("route "):]] = _route(body)
    facts.rules = _uncounted(parts.get("rules-before", ""))
    facts.forwarding = parts.get("forwarding", "")


def _countdown(line: str) -> int:
    """A conntrack entry's seconds left (its fifth word)."""
    words = line.split()
    return int(words[4]) if len(words) > 4 and words[4].isdigit() else 0


def _conn_key(line: str) -> str:
    """A conntrack entry without its countdown and counters: the same connection later."""
    words = line.split()
    return " ".join(w for w in words[5:] if "=" in w and not w.startswith(("packets=", "bytes=")))


# --- the story --------------------------------------------------------------------------------

class _Walk:
    """Builds the hops; stops at the first place the packet dies."""

    def __init__(self, check: Check, state: LabState, facts: Facts):
        self.check, self.state, self.facts = check, state, facts
        self.hops: list[Hop] = []
        self.dies, self.hint = "", ""
        self.rules: Iptables | None = parse(facts.rules) if facts.rules else state.ns[HOST].iptables
        self.proto, self.port = facts.proto, facts.port

    def go(self, where: str, what: str, ok: bool | None = True) -> None:
        self.hops.append(Hop(where, what, ok))

    def die(self, where: str, what: str, hint: str) -> bool:
        self.hops.append(Hop(where, what, False))
        self.dies, self.hint = Msg("{where}: {what}", where=where, what=what), hint
        return False

    def packet(self, src: str, dst: str, iif: str | None, oif: str | None, dst_local: bool | None,
               state: str = "NEW", reply: bool = False) -> packetpath.Packet:
        sport, dport = (self.port, None) if reply else (None, self.port)
        return packetpath.Packet(src, dst, self.proto, sport, dport, iif, oif, dst_local, state)

    def counted(self, verdict: packetpath.Verdict) -> str:
        """` (its counter: +N)` after a rule the probe's packets moved, else nothing."""
        key = ("nat" if verdict.action in ("DNAT", "SNAT", "MASQUERADE", "REDIRECT") else "filter",
               verdict.chain, verdict.position)
        if key not in self.facts.after:
            return ""
        moved = self.facts.after[key] - self.facts.before.get(key, 0)
        return Msg(" (its counter: +{moved})", moved=moved)


def build(check: Check, state: LabState, facts: Facts) -> Trace:
    """The trace of `check` from what the trips read (pure)."""
    w = _Walk(check, state, facts)
    ok, seen = facts.probe
    reached = ok and not facts.lookup_error and kinds.probe(check.kind).expected(check, seen)
    _follow(w)
    result = _said(seen) if facts.address else Msg("lookup failed: {error}", error=facts.lookup_error)
    if reached and w.dies:
        w.go(RESULT, Msg("the probe got through although the walk expected it to stop above: something the "
                         "walk does not read let it pass"), None)
        w.dies = w.hint = ""
    elif not reached and not w.dies:
        why = explain(check, state, seen) if facts.address else None
        if why is not None and why.found:
            w.die(RESULT, why.found, why.hint)
        else:
            w.die(RESULT, summary(seen), "")
    elif reached:
        w.go(RESULT, Msg("it got there and back: {result}", result=result))
    if w.dies and not w.hint and facts.address:
        w.hint = explain(check, state, seen).hint
    moved: list[str] = []
    for (t, c, n), count in facts.after.items():
        if count > facts.before.get((t, c, n), 0):
            more = count - facts.before.get((t, c, n), 0)
            moved.append(Msg("{table} {chain} policy: +{moved}", table=t, chain=c, moved=more) if n == 0 else
                         Msg("{table} {chain} rule {position}: +{moved}", table=t, chain=c, position=n, moved=more))
    return Trace(check.text, reached, result, w.hops, w.dies, w.hint, moved)


def _follow(w: _Walk) -> bool:
    """Walk from the source to the destination and back; False where it dies."""
    check, state, facts = w.check, w.state, w.facts
    src_name = str(check.where) if check.where.node else (LAB_HOST if check.where.ns == HOST else check.where.ns)
    target = kinds.probe(check.kind).target(check)[0]
    if not facts.address:
        return w.die(src_name, Msg("cannot look up {name} ({error}), and names no nameserver", name=target,
                                   error=facts.lookup_error), "")
    if facts.lookup_error:
        w.go(src_name, Msg("cannot look up {name} ({error}): what follows is its DNS query to the nameserver "
                           "{server}, udp port 53", name=target, error=facts.lookup_error, server=facts.address),
             None)
    elif target != facts.address:
        w.go(src_name, Msg("{name} is {ip} (the lookup curl makes)", name=target, ip=facts.address))
    route = facts.route
    if not isinstance(route, dict):
        return w.die(src_name, Msg("no route to {dst}: `ip route get` says {said}", dst=facts.address,
                                   said=repr(route)), "")
    w.go(src_name, Msg("ip route get {dst}: {route}", dst=facts.address, route=_show(route)))
    src = route.get("prefsrc") or ""
    dev = route.get("dev") or ""
    hop = route.get("gateway") or facts.address
    if check.where.ns == HOST and not check.where.node:
        return _from_host(w, src, route)
    if not _cable(w, src_name, dev):
        return False
    if not _neighbour(w, src_name, dev, hop):
        return False
    if _host_has(state, hop):
        return _through_host(w, src, facts.address, _host_entry(check, state, route))
    router = _router(check, state, facts)
    if router is not None:
        return _through_router(w, router, src, facts.address)
    return _arrive(w, src, facts.address)


def _router(check: Check, state: LabState, facts: Facts) -> Link | None:
    """The interface of a namespace that is the source's gateway (a router namespace, as in the
    routing lesson), when the packet is not for that namespace itself."""
    route = facts.route if isinstance(facts.route, dict) else {}
    gateway = route.get("gateway")
    if not gateway or _host_has(state, gateway):
        return None
    found = next((o for o in state.owners_of(gateway) if o.ns != HOST), None)
    if found is None or any(o.ns == found.ns for o in state.owners_of(facts.address)):
        return None
    return found


def _through_router(w: _Walk, router: Link, src: str, dst: str) -> bool:
    """A namespace routes the packet on: its forwarding switch and its route decision."""
    ns = router.ns
    if w.facts.forwarding.strip() == "0":
        return w.die(ns, Msg("net.ipv4.ip_forward is 0 in {ns}: it passes no packet on", ns=ns),
                     Msg("Turn on forwarding: {cmd}", cmd=f"ip netns exec {ns} sysctl -w net.ipv4.ip_forward=1"))
    route = w.facts.routes.get(f"router {ns} {dst}", "")
    if not isinstance(route, dict):
        return w.die(ns, Msg("{ns} has no route to {dst}: {why}", ns=ns, dst=dst, why=route or NOT_ASKED), "")
    w.go(ns, Msg("{query}: {route} (its own iptables are not read)",
                 query=f"ip route get {dst} from {src} iif {router.name}", route=_show(route)))
    if not _arrive(w, src, dst):
        return False
    back = w.facts.routes.get(f"back {ns} {src}", "")
    if not isinstance(back, dict):
        return w.die(WAY_BACK, Msg("{ns} has no route back to {src} ({why})", ns=ns, src=src, why=back or NOT_ASKED),
                     "")
    return True


def _from_host(w: _Walk, src: str, route: dict) -> bool:
    """A packet the lab host sends itself: nat OUTPUT may send it elsewhere (Docker's jump)."""
    dst = w.facts.address
    verdict = _nat_walk(w.check, w.state, w.facts, "OUTPUT", "")
    if verdict is not None and verdict.action == "DNAT":
        dst = _address_of(verdict.to)
        w.port = _port_of(verdict.to, w.port)
        w.go(LAB_HOST, _dnat_hop(verdict, w.counted(verdict)))
        found = w.facts.routes.get(f"host {dst}", "")
        if not isinstance(found, dict):
            return w.die(LAB_HOST, Msg("no route to {dst}: {why}", dst=dst, why=found or NOT_ASKED), "")
        w.go(LAB_HOST, Msg("ip route get {dst}: {route}", dst=dst, route=_show(found)))
        route, src = found, found.get("prefsrc") or src
    elif route.get("type") == "local" or _host_has(w.state, dst):
        return _arrive_host(w, src, dst)
    if not _neighbour(w, LAB_HOST, route.get("dev") or "", route.get("gateway") or dst):
        return False
    return _leave_host(w, src, dst, "", route, forwarded=False)


def _cable(w: _Walk, src_name: str, dev: str) -> bool:
    """The cable from the source: its other end, on the lab host or in a namespace."""
    check, state = w.check, w.state
    if check.where.node:
        n = world.node(check.where.ns)
        w.go(CABLE, Msg("{dev} of {node} ↔ {host_dev} on the lab host", dev=n.dev, node=n.label, host_dev=n.host_dev))
        return True
    if check.where.ns == HOST:
        return True
    link = state.link(dev, check.where.ns)
    peer = state.peer_of(link) if link else None
    if link is None or peer is None:
        return True
    there = (Msg("{where}, a port of bridge {bridge}", where=place(peer.name, peer.ns), bridge=peer.master)
             if peer.master else place(peer.name, peer.ns))
    if not peer.admin_up:
        return w.die(CABLE, Msg("{dev} in {ns} ↔ {there}, which is DOWN", dev=dev, ns=check.where.ns, there=there),
                     Msg("Bring it up: {cmd}", cmd=ip_cmd(peer.ns, f"link set dev {peer.name} up")))
    w.go(CABLE, Msg("{dev} in {ns} ↔ {there}", dev=dev, ns=check.where.ns, there=there))
    return True


def _neighbour(w: _Walk, src_name: str, dev: str, hop: str) -> bool:
    """Did the next hop answer ARP?"""
    for n in w.facts.neighbours:
        if n.get("dst") == hop and n.get("dev") == dev:
            states = n.get("state") or []
            if any(s in ("FAILED", "INCOMPLETE") for s in states):
                return w.die(src_name, Msg("no ARP answer from {hop} on {dev} ({states}): nothing on that cable "
                                           "has the address", hop=hop, dev=dev, states="/".join(states)),
                             Msg("Give {hop} to the interface that should answer it, on the same cable or bridge "
                                 "({cmd} shows who has what)", hop=hop, cmd="ip -br addr"))
            w.go(src_name, Msg("{hop} answers ARP on {dev} ({mac})", hop=hop, dev=dev, mac=n.get("lladdr", "?")))
    return True


def _host_entry(check: Check, state: LabState, route: dict | str) -> str:
    """The lab host's interface the packet enters by: the bridge or veth end of the source's
    cable, or the world machine's cable."""
    if check.where.node:
        return world.node(check.where.ns).host_dev
    if check.where.ns == HOST or not isinstance(route, dict):
        return ""
    link = state.link(route.get("dev") or "", check.where.ns)
    peer = state.peer_of(link) if link else None
    return (peer.master or peer.name) if peer and peer.ns == HOST else ""


def _nat_walk(check: Check, state: LabState, facts: Facts, hook: str, iif: str) -> packetpath.Verdict | None:
    rules = state.ns[HOST].iptables
    if rules is None or not facts.address or not _host_has(state, facts.address):
        return None
    if (hook == "OUTPUT") != (check.where.ns == HOST and not check.where.node):
        return None
    route = facts.route if isinstance(facts.route, dict) else {}
    packet = packetpath.Packet(route.get("prefsrc") or "0.0.0.0", facts.address, facts.proto, None, facts.port,
                               iif if hook == "PREROUTING" else "", None, True, "NEW")
    return packetpath.walk(rules, "nat", hook, packet)


def _through_host(w: _Walk, src: str, dst: str, iif: str) -> bool:
    """The packet reaches the lab host: DNAT, then delivered here or passed on."""
    verdict = _nat_walk(w.check, w.state, w.facts, "PREROUTING", iif)
    if verdict is not None and verdict.action == "DNAT":
        new = _address_of(verdict.to)
        w.port = _port_of(verdict.to, w.port)   # FORWARD and the replies see the new port (8080 -> 80)
        w.go(LAB_HOST, _dnat_hop(verdict, w.counted(verdict)))
        dst = new
    elif _host_has(w.state, dst):
        return _arrive_host(w, src, dst)
    published = verdict is not None and verdict.action == "DNAT" and w.proto == "tcp" and w.port is not None
    forward = w.state.sysctls.get((HOST, "net.ipv4.ip_forward"), "").strip()
    if forward == "0":
        return w.die(LAB_HOST, Msg("net.ipv4.ip_forward is 0: the lab host passes no packet on"),
                     Msg("Turn on forwarding: {cmd}", cmd="sysctl -w net.ipv4.ip_forward=1"))
    route = w.facts.routes.get(f"host {dst}", "")
    if not isinstance(route, dict):
        return w.die(LAB_HOST, Msg("no route to {dst}: {why}", dst=dst, why=route or NOT_ASKED), "")
    w.go(LAB_HOST, Msg("{query}: {route}", query=f"ip route get {dst} from {src} iif {iif}", route=_show(route)))
    out = route.get("dev") or ""
    rules = w.rules
    if rules is not None:
        v = packetpath.walk(rules, "filter", "FORWARD", w.packet(src, dst, iif, out, False))
        if v.action in ("DROP", "REJECT"):
            fix = (published_fix(v, iif, out, dst, w.port) if published and v.by_policy and w.port is not None
                   else _forward_fix(v, iif, out))
            return w.die(FIREWALL, Msg("filter FORWARD: {decider} drops packets from {iif} to {oif}{counter}",
                                       decider=_decider(v), iif=iif, oif=out, counter=w.counted(v)), fix)
        if v.action != packetpath.UNKNOWN:
            w.go(FIREWALL, Msg("filter FORWARD: {decider} lets it through{counter}", decider=_decider(v),
                               counter=w.counted(v)))
        else:
            w.go(FIREWALL, Msg("filter FORWARD: {decider} cannot be judged: {why}{counter}", decider=_decider(v),
                               why=v.why, counter=w.counted(v)), None)
    return _leave_host(w, src, dst, iif, route, forwarded=True)


def _leave_host(w: _Walk, src: str, dst: str, iif: str, route: dict, forwarded: bool) -> bool:
    """POSTROUTING's NAT, then the machine that has `dst`, then the reply's way back."""
    out = route.get("dev") or ""
    reply_to = src
    if w.rules is not None:
        v = packetpath.walk(w.rules, "nat", "POSTROUTING", w.packet(src, dst, iif or None, out, False))
        if v.action in ("MASQUERADE", "SNAT"):
            mine = w.state.link(out, HOST)
            reply_to = (_address_of(v.to) if v.action == "SNAT" and v.to
                        else mine.addrs[0][0] if mine and mine.addrs else src)
            w.go(NAT, Msg("nat POSTROUTING: `{rule}` (rule {position} of {chain}) rewrites the source: {src} → "
                          "{to}{counter}", rule=v.quote, position=v.position, chain=v.chain, src=src, to=reply_to,
                          counter=w.counted(v)))
        elif forwarded:
            w.go(NAT, Msg("nat POSTROUTING: nothing rewrites the source ({decider}); it leaves as {src}",
                          decider=_decider(v), src=src))
    for line in w.facts.conntrack:
        original, reply = _tuples(line)
        if original.endswith(f" {dst}"):
            w.go(CONNTRACKED, Msg("the kernel tracks {original}; replies are expected as {reply}", original=original,
                                  reply=reply))
            break
    node = next((n for n in world.NODES if n.host_dev == out), None)
    arrived = _arrive_node(w, node, dst, reply_to, src) if node else _arrive(w, reply_to, dst)
    if not arrived or not forwarded or w.rules is None:
        return arrived
    v = packetpath.walk(w.rules, "filter", "FORWARD",
                        w.packet(dst, reply_to, out, iif, False, "ESTABLISHED", reply=True))
    if v.action in ("DROP", "REJECT"):
        return w.die(FIREWALL, Msg("filter FORWARD: {decider} drops the replies from {iif} to {oif}{counter}",
                                   decider=_decider(v), iif=out, oif=iif, counter=w.counted(v)),
                     Msg("Accept the replies: {cmd}",
                         cmd=f"iptables -A FORWARD -i {out} -o {iif} -m conntrack --ctstate RELATED,ESTABLISHED "
                             "-j ACCEPT"))
    w.go(FIREWALL, Msg("filter FORWARD lets the replies back: {decider}", decider=_decider(v)),
         None if v.action == packetpath.UNKNOWN else True)
    return True


def _arrive_host(w: _Walk, src: str, dst: str) -> bool:
    w.go(LAB_HOST, Msg("{dst} is the lab host's own address: it is delivered here", dst=dst))
    return True


def _arrive_node(w: _Walk, node: world.Node, dst: str, reply_to: str, src: str) -> bool:
    """A world machine: does it have `dst`, and a way back to `reply_to`?"""
    mine = {node.ip, *node.extra}
    if dst in mine:
        w.go(node.label, Msg("the {node} machine has {dst}", node=node.label, dst=dst))
    else:
        onward = w.facts.routes.get(f"on node {node.name} {dst}", "")
        if not isinstance(onward, dict):
            return w.die(node.label, Msg("the lab host sent it to the {node} machine, which has no route to {dst} "
                                         "(ip route get: {why})", node=node.label, dst=dst, why=onward or NOT_ASKED),
                         "")
        w.go(node.label, Msg("the {node} machine sends it on: {route}", node=node.label, route=_show(onward)), None)
    back = w.facts.routes.get(f"back node {node.name} {reply_to}", "")
    if not isinstance(back, dict):
        net = _subnet_of(w.state, reply_to)
        if reply_to == src and not w.check.where.node:
            hint = Msg("Hide the lab's addresses behind the host's: {cmd}", cmd=masquerade_fix(w.state, net))
        else:
            hint = Msg("Give {node} a route back: {cmd}", node=node.label,
                       cmd=f"{node.name} ip route add {net} via {node.host_ip}")
        return w.die(WAY_BACK, Msg("the reply to {ip} has no way back: the {node} machine has no route to {net} "
                                   "(ip route get: {why})", ip=reply_to, node=node.label, net=net,
                                   why=back or NOT_ASKED), hint)
    w.go(WAY_BACK, Msg("{where}: ip route get {dst}: {route}", where=node.label, dst=reply_to, route=_show(back)))
    return True


def _arrive(w: _Walk, src: str, dst: str) -> bool:
    """A namespace of the lab that has `dst`: is it there, and can it answer?"""
    owners = [o for o in w.state.owners_of(dst) if o.ns != HOST]
    if not owners:
        return w.die(LAB, Msg("no interface in the lab has {ip}", ip=dst),
                     Msg("Give it to the interface that should answer: {cmd}",
                         cmd=f"ip -n NS addr add {dst}/24 dev DEV"))
    owner = owners[0]
    w.go(owner.ns, Msg("{ip} is {where}", ip=dst, where=place(owner.name, owner.ns)))
    if not owner.admin_up:
        return w.die(owner.ns, Msg("{where} is DOWN", where=owner.name),
                     Msg("Bring it up: {cmd}", cmd=ip_cmd(owner.ns, f"link set dev {owner.name} up")))
    back = w.facts.routes.get(f"back {owner.ns} {src}", "")
    if not isinstance(back, dict):
        net = _subnet_of(w.state, src)
        gw, by = _gateway_on(w.state, owner)
        return w.die(WAY_BACK, Msg("the reply to {ip} has no way back: {ns} has no route to {net} (ip route get: "
                                   "{why})", ip=src, ns=owner.ns, net=net, why=back or NOT_ASKED),
                     Msg("Route it back through {by}: {cmd} (or a default route via {gw})", by=by,
                         cmd=ip_cmd(owner.ns, f"route add {net} via {gw}"), gw=gw))
    w.go(WAY_BACK, Msg("{where}: ip route get {dst}: {route}", where=owner.ns, dst=src, route=_show(back)))
    return True


# --- words ------------------------------------------------------------------------------------

def _show(route: dict) -> str:
    """A route as `ip route get` found it: `via GW dev DEV src SRC`, in words where it has some."""
    if route.get("type") == "local":
        return Msg("local (an address of its own)")
    via = f"via {route['gateway']}" if route.get("gateway") else Msg("on the link")
    if route.get("prefsrc"):
        return Msg("{via} dev {dev} src {src}", via=via, dev=route.get("dev", "?"), src=route["prefsrc"])
    return Msg("{via} dev {dev}", via=via, dev=route.get("dev", "?"))


def _dnat_hop(v: packetpath.Verdict, counter: str) -> Msg:
    """What a DNAT rule does to the packet."""
    return Msg("nat {chains}: `{rule}` (rule {position} of {chain}) sends it to {to}{counter}", chains=_chains(v),
               rule=v.quote, position=v.position, chain=v.chain, to=v.to, counter=counter)


def _chains(v: packetpath.Verdict) -> str:
    """`PREROUTING → DOCKER`: the chains the walk went through."""
    return " → ".join(v.path) or v.chain


def _decider(v: packetpath.Verdict) -> str:
    if v.by_policy and v.action != packetpath.UNKNOWN:
        return Msg("no rule matches, so the policy `{policy}`", policy=v.quote)
    return Msg("rule {position} of {chain} (`{rule}`)", position=v.position, chain=v.chain, rule=v.quote)


def _forward_fix(v: packetpath.Verdict, iif: str, out: str) -> str:
    if v.by_policy:
        return Msg("Accept the way out and the replies: {cmd}, then {back}",
                   cmd=f"iptables -A FORWARD -i {iif} -o {out} -j ACCEPT",
                   back=f"iptables -A FORWARD -i {out} -o {iif} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    return Msg("That rule matches first: delete it ({delete})", delete=f"iptables -D {v.chain} {v.position}")


def _tuples(line: str) -> tuple[str, str]:
    """A conntrack entry's original and reply directions: `SRC → DST` each."""
    words = [w for w in line.split() if w.startswith(("src=", "dst="))]
    if len(words) < 4:
        return "", ""
    a = [w.split("=", 1)[1] for w in words[:4]]
    return f"{a[0]} → {a[1]}", f"{a[2]} → {a[3]}"


def _address_of(to: str) -> str:
    """A --to-destination/--to-source value, `IP:PORT` or `IP-IP`, -> its (first) address."""
    return to.split(":")[0].split("-")[0]


def _port_of(to: str, port: int | None) -> int | None:
    """The port of a --to-destination value `IP:PORT` (or `IP:PORT-PORT`: the first); `port`
    when it names none (DNAT keeps the port then)."""
    _, _, ports = to.partition(":")
    first = ports.split("-")[0]
    return int(first) if first.isdigit() else port


def _host_has(state: LabState, ip: str) -> bool:
    return any(l.ns == HOST for l in state.owners_of(ip))


def _subnet_of(state: LabState, ip: str) -> str:
    for link in state.owners_of(ip):
        for a, p in link.addrs:
            if a == ip:
                return str(ipaddress.ip_network(f"{a}/{p}", strict=False))
    return f"{ip}/32"


def _gateway_on(state: LabState, owner: Link) -> tuple[str, str]:
    """(address, whose) of `owner`'s natural gateway: the lab host's address on its subnet, else
    another namespace's (a router's)."""
    def legs(ns) -> int:   # a router has an address on more than one cable
        return -sum(1 for l in ns.links.values() if l.name != "lo" and l.addrs)
    others = [state.ns[HOST], *sorted((n for name, n in state.ns.items() if name not in (HOST, owner.ns)), key=legs)]
    for a, p in owner.addrs:
        for ns in others:
            for link in ns.links.values():
                for b, _ in link.addrs:
                    if link.name != "lo" and b != a and in_subnet(b, f"{a}/{p}"):
                        return b, (Msg("the lab host") if ns.name == HOST else ns.name)
    return "GATEWAY", Msg("its gateway")



def _said(seen: str) -> str:
    """The probe's own words in one line: ping's packet count, or its last line."""
    lines = [l.strip() for l in seen.strip().splitlines() if l.strip()]
    return next((l for l in lines if "packets transmitted" in l), lines[-1][:160] if lines else Msg("no answer"))
