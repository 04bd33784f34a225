"""`resolv NS nameserver IP` and `resolv NS search DOMAIN…`, for a namespace and for the lab
host's own /etc/resolv.conf: grammar, reads, verdicts."""

from __future__ import annotations

import pytest

from tutor.checks.diagnose import explain
from tutor.checks.engine import judge_state
from tutor.checks.lang import CheckSyntaxError, parse_check
from tutor.checks.observe import reads, state_script
from tutor.lab.state import HOST, LabState

NOTES = "nameserver 192.168.1.100 8.8.8.8\noptions timeout:1 attempts:1\n"


def verdict(line: str, text: str | None, ns: str = HOST):
    return judge_state(parse_check(line), LabState(resolv={ns: text}))


def test_grammar():
    assert parse_check("resolv host nameserver 8.8.8.8").args == \
        {"ns": HOST, "nameserver": "8.8.8.8"}
    assert parse_check("resolv host search MyCompany.com prod.mycompany.com.").args == \
        {"ns": HOST, "search": "mycompany.com prod.mycompany.com"}
    for bad in ("resolv host", "resolv host search", "resolv host search a/b", "resolv red nameserver x"):
        with pytest.raises(CheckSyntaxError):
            parse_check(bad)


def test_the_lab_hosts_file_is_read_from_etc():
    assert reads([parse_check("resolv host search a.com")]).resolv == {HOST}
    script = state_script(set(), {HOST, "red"}, rules=False, lan=False)
    assert "[ -f /etc/resolv.conf ]" in script and "[ -f /etc/netns/red/resolv.conf ]" in script


def test_two_servers_on_one_line_name_only_the_first():
    v = verdict("resolv host nameserver 8.8.8.8", NOTES)
    assert not v.passed
    assert v.found == ("/etc/resolv.conf has `nameserver 192.168.1.100 8.8.8.8`, which names only "
                       "192.168.1.100: the resolver reads one address per nameserver line")
    assert v.hint == ("Give each server a line of its own (`nameserver 8.8.8.8`): "
                      "sed -i 's/^nameserver .*/nameserver 8.8.8.8/' /etc/resolv.conf")
    assert verdict("resolv host nameserver 8.8.8.8", "nameserver 192.168.1.100\nnameserver 8.8.8.8\n").passed


def test_the_hosts_fix_appends_a_line():
    v = verdict("resolv host nameserver 8.8.8.8", "nameserver 1.1.1.1\n")
    assert not v.passed and v.hint == "Write it: echo 'nameserver 8.8.8.8' >> /etc/resolv.conf"


def test_search_domains_in_order():
    line = "resolv host search mycompany.com prod.mycompany.com"
    ok = verdict(line, "nameserver 8.8.8.8\nsearch mycompany.com prod.mycompany.com\n")
    assert ok.passed and ok.found == "/etc/resolv.conf searches mycompany.com then prod.mycompany.com"
    swapped = verdict(line, "nameserver 8.8.8.8\nsearch prod.mycompany.com mycompany.com\n")
    assert not swapped.passed and "in another order: the first domain that has the name wins" in swapped.found
    assert swapped.hint == ("Make it `search mycompany.com prod.mycompany.com`: sed -i '/^search /d' "
                            "/etc/resolv.conf && echo 'search mycompany.com prod.mycompany.com' >> /etc/resolv.conf")
    none = verdict(line, "nameserver 8.8.8.8\n")
    assert none.found == "/etc/resolv.conf has no search line"
    assert none.hint == "Add it: echo 'search mycompany.com prod.mycompany.com' >> /etc/resolv.conf"


def test_only_the_last_search_line_counts():
    v = verdict("resolv host search mycompany.com prod.mycompany.com",
                "search mycompany.com\nsearch prod.mycompany.com\n")
    assert not v.passed
    assert v.found == ("/etc/resolv.conf has `search prod.mycompany.com` "
                       "(the last of its search lines: only that one counts)")


def test_a_namespace_search_line():
    v = verdict("resolv red search a.com", None, ns="red")
    assert not v.passed and v.found == "/etc/netns/red/resolv.conf does not exist"


def test_a_failed_lookup_on_the_host_names_its_resolv_conf():
    check = parse_check("resolve www.naver.com from host is 203.0.113.10")
    assert reads([check]).resolv == set() and reads([check], for_hints=True).resolv == {HOST}
    v = explain(check, LabState(resolv={HOST: NOTES}), "")
    assert not v.passed and "which names only 192.168.1.100, and nothing answers DNS there" in v.found
    assert "sed -i 's/^nameserver .*/nameserver 8.8.8.8/' /etc/resolv.conf" in v.hint
    v = explain(check, LabState(resolv={HOST: "options ndots:1\n"}), "")
    assert v.found.endswith("/etc/resolv.conf names no nameserver")
