"""Reading the lab: netlink sockets from the agent, and one shell script through the lab's
one door for the rest.

`read_state` gathers the links, addresses, routes and netns ids of the namespaces the checks
name (or of every one) over netlink (`read_links`), plus the iptables rules, sysctls,
resolv.conf files and LAN routes the checks' kinds say they need (or, `for_hints`, that
explain a failed probe) in one `tutor shell`-like process; commands may run first in that
process (`prelude`). `run_probes` runs behaviour checks in parallel (each kind gives its
command), each bounded by a timeout. The text form `state_script` prints (`ip -j`, one batch
per namespace) is what `parse_state` reads: the recorded labs of the unit tests. Judging lives
in the kinds (`tutor.checks.kinds`).
"""

from __future__ import annotations

import json
import shlex

from tutor.checks import kinds
from tutor.checks.kinds._kind import Reads
from tutor.checks.lang import Check
from tutor.i18n import Msg
from tutor.lab import agents_name, client, control, from_agents, iptables
from tutor.lab.state import HOST, LabState, Link, NsState, Route, resolv_path
from tutor.lab.world import WORLD_DIR as WORLD

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

MARK = "@@tutor@@"
PROBE_CAP = 1500   # characters of a probe's output kept
LOOK_CHUNK = 100   # namespaces per `look` request (one SCM_RIGHTS message carries at most 253)

# One `ip -batch` per namespace prints three JSON arrays: links with addresses, routes, ids.
_IP_BATCH = "printf 'addr show\\nroute show table main\\nnetns list-id\\n' | ip -force -j -d"
_M = f'm() {{ echo "{MARK} $*"; }}\n'
# (globs, not `ls`: each process costs the observation a millisecond or two; a namespace the
# student named `host` is not read: that name is the lab host's in the state)
NAMES_SCRIPT = f"""{_M}m netns; for n in /run/netns/*; do [ -e "$n" ] && echo "${{n##*/}}"; done
m ipbatch {HOST}; {_IP_BATCH} -batch - 2>&1
"""
_READ_NS = f"""  [ -e "/run/netns/$n" ] || continue; [ "$n" = {HOST} ] && continue
  m ipbatch "$n"; {_IP_BATCH} -n "$n" -batch - 2>&1
done
"""
STATE_SCRIPT = NAMES_SCRIPT + 'for n in /run/netns/*; do\n  n=${n##*/}\n' + _READ_NS
RULES_SCRIPT = "m iptables; iptables-save 2>&1\n"
LAN_SCRIPT = f"m route node:lan; nsenter --net={WORLD}/lan -- ip -j route show table main 2>&1\n"
HOSTS_SCRIPT = f"m hosts; if [ -f /etc/hosts ]; then cat /etc/hosts; else echo '{MARK}missing'; fi\n"


def prefix(ns: str, node: bool) -> str:
    """Shell prefix that runs a command where a check says."""
    if node:
        return f"nsenter --net={WORLD}/{shlex.quote(ns)} -- "
    return "" if ns == HOST else f"ip netns exec {shlex.quote(ns)} "


def namespaces_script(names: set[str] | None) -> str:
    """The list of namespaces, the lab host's links and routes, and those of the namespaces
    `names` (None: every one)."""
    if names is None:
        return STATE_SCRIPT
    listed = " ".join(shlex.quote(n) for n in sorted(names))
    return NAMES_SCRIPT + (f"for n in {listed}; do\n{_READ_NS}" if listed else "")


def state_script(sysctls: set[tuple[str, str]], resolv: set[str], rules: bool = True,
                 lan: bool = True, hosts: bool = False, namespaces: set[str] | None = None,
                 links: bool = True) -> str:
    """The observation script for the lab (every namespace, or only `namespaces`) plus the
    named sysctls and resolv.conf files (and the iptables rules and the LAN machine's routes,
    unless the checks cannot need them; the lab host's /etc/hosts when one does). Without
    `links`, none of the namespaces' links and routes (`read_state` reads those over netlink):
    "" when nothing else is asked for. Its output is what `parse_state` reads, the form of the
    recorded labs under tests/unit/fixtures/state."""
    parts = [(namespaces_script(namespaces) if links else "") + (RULES_SCRIPT if rules else "")
             + (LAN_SCRIPT if lan else "") + (HOSTS_SCRIPT if hosts else "")]
    for ns, key in sorted(sysctls):
        path = shlex.quote("/proc/sys/" + key.replace(".", "/"))
        read = f"{prefix(ns, False)}cat {path} 2>&1" if ns != HOST else \
            f"{{ read -r v < {path} && echo \"$v\"; }} 2>&1"
        parts.append(f"m sysctl {shlex.quote(ns)} {shlex.quote(key)}; {read}")
    for ns in sorted(resolv):
        path = resolv_path(ns)
        parts.append(f"m resolv {shlex.quote(ns)}; "
                     f"if [ -f {shlex.quote(path)} ]; then cat {shlex.quote(path)}; else echo '{MARK}missing'; fi")
    if not any(parts):
        return ""
    return ("" if links else _M) + "\n".join(p for p in parts if p) + "\n"


