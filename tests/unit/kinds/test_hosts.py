"""`hosts NAME IP`: its grammar, what it reads, and its verdicts on the lab host's /etc/hosts."""

from __future__ import annotations

import pytest

from tutor.checks.engine import judge_state
from tutor.checks.lang import CheckSyntaxError, parse_check
from tutor.checks.observe import MARK, parse_state, reads
from tutor.lab.state import LabState

BASE = "127.0.0.1\tlocalhost\n172.17.0.3\tlab\n"


def verdict(hosts: str | None, line: str = "hosts db 192.168.1.3"):
    return judge_state(parse_check(line), LabState(hosts=hosts))


def test_grammar():
    check = parse_check("hosts DB 192.168.1.3")
    assert check.args == {"name": "db", "ip": "192.168.1.3"} and check.layer == 6
    for bad in ("hosts db", "hosts db 192.168.1", "hosts d/b 192.168.1.3", "hosts db 192.168.1.3 extra"):
        with pytest.raises(CheckSyntaxError):
            parse_check(bad)


def test_it_reads_the_hosts_file_and_nothing_else():
    need = reads([parse_check("hosts db 192.168.1.3")])
    assert need.hosts and not need.resolv and not need.rules and not need.sysctls
    assert not reads([parse_check("resolv red nameserver 8.8.8.8")]).hosts
    state = parse_state(f"{MARK} hosts\n{BASE}192.168.1.3 db\n")
    assert state.hosts is not None and "192.168.1.3 db" in state.hosts
    assert parse_state(f"{MARK} hosts\n{MARK}missing\n").hosts is None


def test_passes_on_a_line_naming_it_among_aliases():
    assert verdict(BASE + "192.168.1.3 db\n").passed
    v = verdict(BASE + "192.168.1.3\tdatabase DB  # the LAN machine\n")
    assert v.passed and v.found == "/etc/hosts maps db to 192.168.1.3"


def test_no_line():
    v = verdict(BASE)
    assert not v.passed and v.found == "/etc/hosts has no line for db"
    assert v.hint == "Add one: echo '192.168.1.3 db' >> /etc/hosts"
    assert not verdict(BASE + "# 192.168.1.3 db\n").passed   # a comment names nothing


def test_the_first_line_naming_it_wins():
    v = verdict(BASE + "192.168.1.30 db\n192.168.1.3 db\n")
    assert not v.passed and v.found == "/etc/hosts maps db to 192.168.1.30 (`192.168.1.30 db`)"
    assert "echo '192.168.1.3 db' >> /etc/hosts" in v.hint and v.hint.startswith("Point it at 192.168.1.3: sed -i")


def test_name_and_address_swapped():
    v = verdict(BASE + "db 192.168.1.3\n")
    assert not v.passed and "the name comes first" in v.found
    assert v.hint == "Write the address first: sed -i '/^db\\s/d' /etc/hosts && echo '192.168.1.3 db' >> /etc/hosts"


def test_no_file():
    v = verdict(None)
    assert not v.passed and v.found == "/etc/hosts does not exist"
