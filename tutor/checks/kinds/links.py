"""`links in NS are DEV…`: the namespace holds exactly those interfaces, no more and no fewer
(a container started with `--network none` has only `lo`)."""

from __future__ import annotations

from tutor.checks.judge import Verdict, ip_cmd, missing_link, no_namespace, who
from tutor.checks.kinds._kind import StateKind
from tutor.checks.lang import Check, CheckSyntaxError, Where, Words, iface
from tutor.i18n import Msg
from tutor.lab.state import LabState


class Links(StateKind):
    name = "links"
    syntax = "links [in NS] are DEV [DEV…]"
    means = "NS holds exactly these interfaces, no others"
    layer = 1

    def parse(self, w: Words) -> tuple[dict, Where]:
        where = w.where("in")
        if w.take("`are`") != "are":
            raise CheckSyntaxError(Msg("write `links in NS are DEV [DEV…]`"))
        devs = [iface(w.take(Msg("an interface")))]
        while w.words:
            devs.append(iface(w.take(Msg("an interface"))))
        return {"devs": " ".join(devs)}, where   # a string: the lesson cache keeps plain values

    def judge(self, check: Check, state: LabState) -> Verdict:
        want, ns = check.args["devs"].split(), check.where.ns
        if bad := no_namespace(state, ns):
            return bad
        have = list(state.ns[ns].links) if ns in state.ns else []
        for dev in want:
            if dev not in have:
                return missing_link(state, dev, ns)
        extra = [dev for dev in have if dev not in want]
        if extra:
            dev = extra[0]
            return Verdict(False, Msg("{who} also has {extra}, besides {want}", who=who(ns), extra=", ".join(extra),
                                      want=", ".join(want)),
                           Msg("Take it out: {cmd}", cmd=ip_cmd(ns, f"link del {dev}")))
        return Verdict(True, Msg("{who} has only {want}", who=who(ns), want=", ".join(want)))


KIND = Links()