def reads(checks: list[Check], for_hints: bool = False) -> Reads:
    """What an observation for `checks` must read besides links and routes: what each one's
    kind says (behaviour kinds say more `for_hints`)."""
    need = Reads()
    for c in checks:
        need.add(kinds.get(c.kind).reads(c, for_hints))
        if not c.where.node and c.where.ns != HOST:
            need.namespaces.add(c.where.ns)
    return need


def read_state(checks: list[Check], info: control.LabInfo | None = None, prelude: str = "",
               for_hints: bool = False, whole: bool | None = None, hint_ids: bool = True,
               probes: list[Check] | None = None) -> LabState:
    """Observe everything `checks` need: the namespaces they name (and the lab host, and the
    list of every namespace's name), or, `whole` (by default: `for_hints`), every namespace (a
    hint may point anywhere: a duplicate address, the other end of a cable). So a check costs
    the same however many namespaces a student has made that the lesson never looks at.

    Links, addresses and routes come over netlink (`read_links`); what only explains a failed
    behaviour check (iptables rules, ip_forward, the LAN machine's routes) is read `for_hints`,
    with sysctls and resolv.conf files, by one process in the lab (none when the checks need
    none of it); without `for_hints` `LabState.for_hints` says it was left out.
    A `prelude` script runs first, in a subshell of that process (one trip into the lab for
    commands and the look at what they did); its exit status and output land in
    `LabState.prelude`, and the links are read after it.

    The namespaces' ids for each other (which namespace a veth's other end is in) are read when
    a check needs them to pass (`Reads.ids`), and, `hint_ids`, for what a failing check may say
    (the other end of a mistyped cable): ~1 ms of each reading. selftest, which needs the
    verdicts only, leaves those out (issue 15).

    `probes`, behaviour checks, run in the same process after the rest (`LabState.probed`), a
    trip into the lab fewer than `run_probes` after the reading: selftest's, for the step whose
    commands are the prelude. The links are read after them: a probe changes none of what is
    read (it may leave a neighbour entry, which is not read)."""
    return begin_reading(checks, info, prelude, for_hints, whole, hint_ids, probes)()


def begin_reading(checks: list[Check], info: control.LabInfo | None = None, prelude: str = "",
                  for_hints: bool = False, whole: bool | None = None, hint_ids: bool = True,
                  probes: list[Check] | None = None) -> Callable[[], LabState]:
    """`read_state` in two halves: its script (the prelude first) is on its way into the lab
    when this returns (`client.run_later`), and what this returns finishes the reading. In
    between the caller may work at anything but the lab."""
    need = reads(checks, for_hints)
    whole = for_hints if whole is None else whole
    script = state_script(need.sysctls, need.resolv, need.rules, need.lan, need.hosts, links=False)
    if prelude:
        script = f"{_M}m prelude\n(\n{prelude}\n)\nm prelude-exit $?\n{script}"
    if probes:
        script += probe_script(probes)
    ran = client.run_later(script, info=info, timeout=120 if prelude else 20) if script else None

    def finish() -> LabState:
        if ran is not None:
            out = ran().stdout
            state = parse_state(out)
            if probes:
                state.probed = _probed(probes, out)
        else:
            state = LabState(namespaces=[], ns={HOST: NsState(HOST)})
        read_links(state, None if whole else need.namespaces, info, ids=need.ids or hint_ids)
        state.for_hints = for_hints or not any(c.behaviour for c in checks)
        state.whole = whole
        return state
    return finish


