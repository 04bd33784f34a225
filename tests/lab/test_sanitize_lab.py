"""Names made in a real lab with terminal controls in them reach `tutor lab status` and
`tutor verify` visible and inert; `--json` still carries them exactly.

iproute2 and the kernel accept ESC, BEL, C1 and bidi characters in namespace and interface
names (an interface name may hold any byte but '/', ':' and whitespace, up to 15 of them).
"""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from labkit import TUTOR, running
from tutor.lab import client

pytestmark = pytest.mark.lab

NS_TITLE = "x\x1b]0;pwned\x07"          # OSC 0: retitles the window
NS_RESET = "y\x1bc\x1b#8"                # RIS, then DECALN (fills the screen with E)
PEER = "p\x1b#8\u202e"                  # the other end of veth0, with a bidi override
BRIDGE = "b\x1b]0;t\x1b\\\x9b2J"        # OSC ended by ST, then an 8-bit CSI erase
RAW = ("\x1b", "\x07", "\x9b", "\u202e")

LESSON = """\
---
id: hostile
title: Names with controls in them
---

## Two namespaces and a cable

```sh
ip netns add red
```

```check
netns red
peer veth0 with veth1 in red
```
"""


def tutor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TUTOR, *args], capture_output=True, text=True, timeout=60, check=False,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def hostile_lab(lab, tmp_path, monkeypatch, state_home):
    """A lab holding namespaces and interfaces with controls in their names, and a lesson
    whose checks fail quoting them."""
    script = (f"ip netns add $'{NS_TITLE}' && ip netns add $'{NS_RESET}'"
              f" && ip link add veth0 type veth peer name $'{PEER}'"
              f" && ip link add $'{BRIDGE}' type bridge")
    script = script.translate({0x1b: "\\e", 0x07: "\\a", 0x9b: "\\u009b", 0x202e: "\\u202e"})
    r = client.run(script, info=lab)
    assert r.returncode == 0, r.stderr
    assert set(running().namespaces) == {NS_TITLE, NS_RESET}
    (tmp_path / "lessons").mkdir()
    (tmp_path / "lessons" / "01-hostile.md").write_text(textwrap.dedent(LESSON))
    monkeypatch.setenv("TUTOR_LESSONS", str(tmp_path / "lessons"))
    return lab


def inert(out: str) -> bool:
    return not any(ch in out for ch in RAW)


def test_lab_status_shows_names_inert(hostile_lab):
    r = tutor("lab", "status")
    assert r.returncode == 0, r.stderr
    assert inert(r.stdout), r.stdout
    assert "x^[]0;pwned^G" in r.stdout and "y^[c^[#8" in r.stdout


def test_verify_shows_found_names_inert(hostile_lab):
    r = tutor("verify", "hostile")
    assert r.returncode == 1, r.stderr
    assert inert(r.stdout + r.stderr), r.stdout
    assert "(the lab has: x^[]0;pwned^G, y^[c^[#8)" in r.stdout
    assert "p^[#8\\u202e" in r.stdout          # the veth's other end, quoted by the peer check


def test_verify_json_keeps_exact_names(hostile_lab):
    r = tutor("verify", "hostile", "--json")
    assert r.returncode == 1, r.stderr
    assert inert(r.stdout), r.stdout            # JSON writes every one of them as \uXXXX
    found = [c["found"] for c in json.loads(r.stdout)["steps"][0]["checks"]]
    assert found[0] == f"there is no namespace red (the lab has: {NS_TITLE}, {NS_RESET})"
    assert PEER in found[1]


def test_shell_into_a_missing_namespace_quotes_names_inert(hostile_lab):
    r = tutor("shell", "-n", "red", "-c", "true")
    assert r.returncode == 2
    assert inert(r.stderr) and "x^[]0;pwned^G" in r.stderr, r.stderr
