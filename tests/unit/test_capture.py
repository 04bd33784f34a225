"""The Packets view's choice of namespace and interface, and which of tcpdump's lines are notes
(pure: a LabState made by hand; the capture itself is tested in tests/app/test_packets.py)."""

from __future__ import annotations

from tutor.lab import HOST
from tutor.lab.capture import choose, first_interface, is_note
from tutor.lab.state import LabState, Link, NsState

ODD = "v\x1b[2J"


def _state() -> LabState:
    def ns(name, *links):
        return NsState(name, links={l: Link(l, name, i + 1) for i, l in enumerate(links)})
    return LabState(["red", "far"], {HOST: ns(HOST, "lo", "eth0", ODD), "red": ns("red", "lo", "veth-red"),
                                     "far": ns("far", "lo")})


def test_a_namespace_and_interface_are_chosen_by_name_or_as_shown():
    state = _state()
    assert choose(state, "red veth-red") == ("red", "veth-red")
    assert choose(state, "  red  ") == ("red", "veth-red")          # its first interface but lo
    assert choose(state, f"host {ODD}") == (HOST, ODD)
    assert choose(state, "host v^[[2J") == (HOST, ODD)               # typed as the view shows it
    assert first_interface(state, "far") is None


def test_a_wrong_choice_is_one_sentence_naming_what_there_is():
    state = _state()
    assert choose(state, "red eth9") == "there is no interface eth9 in red: it has lo, veth-red"
    assert choose(state, "blue eth0") == "there is no namespace blue in the lab: it has host, red, far"
    assert choose(state, "far") == "far has no interface to capture on but lo: type `far lo` for that one"
    assert choose(state, "") == choose(state, "a b c") == "type a namespace and one of its interfaces, e.g. `host eth0`"
    assert "\x1b" not in str(choose(state, "host nope"))               # the names it lists are sanitized


def test_a_wrong_choice_is_said_in_korean_with_the_names_as_they_are(monkeypatch):
    monkeypatch.setenv("TUTOR_LANG", "ko")
    state = _state()
    assert choose(state, "red eth9") == "red에 인터페이스 eth9가 없습니다: 있는 것은 lo, veth-red입니다"
    assert choose(state, "blue eth0") == "실습 환경에 네임스페이스 blue가 없습니다: 있는 것은 host, red, far입니다"
    assert choose(state, "far") == "far에는 lo 말고 캡처할 인터페이스가 없습니다: lo를 캡처하려면 `far lo`를 입력하세요"
    assert choose(state, "") == "네임스페이스와 그 인터페이스 하나를 입력하세요. 예: `host eth0`"


def test_tcpdump_notes_are_told_from_packets():
    assert is_note("listening on veth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes")
    assert is_note("tcpdump: verbose output suppressed, use -v[v]... for full protocol decode")
    assert is_note("3 packets captured") and is_note("0 packets dropped by kernel")
    assert is_note("[tutor] … 12 lines skipped: output came faster than it can be shown")
    assert not is_note("12:00:00.000000 IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, length 64")