def read_links(state: LabState, names: set[str] | None, info: control.LabInfo | None = None,
               ids: bool = True) -> None:
    """Fill `state` with the list of the lab's namespaces and the links, addresses, routes and
    (`ids`) netns ids of the lab host and of `names` (None: every namespace), over a netlink socket
    per namespace that the agent opens (`look`): no `ip` process, ~3 ms a namespace less. A
    namespace named `host` is listed, not read: that name is the lab host's in the state. One
    that cannot be entered (a file that is no namespace) gets an `error`."""
    from tutor.lab.netlink import NetlinkReader, close_fds
    name = info.name if info else None
    wanted = [HOST] + (sorted(n for n in names if n != HOST) if names is not None else [])
    chunks = [wanted[i:i + LOOK_CHUNK] for i in range(0, len(wanted), LOOK_CHUNK)]
    listed: list[str] | None = None
    while chunks:
        chunk = chunks.pop(0)
        # the whole lab: the first request reads as many as fit beside the host, unnamed
        more = LOOK_CHUNK - len(chunk) if names is None and listed is None else 0
        reply, fds = control.request_fds("look", len(chunk) + more, name, more=more, ids=ids,
                                         namespaces=[agents_name(n) for n in chunk])
        tried = [from_agents(n) for n in reply.get("tried", []) if isinstance(n, str)]
        read = [n for n in reply.get("read", []) if isinstance(n, str)]
        if len(fds) != len(read):
            close_fds(fds)
            raise control.LabError(Msg("the lab {name!r} did not hand over its namespaces",
                                       name=name or control.lab_name()))
        if listed is None:
            listed = [n for n in reply.get("namespaces", []) if isinstance(n, str)]
            state.namespaces = listed
            if names is None:
                rest = [n for n in listed if n != HOST and n not in tried]
                chunks = [rest[i:i + LOOK_CHUNK] for i in range(0, len(rest), LOOK_CHUNK)]
        nsids = reply.get("nsids", [])
        for i, (agents, fd) in enumerate(zip(read, fds, strict=True)):
            if agents == HOST:   # a namespace a student called `host`: listed, not read
                close_fds([fd])
                continue
            ns_name = from_agents(agents)
            reader = NetlinkReader(fd, ns_name)
            try:
                ns_state, _ = reader.read(neighbours=False)
            except OSError as exc:
                ns_state = NsState(ns_name, error=str(exc))
            finally:
                reader.close()
            if i < len(nsids):
                ns_state.nsids = {int(k): from_agents(v) for k, v in nsids[i] if isinstance(v, str)}
            if ns_name in state.ns:   # its rules, read by the script
                ns_state.iptables = state.ns[ns_name].iptables
            state.ns[ns_name] = ns_state
        for n in tried:   # listed, yet not entered: a file that is no namespace
            if n not in state.ns and n in listed:
                state.ns[n] = NsState(n, error="not a network namespace")
    # in the order `ip netns` lists them, as a reading by `state_script` has them
    order = [HOST, *(listed or []), *state.ns]
    state.ns = {n: state.ns.get(n) or NsState(n) for n in dict.fromkeys(order)}


def _sections(text: str) -> list[tuple[list[str], str]]:
    out: list[tuple[list[str], list[str]]] = []
    for line in text.splitlines():
        if line.startswith(MARK + " "):
            out.append((line[len(MARK) + 1:].split(), []))
        elif out:
            out[-1][1].append(line)
    return [(head, "\n".join(body)) for head, body in out]


# `ip -j` writes names as it finds them: a control character in an interface name (the kernel
# and iproute2 allow \x01..\x1f) lands raw inside a JSON string, which strict JSON refuses, and
# the whole namespace's links would vanish with it. strict=False takes them as they are.
def _json(body: str) -> list:
    try:
        data = json.loads(body or "[]", strict=False)   # see _json_docs
    except ValueError:
        return []
    return data if isinstance(data, list) else []


def parse_links(ns: str, body: str) -> dict[str, Link]:
    """`ip -j -d addr show` -> links by name.

    A veth whose other end is in another namespace names it by `link_index` (+ `link_netnsid`);
    when both ends are in the same namespace, `ip` names the other end (`"link": "veth1"`) instead.
    """
    links: dict[str, Link] = {}
    peer_names: dict[str, str] = {}
    for item in _json(body):
        if not isinstance(item, dict) or "ifname" not in item:
            continue
        info = item.get("linkinfo") or {}
        name = item["ifname"].split("@")[0]
        links[name] = Link(
            name=name, ns=ns, ifindex=int(item.get("ifindex", 0)), kind=info.get("info_kind", ""),
            admin_up="UP" in item.get("flags", []), oper=item.get("operstate", "UNKNOWN"),
            master=item.get("master"), peer_index=item.get("link_index"),
            peer_nsid=item.get("link_netnsid"), mac=item.get("address", ""),
            addrs=[(a["local"], int(a["prefixlen"])) for a in item.get("addr_info", [])
                   if a.get("family") == "inet" and "local" in a])
        if item.get("link") and item.get("link_index") is None:
            peer_names[name] = item["link"]
    for name, peer in peer_names.items():
        if peer in links:
            links[name].peer_index = links[peer].ifindex
    return links


def parse_routes(body: str) -> list[Route]:
    """`ip -j route` -> routes; a host route `10.0.0.5` is written `10.0.0.5/32`, like checks write it."""
    out = []
    for r in _json(body):
        if isinstance(r, dict):
            dest = r.get("dst", "")
            if dest and dest != "default" and "/" not in dest:
                dest += "/32"
            out.append(Route(dest, r.get("gateway"), r.get("dev"), r.get("scope", "global")))
    return out


