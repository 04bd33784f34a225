"""`sysctl KEY = VALUE [in NS]`: the sysctl reads VALUE."""

from __future__ import annotations

import re

from tutor.checks.judge import Verdict, in_ns, no_namespace, who
from tutor.checks.kinds._kind import Reads, StateKind
from tutor.checks.lang import Check, CheckSyntaxError, Where, Words
from tutor.i18n import Msg
from tutor.lab.state import LabState


class Sysctl(StateKind):
    name = "sysctl"
    syntax = "sysctl KEY = VALUE [in NS]"
    means = "the sysctl reads VALUE"
    layer = 4

    def parse(self, w: Words) -> tuple[dict, Where]:
        key = w.take(Msg("a sysctl name"))
        if "=" in key:   # `KEY=VALUE`, the way `sysctl -w` is typed
            key, _, value = key.partition("=")
            if value:
                w.words.insert(0, value)
        elif w.take("`=`") != "=":
            raise CheckSyntaxError(Msg("write `sysctl KEY = VALUE`"))
        if not re.fullmatch(r"[a-z0-9_]+(?:[./][A-Za-z0-9_-]+)+", key):
            raise CheckSyntaxError(Msg("{key!r} is not a sysctl name like net.ipv4.ip_forward", key=key))
        args = {"key": key.replace("/", "."), "value": w.take(Msg("a value"))}
        return args, w.where("in")

    def reads(self, check: Check, for_hints: bool) -> Reads:
        return Reads(sysctls={(check.where.ns, check.args["key"])})

    def judge(self, check: Check, state: LabState) -> Verdict:
        key, want, ns = check.args["key"], check.args["value"], check.where.ns
        if bad := no_namespace(state, ns):
            return bad
        value = (state.sysctls.get((ns, key)) or "").strip()
        if value != want and not value.lstrip("-").isdigit():
            return Verdict(False, Msg("could not read {key} in {who} ({value})", key=key, who=who(ns),
                                      value=value or Msg("no answer")),
                           Msg("Check the name: {cmd}", cmd=in_ns(ns, f"sysctl {key}")))
        if value != want:
            found = (Msg("{key} is {value} on {who} (it does not route packets between its interfaces)", key=key,
                         value=value, who=who(ns)) if key.endswith("ip_forward")
                     else Msg("{key} is {value} on {who}", key=key, value=value, who=who(ns)))
            return Verdict(False, found, Msg("Set it: {cmd}", cmd=in_ns(ns, f"sysctl -w {key}={want}")))
        return Verdict(True, Msg("{key} is {value} on {who}", key=key, value=want, who=who(ns)))


KIND = Sysctl()
