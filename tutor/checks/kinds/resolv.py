"""`resolv NS nameserver IP` / `resolv NS search DOMAIN…`: the resolv.conf NS's programs read
(/etc/netns/NS/resolv.conf; `host`: the lab host's /etc/resolv.conf) names IP as a nameserver,
or searches exactly those domains, in that order."""

from __future__ import annotations

import re

from tutor.checks.judge import Verdict
from tutor.checks.kinds._kind import Reads, StateKind
from tutor.checks.lang import Check, CheckSyntaxError, Where, Words, ip_address, missing, ns_name
from tutor.i18n import Msg
from tutor.lab.state import HOST, LabState, resolv_path

_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})")


class Resolv(StateKind):
    name = "resolv"
    syntax = "resolv NS (nameserver IP | search DOMAIN…)"
    means = ("NS's resolv.conf (`/etc/netns/NS/resolv.conf`; for `host`, `/etc/resolv.conf`) names IP "
             "as a nameserver, or has the search domains DOMAIN… in that order")
    layer = 6

    def parse(self, w: Words) -> tuple[dict, Where]:
        first = w.take(Msg("a namespace (or `host`)"))
        args: dict = {"ns": first if first == HOST else ns_name(first)}
        if w.words[:1] == ["search"]:
            domains, w.words[:] = w.words[1:], []
            if not domains:
                missing(Msg("the search domains after `search`"))
            for d in domains:
                if not _DOMAIN.fullmatch(d):
                    raise CheckSyntaxError(Msg("{d!r} is not a domain like mycompany.com", d=d))
            # one string (check args are scalars: the lesson cache keeps them as they are)
            args["search"] = " ".join(d.lower().rstrip(".") for d in domains)
            return args, Where()
        args["nameserver"] = ip_address(w.option("nameserver", Msg("an address"))
                                        or missing(Msg("`nameserver IP` or `search DOMAIN…`")), Msg("nameserver"))
        return args, Where()

    def reads(self, check: Check, for_hints: bool) -> Reads:
        return Reads(resolv={check.args["ns"]})

    def judge(self, check: Check, state: LabState) -> Verdict:
        if check.args.get("search"):
            return _judge_search(check, state)
        ns, want = check.args["ns"], check.args["nameserver"]
        path = resolv_path(ns)
        text = state.resolv.get(ns)
        if ns == HOST:
            fix = f"echo 'nameserver {want}' >> {path}"
        else:
            fix = f"mkdir -p /etc/netns/{ns} && echo 'nameserver {want}' > {path}"
        if text is None:
            return Verdict(False, Msg("{path} does not exist", path=path), Msg("Create it: {cmd}", cmd=fix))
        servers = nameservers(text)
        if want in servers:
            return Verdict(True, Msg("{path} names nameserver {want}", path=path, want=want))
        crowded = next((l.strip() for l in text.splitlines()
                        if l.split()[:1] == ["nameserver"] and want in l.split()[2:]), None)
        if crowded:
            return Verdict(False, Msg("{path} has `{line}`, which names only {server}: the resolver reads one "
                                      "address per nameserver line", path=path, line=crowded,
                                      server=crowded.split()[1]),
                           Msg("Give each server a line of its own (`nameserver {want}`): {cmd}", want=want,
                               cmd=f"sed -i 's/^nameserver .*/nameserver {want}/' {path}"))
        found = ", ".join(servers) or Msg("no nameserver line")
        return Verdict(False, Msg("{path} has {found}", path=path, found=found), Msg("Write it: {cmd}", cmd=fix))


def _judge_search(check: Check, state: LabState) -> Verdict:
    ns, want = check.args["ns"], check.args["search"].split()
    path = resolv_path(ns)
    text = state.resolv.get(ns)
    line = f"search {' '.join(want)}"
    fix = f"sed -i '/^search /d' {path} && echo '{line}' >> {path}"
    if text is None:
        make = "" if ns == HOST else f"mkdir -p /etc/netns/{ns} && "
        return Verdict(False, Msg("{path} does not exist", path=path),
                       Msg("Create it: {cmd}", cmd=f"{make}echo '{line}' > {path}"))
    lines = [l.split() for l in text.splitlines() if l.split()[:1] in (["search"], ["domain"])]
    if not lines:
        return Verdict(False, Msg("{path} has no search line", path=path),
                       Msg("Add it: {cmd}", cmd=f"echo '{line}' >> {path}"))
    last = lines[-1]   # the resolver keeps only the last search (or domain) line
    have = [d.lower().rstrip(".") for d in last[1:]]
    if have == want:
        domains: str = want[0]
        for d in want[1:]:
            domains = Msg("{first} then {next}", first=domains, next=d)
        return Verdict(True, Msg("{path} searches {domains}", path=path, domains=domains))
    said = Msg("{path} has `{line}`", path=path, line=" ".join(last))
    if len(lines) > 1:
        said = Msg("{found} (the last of its search lines: only that one counts)", found=said)
    if sorted(have) == sorted(want):
        said = Msg("{found}, in another order: the first domain that has the name wins", found=said)
    return Verdict(False, said, Msg("Make it `{line}`: {cmd}", line=line, cmd=fix))


def nameservers(text: str) -> list[str]:
    """The addresses a resolv.conf's `nameserver` lines name, in order (one per line: the
    resolver ignores what follows the first address)."""
    return [l.split()[1] for l in text.splitlines() if l.split()[:1] == ["nameserver"] and len(l.split()) > 1]


KIND = Resolv()
