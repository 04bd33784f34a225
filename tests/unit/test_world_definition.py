"""The simulated world is declared once (tutor/lab/world.py): the docs are generated from it and
no other product file writes one of its addresses."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from tutor.lab import network, world

ROOT = Path(__file__).resolve().parents[2]


def test_docs_world_md_is_generated_from_the_definition():
    text = (ROOT / "docs" / "world.md").read_text()
    assert text == world.inventory(), "run: python -m tutor.lab.world > docs/world.md"


def world_addresses() -> set[str]:
    found = {world.DNS_SERVER}
    for n in world.NODES:
        found |= {n.ip, n.host_ip, *n.extra}
    return found


def test_no_other_product_file_writes_a_world_address():
    pattern = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
    addresses = world_addresses()
    offenders = []
    for path in sorted((ROOT / "tutor").rglob("*.py")):
        if path.name == "world.py" and path.parent.name == "lab":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if set(pattern.findall(line)) & addresses:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_builder_gives_every_machine_its_declared_addresses():
    fds = {n.name: i for i, n in enumerate(world.NODES, 3)}
    host = network.host_plan(fds)
    for n in world.NODES:
        assert ("add_veth", n.host_dev, n.dev, fds[n.name]) in host
        assert host.index(("add_address", n.host_dev, n.host_address)) < host.index(("set_up", n.host_dev))
        inside = network.node_plan(n)
        assert ("add_address", n.dev, n.address) in inside and ("set_up", n.dev) in inside
        assert all(("add_address", "lo", f"{a}/32") in inside for a in n.extra)
    assert host[-1] == ("add_default_route", world.gateway().ip)


def test_every_web_address_of_the_zone_is_held_by_a_machine():
    held = {a for n in world.NODES for a in (n.ip, *n.extra)}
    assert world.WEB_ADDRESSES <= held and world.DNS_SERVER in held


def test_a_new_bridge_network_takes_the_next_range_docker_would():
    assert world.free_bridge_subnet() == "172.18.0.0/16"
    taken = [ipaddress.ip_network(s) for s in world.taken_subnets()]
    assert ipaddress.ip_network("172.17.0.0/16") in taken
    assert not any(ipaddress.ip_network(world.free_bridge_subnet()).overlaps(t) for t in taken)


def test_node_names_and_cables_are_unique():
    assert len(set(world.NODE_NAMES)) == len(world.NODES)
    assert len(set(world.WORLD_LINKS)) == len(world.NODES)
    assert sum(n.gateway for n in world.NODES) == 1


def test_the_fallback_page_escapes_as_html_escape_does():
    """world.escape stands in for html.escape (whose entity table the agent's start would pay):
    the same text for every character that matters and for random text."""
    import html
    import random
    rnd = random.Random(15)
    samples = ["", "plain", "<script>alert('x')</script>", 'a "b" & c', "&amp;", "<<>>&&''\"\"",
               "한글 <b>", "\x1b]0;x\x07"]
    samples += ["".join(rnd.choice("<>&\"'a é\n") for _ in range(rnd.randrange(30))) for _ in range(500)]
    for text in samples:
        assert world.escape(text) == html.escape(text), text
    body = world.site_for("<img src=x onerror=alert(1)>").body
    assert "<img" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body