def _json_docs(body: str) -> list[str]:
    """The JSON arrays `ip -j -batch` prints one after another, each as text."""
    # strict=False: `ip -j` writes an ESC or BEL in a name (`ip link add $'a\eb' ...`) raw,
    # which strict JSON refuses; one such name would hide every link of the namespace
    decoder, i = json.JSONDecoder(strict=False), 0
    docs: list[str] = []
    while True:
        while i < len(body) and body[i].isspace():
            i += 1
        if i >= len(body) or body[i] != "[":
            return docs
        try:
            _, end = decoder.raw_decode(body, i)
        except ValueError:
            return docs
        docs.append(body[i:end])
        i = end


def _fill(state: LabState, what: str, name: str, body: str) -> None:
    ns = state.ns.setdefault(name, NsState(name))
    if what == "addr":
        ns.links = parse_links(name, body)
        if not ns.links and body.strip():
            ns.error = body.strip().splitlines()[-1]
    elif what == "route":
        ns.routes = parse_routes(body)
    else:
        ns.nsids = {int(i["nsid"]): i["name"] for i in _json(body) if isinstance(i, dict) and "name" in i}


def parse_state(text: str) -> LabState:
    """The output of `state_script` -> LabState."""
    state = LabState(namespaces=[], ns={HOST: NsState(HOST)})
    for head, body in _sections(text):
        what, args = head[0], head[1:]
        if what == "netns":
            state.namespaces = [n for n in body.split() if n]
            for n in state.namespaces:
                state.ns.setdefault(n, NsState(n))
        elif what == "ipbatch" and args:
            docs = _json_docs(body)
            if len(docs) == 3:
                for part, doc in zip(("addr", "route", "nsid"), docs, strict=True):
                    _fill(state, part, args[0], doc)
            else:   # the namespace broke between `ls` and `ip` (or is not one): say what ip said
                state.ns.setdefault(args[0], NsState(args[0])).error = body.strip()[-200:]
        elif what == "route" and args:   # one machine's routes alone: the LAN's (LAN_SCRIPT)
            _fill(state, what, args[0], body)
        elif what == "iptables":
            state.ns[HOST].iptables = iptables.parse(body)
        elif what == "sysctl" and len(args) == 2:
            state.sysctls[(args[0], args[1])] = body.strip()
        elif what == "prelude":
            state.prelude = (0, body)
        elif what == "prelude-exit" and args and state.prelude is not None:
            state.prelude = (int(args[0]) if args[0].isdigit() else 1, state.prelude[1])
        elif what == "resolv" and args:
            state.resolv[args[0]] = None if body.strip() == MARK + "missing" else body
        elif what == "hosts":
            state.hosts = None if body.strip() == MARK + "missing" else body
    return state


def probe_command(check: Check) -> str:
    """The shell command that performs a behaviour check (exit 0 = it worked), where it says."""
    return prefix(check.where.ns, check.where.node) + kinds.probe(check.kind).command(check)


def probe_script(checks: list[Check]) -> str:
    """All behaviour checks at once, in parallel.

    Each probe answers on a pipe of its own (a process substitution), and the pipes are read
    one after another once all have started: probes printing straight to one pipe would
    interleave (bash writes a printf's lines separately). `mapfile` reads them, a bash builtin:
    no temporary files, and no mktemp, cat or rm (~7 ms a run; issue 15).
    """
    lines = ['p() { o=$(eval "$2" 2>&1); r=$?; '
             f'printf "{MARK} probe %s %s\\n%s\\n" "$1" "$r" "${{o:0:{PROBE_CAP}}}"; }}', "f=()"]
    for i, check in enumerate(checks):
        lines.append(f"exec {{fd}}< <(p {i} {shlex.quote(probe_command(check))}); f+=($fd)")
    lines.append('for fd in "${f[@]}"; do mapfile -u "$fd" l; printf %s "${l[@]}"; exec {fd}<&-; done')
    return "\n".join(lines) + "\n"


def run_probes(checks: list[Check], info: control.LabInfo | None = None) -> dict[str, tuple[bool, str]]:
    """Run behaviour checks; returns check text -> (worked, what was seen)."""
    if not checks:
        return {}
    return _probed(checks, client.run(probe_script(checks), info=info, timeout=20).stdout)


def _probed(checks: list[Check], text: str) -> dict[str, tuple[bool, str]]:
    """What `probe_script(checks)` printed (in `text`, among other sections): check text ->
    (worked, what was seen); one that did not print is said not to have finished."""
    out: dict[str, tuple[bool, str]] = {}
    for head, body in _sections(text):
        if head[0] == "probe" and len(head) == 3 and head[1].isdigit() and int(head[1]) < len(checks):
            out[checks[int(head[1])].text] = (head[2] == "0", body.strip())
    for check in checks:
        out.setdefault(check.text, (False, Msg("the check did not finish")))
    return out
