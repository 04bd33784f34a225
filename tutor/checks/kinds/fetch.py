"""`fetch URL from X [status CODE]`: X fetches URL with curl (and gets that HTTP status)."""

from __future__ import annotations

import re
import shlex

from tutor.checks.diagnose import name_problem, own_port_problem
from tutor.checks.judge import Verdict
from tutor.checks.kinds._kind import ProbeKind, typed_at
from tutor.checks.lang import Check, CheckSyntaxError, Where, Words
from tutor.i18n import Msg
from tutor.lab.state import LabState


class Fetch(ProbeKind):
    name = "fetch"
    syntax = "fetch URL from X [status CODE]"
    looks_up_names = True
    protocol = "tcp"
    means = "X fetches URL with curl (and gets that HTTP status)"

    def parse(self, w: Words) -> tuple[dict, Where]:
        url = w.take(Msg("a URL"))
        if not re.match(r"^https?://[^\s/]+", url):
            raise CheckSyntaxError(Msg("{url!r} is not an http:// URL", url=url))
        args: dict = {"url": url}
        status = w.option("status", Msg("an HTTP status code"))
        args["status"] = int(status) if status and status.isdigit() else None
        if status and args["status"] is None:
            raise CheckSyntaxError(Msg("status {status!r} is not a number", status=status))
        return args, w.where("from")

    def command(self, check: Check) -> str:
        return (f"curl -sS -o /dev/null -w 'HTTP %{{http_code}}' --max-time 3 "
                f"--noproxy '*' {shlex.quote(check.args['url'])}")

    def expected(self, check: Check, seen: str) -> bool:
        return not check.args.get("status") or f"HTTP {check.args['status']}" in seen

    def worked(self, check: Check, seen: str) -> str:
        return Msg("{where} fetched {url}: {seen}", where=str(check.where), url=check.args["url"], seen=seen.strip())

    def mismatch(self, check: Check, seen: str) -> Verdict:
        return Verdict(False, Msg("{seen} (expected HTTP {status})", seen=seen.strip(), status=check.args["status"]),
                       Msg("The server answers, with another status: look at its answer with {cmd}",
                           cmd=f"{typed_at(check.where)}curl -sI {check.args['url']}"))

    def target(self, check: Check) -> tuple[str, int]:
        hostport = check.args["url"].split("://", 1)[1].split("/", 1)[0]
        host, _, number = hostport.partition(":")
        return host, int(number) if number.isdigit() else 80

    def explain(self, check: Check, state: LabState) -> Verdict | None:
        host, port = self.target(check)
        return name_problem(state, check.where.ns, host) or own_port_problem(state, check.where.ns, host, port)


KIND = Fetch()
